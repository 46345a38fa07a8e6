/*
 * kernel.c — the kernel stage of the pipeline (ttp_kbuild.h): every rank
 * computes the projected Jacobian rows of its contiguous shard of samples,
 * the communicator's Gram builder (ttp_comm.gram) assembles and decomposes the Gram matrix, and
 * rank 0 receives the spectrum, the projections of the initial residual and
 * loss gradient, and the provenance that lets `predict` reuse the file.
 *
 * Every check that can fail on bad input runs before the Jacobian stage, on
 * every rank alike, so that a mistake costs nothing and no rank is left in a
 * collective.  Failures that can differ between ranks (an allocation, a
 * device) are agreed on before the next collective step.
 */
#include "ttp_jac.h"
#include "ttp_kbuild.h"
#include "ttp_net.h"
#include "ttp_text.h"

#include <cblas.h>
#include <dirent.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Samples per network batch in the Jacobian stage (each is C rows). */
#define KERNEL_SAMPLES_PER_BATCH 4

void ttp_kernel_opts_default(ttp_kernel_opts *o)
{
    memset(o, 0, sizeof *o);
    o->proj = TTP_PROJ_EXACT;
    /* predict's default since the first release: `kernel` and `predict`
     * given the same projection build the same kernel (and predict can
     * reuse it with --kernel) */
    o->proj_seed = 1;
    o->backend = "auto";
    o->block = 64;
    o->side = -1;
}

ttp_status ttp_kernel_opts_validate(ttp_ctx *ctx, const ttp_kernel_opts *o, int64_t d)
{
    if (o->proj != TTP_PROJ_AUTO && (o->proj < 0 || o->proj >= TTP_PROJ_KIND_COUNT))
        return TTP_ERR(ctx, TTP_ERR_ARG, "option proj: projection kind %d is unknown", (int)o->proj);
    const int projected = o->proj != TTP_PROJ_EXACT && o->proj != TTP_PROJ_AUTO;
    if (o->dproj < 0 || (projected && o->dproj == 0))
        return TTP_ERR(ctx, TTP_ERR_ARG,
                       "option dproj: projected dimension D′ = %lld: a %s projection needs a "
                       "positive count (at most D, the trainable weights)",
                       (long long)o->dproj, ttp_proj_kind_str(o->proj));
    if (projected && d > 0 && o->dproj > d)
        return TTP_ERR(
            ctx, TTP_ERR_ARG,
            "option dproj: projected dimension D′ = %lld exceeds the model's D = %lld trainable weights: "
            "a %s projection must reduce the dimension (set option proj to exact for G = J)",
            (long long)o->dproj, (long long)d, ttp_proj_kind_str(o->proj));
    if (o->backend && strcmp(o->backend, "cpu") != 0 && strcmp(o->backend, "cuda") != 0 &&
        strcmp(o->backend, "auto") != 0)
        return TTP_ERR(ctx, TTP_ERR_ARG, "option backend: '%s', expected cpu, cuda or auto", o->backend);
    if (o->block != 0 && (o->block < 1 || o->block > TTP_GRAM_MAX_BLOCK)) /* 0: the default 64 */
        return TTP_ERR(ctx, TTP_ERR_ARG,
                       "option block: ScaLAPACK block size %d is out of range: expected 1..%d "
                       "(typical 32-256; default 64)",
                       o->block, TTP_GRAM_MAX_BLOCK);
    if (o->top_k < 0)
        return TTP_ERR(ctx, TTP_ERR_ARG,
                       "option top_k: %lld, expected 0 (all eigenpairs) or a positive count",
                       (long long)o->top_k);
    if (!(o->mem_per_rank >= 0) || !isfinite(o->mem_per_rank))
        return TTP_ERR(ctx, TTP_ERR_ARG,
                       "option mem_per_rank: %g bytes, expected a positive size (0: MemAvailable)",
                       o->mem_per_rank);
    if (o->checkpoint_dir != NULL && o->checkpoint_dir[0] == '\0')
        return TTP_ERR(ctx, TTP_ERR_ARG, "option checkpoint_dir: empty, expected a directory");
    if (o->side < -1 || o->side > 1)
        return TTP_ERR(ctx, TTP_ERR_ARG, "option side: %d, expected -1 (auto), 0 (NC × NC) or 1 (D′ × D′)",
                       o->side);
    return TTP_OK;
}

void ttp_kernel_opts_resolve(ttp_kernel_opts *o, int64_t d)
{
    if (o->proj != TTP_PROJ_AUTO) return;
    const int64_t dp = o->dproj > 0 ? o->dproj : TTP_KERNEL_AUTO_DPROJ;
    /* Projecting pays only where the exact kernel would be the larger one. */
    if (d > 2 * dp) {
        o->proj = TTP_PROJ_KRON;
        o->dproj = dp;
    } else {
        o->proj = TTP_PROJ_EXACT;
    }
}

/* The outputs F0 and the Jacobian rows of samples [s0, s0+cnt) must be
 * finite: an overflow (inputs of 1e308, or weights that blow up) would
 * otherwise become a kernel file full of NaNs that its own reader refuses.
 * TTP_ERR_NUMERIC naming the first sample and the size of its inputs. */
static ttp_status check_finite_rows(ttp_ctx *ctx, const ttp_data *data, int64_t s0, int64_t cnt, int64_t C,
                                    int64_t K, const double *G, const double *f)
{
    for (int64_t i = 0; i < cnt; i++) {
        int bad = 0;
        for (int64_t c = 0; c < C && !bad; c++) bad = !isfinite(f[i * C + c]);
        for (int64_t r = 0; r < C * K && !bad; r++)
            bad = !isfinite(G[(size_t)(i * C) * (size_t)K + (size_t)r]);
        if (!bad) continue;
        double xmax = 0.0;
        const double *x = data->x + (size_t)(s0 + i) * (size_t)data->dim;
        for (int64_t j = 0; j < data->dim; j++)
            xmax = fabs(x[j]) > xmax || !isfinite(x[j]) ? fabs(x[j]) : xmax;
        return TTP_ERR(ctx, TTP_ERR_NUMERIC,
                       "sample %lld of the dataset gives a non-finite %s (its inputs reach |x| = %g): the "
                       "network overflows on these inputs; rescale the dataset (e.g. to [0, 1]) or check it",
                       (long long)(s0 + i), isfinite(f[i * C]) ? "Jacobian row" : "model output", xmax);
    }
    return TTP_OK;
}

/* ---- checkpoints (option checkpoint_dir) ----------------------------------
 * DIR/manifest.txt (rank 0): what the run is, one "key value" per line; a
 * run given a DIR whose manifest differs is refused naming the first
 * difference.  DIR/jac-r<rank>-b<block>.bin: one block of this rank's
 * Jacobian rows (G, F0, u0 of its samples); DIR/eigen-r<rank>.bin: the
 * decomposition's result as this rank holds it.  Each piece: a header with
 * the run's hash, the doubles, and a 64-bit FNV-1a checksum of everything
 * before it; written to a temporary name, fsync'ed and renamed
 * (ttp_text_commit), so a killed run leaves whole pieces or none. */

typedef struct ckpt_run {
    const char *dir;
    uint64_t hash;
    int rank;
} ckpt_run;

#define CKPT_MAGIC 0x31544b4350545454ULL /* "TTTPCKT1" */

static uint64_t fnv1a(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) h = (h ^ b[i]) * 0x100000001b3ULL;
    return h;
}

typedef struct ckpt_key {
    const char *name;
    char value[96];
} ckpt_key;

enum { CKPT_NKEYS = 16 };

/* What must be equal for a piece of one run to be a piece of another. */
static void ckpt_keys(const ttp_model *m, const ttp_data *d, const ttp_kernel_opts *o, const char *backend,
                      int64_t K, int P, ckpt_key *k)
{
    int i = 0;
#define KEY(nm, ...) (k[i].name = nm, snprintf(k[i].value, sizeof k[i].value, __VA_ARGS__), i++)
    KEY("format", "%d", 1);
    KEY("model_fingerprint", "%016llx", (unsigned long long)ttp_model_fingerprint(m));
    KEY("data_fingerprint", "%016llx", (unsigned long long)ttp_data_fingerprint(d));
    KEY("samples", "%lld", (long long)d->n);
    KEY("outputs", "%lld", (long long)m->nout);
    KEY("projection", "%s", ttp_proj_kind_str(o->proj));
    KEY("dproj", "%lld", (long long)K);
    KEY("projection_seed", "%llu", (unsigned long long)o->proj_seed);
    KEY("backend", "%s", backend);
    KEY("ranks", "%d", P);
    KEY("block", "%d", o->block > 0 ? o->block : 64);
    KEY("top_k", "%lld", (long long)o->top_k);
    KEY("vectors", "%d", o->want_vectors);
    KEY("theta", "%d", o->want_theta);
    KEY("side", "%d", o->side);
    KEY("assembly", "%s", ttp_gram_assembly_str(o->assembly));
#undef KEY
}

static char *ckpt_path(ttp_ctx *ctx, const char *dir, const char *fmt, int a, int b)
{
    size_t n = strlen(dir) + 64;
    char *p = malloc(n);
    if (p == NULL) {
        TTP_ERR(ctx, TTP_ERR_NOMEM, "checkpoint path");
        return NULL;
    }
    int u = snprintf(p, n, "%s/", dir);
    snprintf(p + u, n - (size_t)u, fmt, a, b);
    return p;
}

/* Compare DIR/manifest.txt with this run's keys: *found = 0 when absent. */
static ttp_status ckpt_manifest_check(ttp_ctx *ctx, const char *dir, const ckpt_key *k, int *found)
{
    char *path = ckpt_path(ctx, dir, "manifest.txt", 0, 0);
    if (path == NULL) return TTP_ERR_NOMEM;
    ttp_status st = TTP_OK;
    FILE *f = fopen(path, "r");
    *found = f != NULL;
    if (f == NULL) goto done;
    for (int i = 0; i < CKPT_NKEYS; i++) {
        char line[256], name[64], value[128];
        int ok = 0;
        rewind(f);
        while (fgets(line, sizeof line, f))
            if (sscanf(line, "%63s %127s", name, value) == 2 && strcmp(name, k[i].name) == 0) {
                ok = 1;
                break;
            }
        if (!ok || strcmp(value, k[i].value) != 0) {
            st = TTP_ERR(ctx, TTP_ERR_ARG,
                         "option checkpoint_dir: %s holds the checkpoints of a different run: its %s is %s, "
                         "this run's %s; resume with the same model, data and options, or give another "
                         "directory (or remove this one)",
                         path, k[i].name, ok ? value : "missing", k[i].value);
            break;
        }
    }
    fclose(f);
done:
    free(path);
    return st;
}

/* A killed run leaves the temporary file of the piece it was writing
 * ("<piece>.bin.tmp.<pid>"): remove them before the run starts writing. */
static void ckpt_remove_stale(const char *dir)
{
    DIR *dp = opendir(dir);
    if (dp == NULL) return;
    struct dirent *e;
    while ((e = readdir(dp)) != NULL) {
        if (strstr(e->d_name, ".bin.tmp.") == NULL && strstr(e->d_name, "manifest.txt.tmp.") == NULL)
            continue;
        size_t n = strlen(dir) + strlen(e->d_name) + 2;
        char *p = malloc(n);
        if (p == NULL) break;
        snprintf(p, n, "%s/%s", dir, e->d_name);
        remove(p);
        free(p);
    }
    closedir(dp);
}

static ttp_status ckpt_manifest_write(ttp_ctx *ctx, const char *dir, const ckpt_key *k)
{
    char *path = ckpt_path(ctx, dir, "manifest.txt", 0, 0);
    if (path == NULL) return TTP_ERR_NOMEM;
    ttp_text t;
    ttp_status st = ttp_text_open(ctx, path, "checkpoint manifest", &t);
    if (st == TTP_OK) {
        fprintf(t.f, "# ttpredict kernel checkpoint: the run these pieces belong to\n");
        for (int i = 0; i < CKPT_NKEYS; i++) fprintf(t.f, "%s %s\n", k[i].name, k[i].value);
        st = ttp_text_commit(ctx, &t);
    }
    free(path);
    return st;
}

/* A piece: header (magic, hash, rank, a, b, count of arrays), then per array
 * its length and doubles, then the checksum. */
typedef struct ckpt_arr {
    double *v;
    int64_t n;
} ckpt_arr;

static ttp_status ckpt_write(ttp_ctx *ctx, const ckpt_run *r, const char *fmt, int b, const ckpt_arr *a,
                             int na)
{
    char *path = ckpt_path(ctx, r->dir, fmt, r->rank, b);
    if (path == NULL) return TTP_ERR_NOMEM;
    ttp_text t;
    ttp_status st = ttp_text_open(ctx, path, "checkpoint", &t);
    if (st == TTP_OK) {
        uint64_t h = 0xcbf29ce484222325ULL;
        const uint64_t head[5] = {CKPT_MAGIC, r->hash, (uint64_t)r->rank, (uint64_t)b, (uint64_t)na};
        int ok = fwrite(head, sizeof head, 1, t.f) == 1;
        h = fnv1a(h, head, sizeof head);
        for (int i = 0; i < na && ok; i++) {
            ok = fwrite(&a[i].n, sizeof a[i].n, 1, t.f) == 1;
            h = fnv1a(h, &a[i].n, sizeof a[i].n);
            if (ok && a[i].n > 0) ok = fwrite(a[i].v, sizeof(double), (size_t)a[i].n, t.f) == (size_t)a[i].n;
            h = fnv1a(h, a[i].v, sizeof(double) * (size_t)a[i].n);
        }
        if (ok) ok = fwrite(&h, sizeof h, 1, t.f) == 1;
        st = ttp_text_commit(ctx, &t); /* reports a failed write (disk full) in plain words */
        if (st == TTP_OK && !ok) st = TTP_ERR(ctx, TTP_ERR_IO, "writing checkpoint %s failed", path);
    }
    free(path);
    return st;
}

/* Read a piece into arrays of the given lengths (a[i].n; a length of -1
 * takes the stored one into a new array).  *found = 0 when the file is
 * absent; a damaged or foreign piece is an error naming it. */
static ttp_status ckpt_read(ttp_ctx *ctx, const ckpt_run *r, const char *fmt, int b, ckpt_arr *a, int na,
                            int *found)
{
    char *path = ckpt_path(ctx, r->dir, fmt, r->rank, b);
    if (path == NULL) return TTP_ERR_NOMEM;
    ttp_status st = TTP_OK;
    FILE *f = fopen(path, "rb");
    *found = f != NULL;
    if (f == NULL) {
        free(path);
        return TTP_OK;
    }
    uint64_t h = 0xcbf29ce484222325ULL, head[5], sum = 0;
    int ok = fread(head, sizeof head, 1, f) == 1 && head[0] == CKPT_MAGIC && head[1] == r->hash &&
             head[2] == (uint64_t)r->rank && head[3] == (uint64_t)b && head[4] == (uint64_t)na;
    h = fnv1a(h, head, sizeof head);
    for (int i = 0; i < na && ok; i++) {
        int64_t n = 0;
        ok = fread(&n, sizeof n, 1, f) == 1 && n >= 0 && n <= ((int64_t)1 << 40) &&
             (a[i].n < 0 || n == a[i].n);
        if (!ok) break;
        h = fnv1a(h, &n, sizeof n);
        if (a[i].n < 0) {
            a[i].v = n > 0 ? ttp_calloc(ctx, (size_t)n, sizeof(double), "checkpointed result") : NULL;
            if (n > 0 && a[i].v == NULL) {
                st = TTP_ERR_NOMEM;
                break;
            }
            a[i].n = n;
        }
        if (n > 0) ok = fread(a[i].v, sizeof(double), (size_t)n, f) == (size_t)n;
        h = fnv1a(h, a[i].v, sizeof(double) * (size_t)n);
    }
    if (st == TTP_OK && ok) ok = fread(&sum, sizeof sum, 1, f) == 1 && sum == h && fgetc(f) == EOF;
    fclose(f);
    if (st == TTP_OK && !ok)
        st = TTP_ERR(ctx, TTP_ERR_FORMAT,
                     "checkpoint %s is damaged or from another run (header, length or checksum wrong): "
                     "remove it to have it recomputed",
                     path);
    free(path);
    return st;
}

/* Input checks, identical on every rank, before any heavy work. */
static ttp_status check_inputs(ttp_ctx *ctx, const ttp_comm *comm, const ttp_model *m, const ttp_data *d,
                               const ttp_kernel_opts *o)
{
    TTP_CALL(ctx, ttp_model_check_input(ctx, m, d->ndim, d->shape, "the kernel's dataset"));
    const int64_t N = d->n, C = m->nout, D = m->ntrainable;
    if (N < 1) return TTP_ERR(ctx, TTP_ERR_ARG, "the dataset has no samples");
    if (comm->size > N)
        return TTP_ERR(ctx, TTP_ERR_ARG,
                       "more ranks (%d) than samples (%lld): every rank needs at least one sample; run "
                       "with at most %lld ranks",
                       comm->size, (long long)N, (long long)N);
    if (D < 1) return TTP_ERR(ctx, TTP_ERR_ARG, "the model has no trainable parameters: its kernel is zero");
    TTP_CALL(ctx, ttp_kernel_opts_validate(ctx, o, D));
    const int64_t Kd = o->proj == TTP_PROJ_EXACT ? D : o->dproj;
    int64_t NC = 0;
    if (__builtin_mul_overflow(N, C, &NC) || NC > INT_MAX || Kd > INT_MAX)
        return TTP_ERR(ctx, TTP_ERR_UNSUPPORTED,
                       "N = %lld samples x C = %lld outputs rows and D′ = %lld columns: ScaLAPACK indexes "
                       "with 32-bit integers (at most %d); project to a smaller D′ or use a subset",
                       (long long)N, (long long)C, (long long)Kd, INT_MAX);
    if (o->want_theta || o->want_vectors) {
        /* Θ and the eigenvectors reach rank 0 in column pieces of NC values
         * (ScaLAPACK's 32-bit redistribution buffers): refused here, before
         * any work, when even one column cannot go. */
        int64_t w = 0;
        TTP_CALL(ctx, ttp_gram_gather_cols(ctx, NC, NC, 0, &w));
    }
    {
        /* Memory per rank before the heavy stages (ttp_plan_estimate): a run
         * that would not fit is refused with what would make it fit. */
        ttp_plan_in in = {N, comm->size, 0, 0, 0, 0.0};
        ttp_plan plan;
        TTP_CALL(ctx, ttp_plan_estimate(ctx, o, m, &in, &plan));
        TTP_CALL(ctx, ttp_plan_check(ctx, &plan));
    }
    if (d->y != NULL) {
        if (d->nclasses > C)
            return TTP_ERR(ctx, TTP_ERR_ARG,
                           "the dataset has %d classes but the model has %lld outputs: labels must index "
                           "the outputs (replace the model's head)",
                           d->nclasses, (long long)C);
    } else if (d->targets != NULL) {
        if (d->ntargets != C)
            return TTP_ERR(ctx, TTP_ERR_ARG,
                           "the dataset has %d targets per sample but the model has %lld "
                           "outputs",
                           d->ntargets, (long long)C);
    } else {
        return TTP_ERR(ctx, TTP_ERR_ARG,
                       "the dataset has neither labels nor targets: the kernel's residual projections "
                       "need them");
    }
    return TTP_OK;
}

ttp_status ttp_kernel_build(ttp_ctx *ctx, const ttp_comm *comm, const ttp_model *model, const ttp_data *data,
                            const ttp_kernel_opts *opts, ttp_kernel **out)
{
    ttp_status st = TTP_OK;
    const double t_start = ttp_time();
    ttp_kernel *k = NULL;
    ttp_jac_plan *plan = NULL;
    ttp_net *net = NULL;
    ttp_gram *gram = NULL;
    ttp_gram_result res;
    double *G = NULL, *f0 = NULL, *u0 = NULL, *R = NULL, *grad = NULL, *Rall = NULL, *lvec = NULL;
    memset(&res, 0, sizeof res);
    *out = NULL;

    /* The automatic projection is settled here for a caller that left it. */
    ttp_kernel_opts resolved = *opts;
    ttp_kernel_opts_resolve(&resolved, model->ntrainable);
    opts = &resolved;
    const int block = opts->block > 0 ? opts->block : 64;
    if (comm->gram == NULL)
        return TTP_ERR(ctx, TTP_ERR_UNSUPPORTED,
                       "this communicator has no distributed Gram builder (ttp_comm.gram is NULL): "
                       "the kernel stage needs one, e.g. from ttp_mpi_comm (mpi/ttp_mpi.h), even on one "
                       "rank");
    const ttp_gram_ops *gops = comm->gram;
    TTP_CALL(ctx, check_inputs(ctx, comm, model, data, opts));

    const int64_t N = data->n, C = model->nout;
    const int rank = comm->rank, P = comm->size;
    const int nrhs = data->y ? 2 : 1;
    int64_t lo, hi;
    ttp_shard(N, rank, P, &lo, &hi);
    const int64_t ns = hi - lo, nrow = ns * C;

    /* ---- plan and buffers (a device may exist on one rank only) -------- */
    st = ttp_jac_plan_create(ctx, model, opts->proj, opts->dproj, opts->proj_seed,
                             opts->backend ? opts->backend : "auto", &plan);
    /* one device per rank of a node: the node-local rank picks it */
    if (st == TTP_OK)
        st = ttp_jac_plan_set_device(ctx, plan, comm->node_rank, comm->node_size, opts->backend);
    if (st != TTP_OK) ttp_error_trace(ctx, __FILE__, __LINE__, __func__);
    TTP_CALL_GOTO(ctx, st, done, ttp_comm_agree(ctx, comm, st, "Jacobian set-up"));
    st = ttp_net_create(ctx, model, KERNEL_SAMPLES_PER_BATCH * C, &net);
    /* The structured sketch splits D′ over the layers by their measured share
     * of Θ (the head can carry most of it while holding few weights); every
     * rank measures it on the same first samples, so every rank makes the
     * same split. */
    if (st == TTP_OK && opts->proj == TTP_PROJ_KRON)
        st = ttp_jac_plan_calibrate(ctx, plan, net, model->w, data->x, N < 10 ? N : 10);
    if (st != TTP_OK) ttp_error_trace(ctx, __FILE__, __LINE__, __func__);
    TTP_CALL_GOTO(ctx, st, done, ttp_comm_agree(ctx, comm, st, "Jacobian set-up"));
    const int64_t K = ttp_jac_plan_dim(plan);
    TTP_ALLOC(ctx, st, agreed, G, (size_t)nrow * (size_t)K, "this rank's rows of G = J P");
    TTP_ALLOC(ctx, st, agreed, f0, (size_t)N * C, "F0");
    TTP_ALLOC(ctx, st, agreed, u0, (size_t)N * C, "u0");
    TTP_ALLOC(ctx, st, agreed, R, (size_t)nrow * nrhs, "residual and gradient rows");
    TTP_ALLOC(ctx, st, agreed, grad, (size_t)nrow, "loss gradient rows");
    TTP_CALL_GOTO(ctx, st, agreed, ttp_kernel_create(ctx, &k));
agreed:
    TTP_CALL_GOTO(ctx, st, done, ttp_comm_agree(ctx, comm, st, "Jacobian set-up"));

    /* ---- checkpoints: the manifest, and a finished eigen stage --------- */
    ckpt_run ck = {opts->checkpoint_dir, 0, rank};
    int have_eig = 0;
    double en[2] = {0.0, 0.0}, sec_jac = 0.0, sec_load = 0.0;
    if (ck.dir) {
        ckpt_key keys[CKPT_NKEYS];
        ckpt_keys(model, data, opts, ttp_jac_plan_backend(plan), K, P, keys);
        uint64_t h = 0xcbf29ce484222325ULL;
        for (int i = 0; i < CKPT_NKEYS; i++) {
            h = fnv1a(h, keys[i].name, strlen(keys[i].name) + 1);
            h = fnv1a(h, keys[i].value, strlen(keys[i].value) + 1);
        }
        ck.hash = h;
        if (rank == 0) {
            int found = 0;
            st = ttp_mkdir(ctx, ck.dir);
            if (st == TTP_OK) st = ckpt_manifest_check(ctx, ck.dir, keys, &found);
            if (st == TTP_OK && !found && opts->resume_required)
                st = TTP_ERR(
                    ctx, TTP_ERR_ARG,
                    "option checkpoint_dir: %s holds no checkpointed run (no manifest.txt) to resume; "
                    "start the run with --checkpoint instead",
                    ck.dir);
            if (st == TTP_OK && found) ckpt_remove_stale(ck.dir);
            if (st == TTP_OK && !found) st = ckpt_manifest_write(ctx, ck.dir, keys);
        }
        TTP_CALL_GOTO(ctx, st, done, ttp_comm_agree(ctx, comm, st, "checkpoint manifest"));
        /* the eigen stage is taken from the checkpoint only when every rank has its piece */
        double scal[12];
        ckpt_arr arr[7] = {{scal, 12}, {NULL, -1}, {NULL, -1}, {NULL, -1},
                           {NULL, -1}, {NULL, -1}, {NULL, -1}};
        int found = 0;
        const ttp_status rst = ckpt_read(ctx, &ck, "eigen-r%d.bin", 0, arr, 7, &found);
        int miss = rst != TTP_OK || !found;
        st = comm->allreduce_max_int(comm, &miss, ctx); /* every rank, whatever it found */
        if (st == TTP_OK) st = rst;
        if (st == TTP_OK && !miss) {
            have_eig = 1;
            res.side = (int)scal[0];
            res.dim = (int64_t)scal[1];
            res.ncomp = (int64_t)scal[2];
            res.neig = (int64_t)scal[3];
            res.lambda_max = scal[4];
            res.lambda_min_kept = scal[5];
            res.trace = scal[6];
            res.assembly = (ttp_gram_assembly)(int)scal[7];
            en[0] = scal[8];
            en[1] = scal[9];
            res.sec_gram = scal[10];
            res.sec_eig = scal[11];
            res.eigval = arr[1].v;
            res.eigvec = arr[2].v;
            res.proj = arr[3].v;
            res.theta = arr[4].v;
            arr[1].v = arr[2].v = arr[3].v = arr[4].v = NULL;
            if (rank == 0) {
                if (arr[5].n != N * C || arr[6].n != N * C)
                    st =
                        TTP_ERR(ctx, TTP_ERR_FORMAT, "checkpoint eigen-r0.bin in %s lacks F0 and u0", ck.dir);
                else {
                    free(f0);
                    free(u0);
                    f0 = arr[5].v;
                    u0 = arr[6].v;
                    arr[5].v = arr[6].v = NULL;
                }
            }
        }
        for (int i = 1; i < 7; i++) free(arr[i].v);
        TTP_CALL_GOTO(ctx, st, done, ttp_comm_agree(ctx, comm, st, "checkpoint of the eigen stage"));
        if (have_eig) ttp_progress(ctx, "gram+eigen (from the checkpoint)", 1.0, ttp_time());
    }
    if (have_eig) goto result;

    /* ---- Jacobian rows of this rank's samples -------------------------- */
    const double t_jac = ttp_time();
    {
        /* 20 pieces for the progress line; a device wants long blocks: 4 */
        const int64_t pieces = strcmp(ttp_jac_plan_backend(plan), "cuda") == 0 ? 4 : 20;
        const int64_t chunk = ns / pieces > KERNEL_SAMPLES_PER_BATCH ? ns / pieces : KERNEL_SAMPLES_PER_BATCH;
        int computed = 0, b = 0;
        for (int64_t s = 0; s < ns && st == TTP_OK; s += chunk, b++) {
            const int64_t cnt = s + chunk < ns ? chunk : ns - s;
            double *Gb = G + (size_t)(s * C) * (size_t)K, *fb = f0 + (size_t)(lo + s) * C,
                   *ub = u0 + (size_t)(lo + s) * C;
            ckpt_arr arr[3] = {{Gb, cnt * C * K}, {fb, cnt * C}, {ub, cnt * C}};
            int found = 0;
            if (ck.dir) st = ckpt_read(ctx, &ck, "jac-r%d-b%d.bin", b, arr, 3, &found);
            if (st == TTP_OK && !found) {
                st = ttp_jac_rows(ctx, plan, net, model->w, data->x + (size_t)(lo + s) * (size_t)data->dim,
                                  cnt, Gb, fb, ub);
                if (st != TTP_OK) ttp_error_trace(ctx, __FILE__, __LINE__, __func__);
                if (st == TTP_OK) st = check_finite_rows(ctx, data, lo + s, cnt, C, K, Gb, fb);
                if (st == TTP_OK && ck.dir) {
                    st = ckpt_write(ctx, &ck, "jac-r%d-b%d.bin", b, arr, 3);
                    computed++;
                    if (st == TTP_OK && opts->stop_after_block > 0 && computed >= opts->stop_after_block)
                        st = TTP_ERR(ctx, TTP_ERR_IO,
                                     "stopped after %d checkpointed Jacobian block(s), as the test hook "
                                     "TTP_TEST_KILL_AFTER_BLOCK asks",
                                     computed);
                }
            }
            ttp_progress(ctx, "jacobian", (double)(s + cnt) / (double)ns, t_jac);
        }
    }
    TTP_CALL_GOTO(ctx, st, done, ttp_comm_agree(ctx, comm, st, "Jacobian"));
    sec_jac = ttp_time() - t_jac;

    /* ---- residual F0 − Y and CE gradient softmax(F0) − onehot ---------- */
    {
        const double *f = f0 + (size_t)lo * C;
        if (data->y) ttp_loss_eval(TTP_LOSS_CE, f, data->y + lo, NULL, ns, (int)C, grad, NULL);
        for (int64_t i = 0; i < ns; i++)
            for (int64_t c = 0; c < C; c++) {
                const int64_t row = i * C + c;
                double y = data->y ? (data->y[lo + i] == c ? 1.0 : 0.0)
                                   : data->targets[(size_t)(lo + i) * data->ntargets + c];
                double r = f[row] - y;
                R[row * nrhs] = r;
                en[0] += r * r;
                if (nrhs > 1) {
                    R[row * nrhs + 1] = grad[row];
                    en[1] += grad[row] * grad[row];
                }
            }
    }
    /* Direct path: the top pairs come from Θ on rank 0, which then needs
     * every rank's residual rows (NC·nrhs values, small next to Θ). */
    const int direct = opts->direct_k > 0;
    if (direct) {
        TTP_ALLOC(ctx, st, agreed_d, Rall, (size_t)(N * C) * nrhs, "residual rows of every rank");
        memcpy(Rall + (size_t)(lo * C) * nrhs, R, sizeof *R * (size_t)nrow * nrhs);
    agreed_d:
        TTP_CALL_GOTO(ctx, st, done, ttp_comm_agree(ctx, comm, st, "residual rows"));
        TTP_CALL_GOTO(ctx, st, done, comm->allreduce_sum(comm, Rall, N * C * nrhs, ctx));
    }
    /* F0 and u0 whole on every rank (NC values: small next to G). */
    TTP_CALL_GOTO(ctx, st, done, comm->allreduce_sum(comm, f0, N * C, ctx));
    TTP_CALL_GOTO(ctx, st, done, comm->allreduce_sum(comm, u0, N * C, ctx));
    TTP_CALL_GOTO(ctx, st, done, comm->allreduce_sum(comm, en, 2, ctx));
    free(grad);
    grad = NULL;

    /* ---- Gram matrix and eigenpairs ------------------------------------ */
    const double t_gram = ttp_time();
    /* G is handed over: kept as the equal-block rows where it already is
     * them (one rank), else moved in pieces, never held twice. */
    TTP_CALL_GOTO(ctx, st, done,
                  gops->load_owned(ctx, comm, block, N * C, K, lo * C, nrow, &G, nrhs, R, &gram));
    sec_load = ttp_time() - t_gram;
    free(R);
    R = NULL;
    ttp_gram_opts go = {
        opts->top_k, opts->want_vectors, opts->want_theta, opts->side, 0.0, opts->assembly, 0, 0};
    if (direct) { /* Θ itself, on rank 0: no decomposition */
        go.top_k = 0;
        go.want_vectors = 0;
        go.want_theta = 1;
        go.side = 0;
        go.no_eig = 1;
    }
    TTP_CALL_GOTO(ctx, st, done, gops->decompose(ctx, gram, &go, &res));
    gops->destroy(&gram);
    if (direct) {
        /* the top of the spectrum and the residual's energies on it, by
         * Lanczos on rank 0; the kept pairs are those the eigen path keeps
         * (λ > TTP_GRAM_REL_TOL·λmax·NC) */
        const double t_lz = ttp_time();
        const int64_t NC = N * C, kk = opts->direct_k < NC ? opts->direct_k : NC;
        int64_t nconv = 0, iters = 0;
        double nk = 0.0;
        if (rank == 0) {
            TTP_ALLOC(ctx, st, agreed_l, res.eigval, (size_t)kk, "top eigenvalues");
            TTP_ALLOC(ctx, st, agreed_l, lvec, (size_t)NC * (size_t)kk, "top eigenvectors");
            TTP_ALLOC(ctx, st, agreed_l, res.proj, (size_t)kk * nrhs, "projections");
            TTP_CALL_GOTO(ctx, st, agreed_l,
                          ttp_kernel_top_eigs(ctx, res.theta, NC, kk, TTP_KERNEL_LANCZOS_TOL, res.eigval,
                                              lvec, &nconv, &iters));
            int64_t keep = 0;
            while (keep < nconv && res.eigval[0] > 0 &&
                   res.eigval[keep] > TTP_GRAM_REL_TOL * res.eigval[0] * (double)NC)
                keep++;
            /* proj is nrhs × neig row-major: p[r, j] = v_jᵀ R[:, r] */
            for (int r = 0; r < nrhs; r++)
                cblas_dgemv(CblasRowMajor, CblasTrans, (int)NC, (int)keep, 1.0, lvec, (int)kk, Rall + r, nrhs,
                            0.0, res.proj + (size_t)r * (size_t)keep, 1);
            nk = (double)keep;
        }
    agreed_l:
        TTP_CALL_GOTO(ctx, st, done, ttp_comm_agree(ctx, comm, st, "Lanczos"));
        TTP_CALL_GOTO(ctx, st, done, comm->allreduce_sum(comm, &nk, 1, ctx));
        res.neig = res.ncomp = (int64_t)nk;
        res.sec_eig = ttp_time() - t_lz;
        free(lvec);
        lvec = NULL;
    }
    ttp_progress(ctx, "gram+eigen", 1.0, t_gram);
    if (ck.dir) {
        /* the eigen stage, as this rank holds it (the arrays on rank 0) */
        double scal[12] = {res.side,
                           (double)res.dim,
                           (double)res.ncomp,
                           (double)res.neig,
                           res.lambda_max,
                           res.lambda_min_kept,
                           res.trace,
                           (double)res.assembly,
                           en[0],
                           en[1],
                           res.sec_gram,
                           res.sec_eig};
        const int r0 = rank == 0;
        ckpt_arr arr[7] = {{scal, 12},
                           {res.eigval, res.eigval ? res.neig : 0},
                           {res.eigvec, res.eigvec ? N * C * res.neig : 0},
                           {res.proj, res.proj ? nrhs * res.neig : 0},
                           {res.theta, res.theta ? N * C * N * C : 0},
                           {f0, r0 ? N * C : 0},
                           {u0, r0 ? N * C : 0}};
        st = ckpt_write(ctx, &ck, "eigen-r%d.bin", 0, arr, 7);
        TTP_CALL_GOTO(ctx, st, done, ttp_comm_agree(ctx, comm, st, "checkpoint of the eigen stage"));
    }

    /* ---- the result ----------------------------------------------------- */
result:
    k->n = N;
    k->c = (int)C;
    k->d = model->ntrainable;
    k->dproj = K;
    k->proj = ttp_jac_plan_kind(plan);
    k->seed = opts->proj_seed;
    snprintf(k->backend, sizeof k->backend, "%s", ttp_jac_plan_backend(plan));
    k->side = res.side;
    k->neig = res.neig;
    k->trace = res.trace;
    k->res_energy = en[0];
    k->grad_energy = data->y ? en[1] : 0.0;
    k->model_fp = ttp_model_fingerprint(model);
    k->data_fp = ttp_data_fingerprint(data);
    snprintf(k->model_path, sizeof k->model_path, "%s", opts->model_path ? opts->model_path : "");
    ttp_model_trainable_names(model, k->trainable, sizeof k->trainable);
    snprintf(k->data_path, sizeof k->data_path, "%s", opts->data_path ? opts->data_path : "");
    k->nranks = P;
    snprintf(k->assembly, sizeof k->assembly, "%s", ttp_gram_assembly_str(res.assembly));
    if (rank == 0) {
        k->f0 = f0;
        k->u0 = u0;
        f0 = u0 = NULL;
        k->eigval = res.eigval;
        k->eigvec = res.eigvec;
        k->theta = res.theta;
        res.eigval = res.eigvec = res.theta = NULL;
        TTP_ALLOC(ctx, st, agreed_r, k->p_res, res.neig, "p_res");
        for (int64_t j = 0; j < res.neig; j++) k->p_res[j] = res.proj[j];
        if (nrhs > 1) {
            TTP_ALLOC(ctx, st, agreed_r, k->p_grad, res.neig, "p_grad");
            for (int64_t j = 0; j < res.neig; j++) k->p_grad[j] = res.proj[res.neig + j];
        }
        if (data->y) {
            TTP_ALLOC(ctx, st, agreed_r, k->labels, N, "labels");
            memcpy(k->labels, data->y, sizeof *k->labels * (size_t)N);
        } else {
            TTP_ALLOC(ctx, st, agreed_r, k->targets, (size_t)N * data->ntargets, "targets");
            memcpy(k->targets, data->targets, sizeof *k->targets * (size_t)N * data->ntargets);
            k->ntargets = data->ntargets;
        }
    }
agreed_r:
    TTP_CALL_GOTO(ctx, st, done, ttp_comm_agree(ctx, comm, st, "kernel result"));
    {
        /* stage seconds and peak memory: the maximum over ranks */
        /* the load (G into the Gram's row blocks) is part of the Gram stage */
        double sec[5] = {sec_jac, sec_load + res.sec_gram, res.sec_eig, ttp_time() - t_start,
                         (double)ttp_peak_rss()};
        TTP_CALL_GOTO(ctx, st, done, comm->allreduce_max(comm, sec, 5, ctx));
        k->sec_jac = sec[0];
        k->sec_gram = sec[1];
        k->sec_eig = sec[2];
        k->sec_total = sec[3];
        k->peak_rss_max = (int64_t)sec[4]; /* bytes: exact in a double below 2^53 */
    }
    *out = k;
    k = NULL;
done:
    if (gram) comm->gram->destroy(&gram);
    ttp_gram_result_clear(&res);
    ttp_net_destroy(&net);
    ttp_jac_plan_destroy(&plan);
    ttp_kernel_destroy(&k);
    free(G);
    free(f0);
    free(u0);
    free(R);
    free(grad);
    free(Rall);
    free(lvec);
    return st;
}

ttp_status ttp_kernel_write_json(ttp_ctx *ctx, const char *path, const ttp_kernel *k, int64_t d,
                                 const char *out, int nprow, int npcol)
{
    const double lmax = k->neig > 0 ? k->eigval[0] : 0.0, lmin = k->neig > 0 ? k->eigval[k->neig - 1] : 0.0;
    ttp_json *j = NULL;
    TTP_CALL(ctx, ttp_json_open(ctx, path, &j));
    ttp_json_str(j, "command", "kernel");
    ttp_json_str(j, "model", k->model_path);
    ttp_json_str(j, "data", k->data_path);
    ttp_json_str(j, "out", out);
    ttp_json_int(j, "N", k->n);
    ttp_json_int(j, "C", k->c);
    ttp_json_int(j, "D", d);
    ttp_json_str(j, "trainable_layers", k->trainable);
    ttp_json_int(j, "Dproj", k->dproj);
    ttp_json_str(j, "projection", ttp_proj_kind_str(k->proj));
    ttp_json_str(j, "backend", k->backend);
    ttp_json_int(j, "seed", (int64_t)k->seed);
    ttp_json_str(j, "side", k->side == 0 ? "nc" : "dproj");
    ttp_json_int(j, "ranks", k->nranks);
    ttp_json_int(j, "grid_rows", nprow);
    ttp_json_int(j, "grid_cols", npcol);
    ttp_json_str(j, "assembly", k->assembly);
    ttp_json_num(j, "trace", k->trace);
    ttp_json_int(j, "kept_eigenvalues", k->neig);
    ttp_json_num(j, "largest_eigenvalue", lmax);
    ttp_json_num(j, "smallest_kept_eigenvalue", lmin);
    ttp_json_num(j, "residual_energy", k->res_energy);
    ttp_json_num(j, "gradient_energy", k->grad_energy);
    ttp_json_begin_object(j, "seconds");
    ttp_json_num(j, "jacobian", k->sec_jac);
    ttp_json_num(j, "gram", k->sec_gram);
    ttp_json_num(j, "eigen", k->sec_eig);
    ttp_json_num(j, "total", k->sec_total);
    ttp_json_end_object(j);
    ttp_json_int(j, "peak_memory_per_rank_bytes", k->peak_rss_max);
    return ttp_json_close(ctx, &j);
}

ttp_status ttp_kernel_factor(ttp_ctx *ctx, const ttp_comm *comm, const ttp_model *model, const ttp_data *data,
                             const ttp_kernel_opts *opts, ttp_kernel_rows *out)
{
    ttp_status st = TTP_OK;
    ttp_jac_plan *plan = NULL;
    ttp_net *net = NULL;
    double *G = NULL, *f0 = NULL, *u0 = NULL;
    memset(out, 0, sizeof *out);
    /* the same settled options, plan and calibration as ttp_kernel_build */
    ttp_kernel_opts resolved = *opts;
    ttp_kernel_opts_resolve(&resolved, model->ntrainable);
    opts = &resolved;
    TTP_CALL(ctx, check_inputs(ctx, comm, model, data, opts));
    const int64_t N = data->n, C = model->nout;
    int64_t lo, hi;
    ttp_shard(N, comm->rank, comm->size, &lo, &hi);
    st = ttp_jac_plan_create(ctx, model, opts->proj, opts->dproj, opts->proj_seed,
                             opts->backend ? opts->backend : "auto", &plan);
    if (st == TTP_OK)
        st = ttp_jac_plan_set_device(ctx, plan, comm->node_rank, comm->node_size, opts->backend);
    if (st == TTP_OK) st = ttp_net_create(ctx, model, KERNEL_SAMPLES_PER_BATCH * C, &net);
    if (st == TTP_OK && opts->proj == TTP_PROJ_KRON)
        st = ttp_jac_plan_calibrate(ctx, plan, net, model->w, data->x, N < 10 ? N : 10);
    if (st != TTP_OK) ttp_error_trace(ctx, __FILE__, __LINE__, __func__);
    TTP_CALL_GOTO(ctx, st, done, ttp_comm_agree(ctx, comm, st, "Jacobian set-up"));
    const int64_t K = ttp_jac_plan_dim(plan);
    /* every rank holds the whole (zeroed) G and fills its shard's rows; one
     * sum brings it to every rank (NC·D′ values, the size of one G) */
    double *Gs = NULL;
    TTP_ALLOC(ctx, st, agreed, G, (size_t)N * C * (size_t)K, "G = J P");
    TTP_ALLOC(ctx, st, agreed, f0, (size_t)N * C, "F0");
    TTP_ALLOC(ctx, st, agreed, u0, (size_t)N * C, "u0");
    memset(G, 0, sizeof *G * (size_t)N * C * (size_t)K);
    memset(f0, 0, sizeof *f0 * (size_t)N * C);
    memset(u0, 0, sizeof *u0 * (size_t)N * C);
    Gs = G + (size_t)(lo * C) * (size_t)K;
    /* the device takes the whole shard in one call (it blocks by memory) */
    const int64_t per = strcmp(ttp_jac_plan_backend(plan), "cuda") == 0 ? (hi - lo > 0 ? hi - lo : 1)
                                                                        : KERNEL_SAMPLES_PER_BATCH;
    for (int64_t s = 0; s < hi - lo && st == TTP_OK; s += per) {
        const int64_t cnt = s + per < hi - lo ? per : hi - lo - s;
        st = ttp_jac_rows(ctx, plan, net, model->w, data->x + (size_t)(lo + s) * (size_t)data->dim, cnt,
                          Gs + (size_t)(s * C) * (size_t)K, f0 + (size_t)(lo + s) * C,
                          u0 + (size_t)(lo + s) * C);
        if (st == TTP_OK)
            st = check_finite_rows(ctx, data, lo + s, cnt, C, K, Gs + (size_t)(s * C) * (size_t)K,
                                   f0 + (size_t)(lo + s) * C);
        if (st != TTP_OK) ttp_error_trace(ctx, __FILE__, __LINE__, __func__);
    }
agreed:
    TTP_CALL_GOTO(ctx, st, done, ttp_comm_agree(ctx, comm, st, "Jacobian"));
    TTP_CALL_GOTO(ctx, st, done, comm->allreduce_sum(comm, G, N * C * K, ctx));
    TTP_CALL_GOTO(ctx, st, done, comm->allreduce_sum(comm, f0, N * C, ctx));
    TTP_CALL_GOTO(ctx, st, done, comm->allreduce_sum(comm, u0, N * C, ctx));
    out->n = N, out->c = (int)C, out->k = K;
    out->g = G, out->f0 = f0, out->u0 = u0;
    G = f0 = u0 = NULL;
done:
    ttp_net_destroy(&net);
    ttp_jac_plan_destroy(&plan);
    free(G), free(f0), free(u0);
    return st;
}

void ttp_kernel_rows_clear(ttp_kernel_rows *r)
{
    free(r->g), free(r->f0), free(r->u0);
    memset(r, 0, sizeof *r);
}
