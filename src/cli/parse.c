/*
 * parse.c — option-value parsing for the command line.  Every failure names
 * the option, the value given and what was expected.
 */
#include "cli.h"
#include "ttp_kbuild.h"
#include "ttp_predict.h"
#include "ttp_sim.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

ttp_status ttp_cli_double(ttp_ctx *ctx, const char *opt, const char *val, double lo, int lo_incl, double hi,
                          double *out)
{
    char *end = NULL;
    if (val == NULL || *val == '\0')
        return TTP_ERR(ctx, TTP_ERR_ARG, "option %s: missing value, expected a number", opt);
    errno = 0;
    double v = strtod(val, &end);
    if (errno != 0 || end == val || *end != '\0' || !isfinite(v))
        return TTP_ERR(ctx, TTP_ERR_ARG, "option %s: '%s' is not a number", opt, val);
    if ((lo_incl ? v < lo : v <= lo) || v > hi)
        return TTP_ERR(ctx, TTP_ERR_ARG, "option %s: %s is out of range, expected a value in %s%g, %g]", opt,
                       val, lo_incl ? "[" : "(", lo, hi);
    *out = v;
    return TTP_OK;
}

ttp_status ttp_cli_int(ttp_ctx *ctx, const char *opt, const char *val, int64_t lo, int64_t hi, int64_t *out)
{
    char *end = NULL;
    if (val == NULL || *val == '\0')
        return TTP_ERR(ctx, TTP_ERR_ARG, "option %s: missing value, expected an integer", opt);
    errno = 0;
    long long v = strtoll(val, &end, 10);
    if (errno != 0 || end == val || *end != '\0')
        return TTP_ERR(ctx, TTP_ERR_ARG, "option %s: '%s' is not an integer", opt, val);
    if (v < lo || v > hi)
        return TTP_ERR(ctx, TTP_ERR_ARG, "option %s: %s is out of range, expected an integer in [%lld, %lld]",
                       opt, val, (long long)lo, (long long)hi);
    *out = (int64_t)v;
    return TTP_OK;
}

int ttp_cli_test_stop_after_block(void)
{
    const char *v = getenv("TTP_TEST_KILL_AFTER_BLOCK");
    return v ? atoi(v) : 0;
}

ttp_status ttp_cli_bytes(ttp_ctx *ctx, const char *opt, const char *val, double *out)
{
    char *end = NULL;
    if (val == NULL || *val == '\0')
        return TTP_ERR(ctx, TTP_ERR_ARG, "option %s: missing value, expected a size such as 8G", opt);
    errno = 0;
    double v = strtod(val, &end);
    double mul = 1.0;
    if (end != val && *end != '\0' && end[1] == '\0') {
        switch (toupper((unsigned char)*end)) {
        case 'K': mul = 1024.0; break;
        case 'M': mul = 1048576.0; break;
        case 'G': mul = 1073741824.0; break;
        case 'T': mul = 1099511627776.0; break;
        default: mul = 0.0;
        }
        if (mul > 0) end++;
    }
    if (errno != 0 || end == val || *end != '\0' || !isfinite(v) || !(v > 0))
        return TTP_ERR(ctx, TTP_ERR_ARG,
                       "option %s: '%s', expected a positive size in bytes with an optional K, M, G or T "
                       "suffix (e.g. 8G)",
                       opt, val);
    *out = v * mul;
    return TTP_OK;
}

/* Split a comma-separated list and hand each item to `one`. */
static ttp_status each_item(ttp_ctx *ctx, const char *opt, const char *val, int cap, int *n,
                            ttp_status (*one)(ttp_ctx *, const char *, const char *, void *, int), void *arg)
{
    char buf[4096];
    if (val == NULL || *val == '\0')
        return TTP_ERR(ctx, TTP_ERR_ARG, "option %s: missing value, expected a comma-separated list", opt);
    if (strlen(val) >= sizeof buf)
        return TTP_ERR(ctx, TTP_ERR_ARG, "option %s: list too long (over %zu characters)", opt,
                       sizeof buf - 1);
    strcpy(buf, val);
    int k = 0;
    char *save = NULL;
    for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        if (k >= cap) return TTP_ERR(ctx, TTP_ERR_ARG, "option %s: more than %d values given", opt, cap);
        TTP_CALL(ctx, one(ctx, opt, tok, arg, k));
        k++;
    }
    if (k == 0) return TTP_ERR(ctx, TTP_ERR_ARG, "option %s: empty list", opt);
    *n = k;
    return TTP_OK;
}

typedef struct {
    double lo, hi;
    int lo_incl;
    double *out;
} dl_arg;
typedef struct {
    int64_t lo, hi;
    int64_t *out;
} il_arg;

static ttp_status one_double(ttp_ctx *ctx, const char *opt, const char *tok, void *a, int k)
{
    dl_arg *d = a;
    return ttp_cli_double(ctx, opt, tok, d->lo, d->lo_incl, d->hi, &d->out[k]);
}

static ttp_status one_int(ttp_ctx *ctx, const char *opt, const char *tok, void *a, int k)
{
    il_arg *d = a;
    return ttp_cli_int(ctx, opt, tok, d->lo, d->hi, &d->out[k]);
}

ttp_status ttp_cli_double_list(ttp_ctx *ctx, const char *opt, const char *val, double lo, int lo_incl,
                               double hi, double *out, int cap, int *n)
{
    dl_arg a = {lo, hi, lo_incl, out};
    return each_item(ctx, opt, val, cap, n, one_double, &a);
}

ttp_status ttp_cli_int_list(ttp_ctx *ctx, const char *opt, const char *val, int64_t lo, int64_t hi,
                            int64_t *out, int cap, int *n)
{
    il_arg a = {lo, hi, out};
    return each_item(ctx, opt, val, cap, n, one_int, &a);
}

typedef struct {
    int64_t lo, hi;
    int *out;
    int cap, n;
} rl_arg;

static ttp_status one_range(ttp_ctx *ctx, const char *opt, const char *tok, void *arg, int k)
{
    rl_arg *r = arg;
    (void)k;
    char a[64];
    const char *dash = strchr(tok + (tok[0] == '-'), '-');
    int64_t from, to;
    if (dash == NULL) {
        TTP_CALL(ctx, ttp_cli_int(ctx, opt, tok, r->lo, r->hi, &from));
        to = from;
    } else {
        size_t len = (size_t)(dash - tok);
        if (len >= sizeof a) return TTP_ERR(ctx, TTP_ERR_ARG, "option %s: '%s' is not a range A-B", opt, tok);
        memcpy(a, tok, len);
        a[len] = '\0';
        TTP_CALL(ctx, ttp_cli_int(ctx, opt, a, r->lo, r->hi, &from));
        TTP_CALL(ctx, ttp_cli_int(ctx, opt, dash + 1, r->lo, r->hi, &to));
        if (to < from)
            return TTP_ERR(ctx, TTP_ERR_ARG, "option %s: range '%s' runs backwards; expected A-B with A <= B",
                           opt, tok);
    }
    for (int64_t v = from; v <= to; v++) {
        if (r->n >= r->cap)
            return TTP_ERR(ctx, TTP_ERR_ARG, "option %s: more than %d values given", opt, r->cap);
        r->out[r->n++] = (int)v;
    }
    return TTP_OK;
}

ttp_status ttp_cli_range_list(ttp_ctx *ctx, const char *opt, const char *val, int64_t lo, int64_t hi,
                              int *out, int cap, int *n)
{
    rl_arg r = {lo, hi, out, cap, 0};
    int items;
    TTP_CALL(ctx, each_item(ctx, opt, val, 1 << 20, &items, one_range, &r));
    *n = r.n;
    return TTP_OK;
}

ttp_status ttp_cli_bad_option(ttp_ctx *ctx, const char *cmd, const char *arg)
{
    return TTP_ERR(ctx, TTP_ERR_ARG,
                   "ttpredict %s: unknown option or missing value in '%s' (see 'ttpredict %s --help')", cmd,
                   arg ? arg : "?", cmd);
}

ttp_status ttp_cli_version(const char *cmd)
{
    printf("ttpredict%s%s %s\n", cmd ? " " : "", cmd ? cmd : "", TTP_VERSION);
    return TTP_OK;
}

/* Resolve a bundled file: $TTP_DATA_DIR, the source tree's data/, then
 * ../share/ttpredict next to the executable. */
static const char *bundled(const char *file, char *buf, size_t len)
{
    const char *dirs[3] = {getenv("TTP_DATA_DIR"), TTP_DATA_DIR, NULL};
    char exe[1024];
    ssize_t r = readlink("/proc/self/exe", exe, sizeof exe - 1);
    char alt[1100] = "";
    if (r > 0) {
        exe[r] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash) {
            *slash = '\0';
            snprintf(alt, sizeof alt, "%s/../share/ttpredict", exe);
            dirs[2] = alt;
        }
    }
    for (int i = 0; i < 3; i++) {
        if (dirs[i] == NULL || dirs[i][0] == '\0') continue;
        snprintf(buf, len, "%s/%s", dirs[i], file);
        if (access(buf, R_OK) == 0) return buf;
    }
    snprintf(buf, len, "%s/%s", TTP_DATA_DIR, file);
    return buf;
}

static const ttp_task_info *task_of(const ttp_cli_args *a)
{
    int n;
    return a && a->task ? a->task : &ttp_task_list(&n)[0];
}

const char *ttp_cli_default_data(const ttp_cli_args *a)
{
    static char buf[2048];
    return bundled(task_of(a)->data_file, buf, sizeof buf);
}

const char *ttp_cli_default_model(const ttp_cli_args *a)
{
    static char buf[2048];
    return bundled(task_of(a)->model_file, buf, sizeof buf);
}

void ttp_cli_args_init(ttp_cli_args *a)
{
    memset(a, 0, sizeof *a);
    a->verbose = -1;
}

ttp_status ttp_cli_train_layers(ttp_ctx *ctx, const ttp_cli_args *a, ttp_model *m)
{
    if (a->train_layers == NULL) return TTP_OK;
    TTP_CALL(ctx, ttp_model_select_trainable(ctx, m, a->train_layers));
    return TTP_OK;
}

int ttp_cli_verbosity(const ttp_cli_args *a, int dflt)
{
    return a->verbose >= 0 ? a->verbose : dflt;
}

static ttp_status opt_option(ttp_ctx *ctx, int c, const char *arg, int64_t steps_min, ttp_opt *o,
                             int *handled)
{
    int64_t v;
    *handled = 1;
    switch (c) {
    case TTP_CLI_O_LOSS:
        if (strcmp(arg, "mse") == 0)
            o->loss = TTP_LOSS_MSE;
        else if (strcmp(arg, "ce") == 0)
            o->loss = TTP_LOSS_CE;
        else
            return TTP_ERR(ctx, TTP_ERR_ARG, "option --loss: '%s', expected mse or ce", arg);
        return TTP_OK;
    case TTP_CLI_O_LR: return ttp_cli_double(ctx, "--lr", arg, 0.0, 0, 1e6, &o->lr);
    case TTP_CLI_O_BATCH: return ttp_cli_int(ctx, "--batch", arg, 1, INT64_MAX, &o->batch);
    case TTP_CLI_O_MOM:
        TTP_CALL(ctx, ttp_cli_double(ctx, "--momentum", arg, 0.0, 1, 1.0, &o->momentum));
        if (o->momentum >= 1.0)
            return TTP_ERR(ctx, TTP_ERR_ARG,
                           "option --momentum: %s is out of range, expected a value in [0, 1)", arg);
        return TTP_OK;
    case TTP_CLI_O_NEST: o->nesterov = 1; return TTP_OK;
    case TTP_CLI_O_WD: return ttp_cli_double(ctx, "--wd", arg, 0.0, 1, 1e6, &o->wd);
    case TTP_CLI_O_STEPS: return ttp_cli_int(ctx, "--steps", arg, steps_min, 100000000, &o->steps);
    case TTP_CLI_O_SEED:
        TTP_CALL(ctx, ttp_cli_int(ctx, "--seed", arg, 0, INT64_MAX, &v));
        o->seed = (uint64_t)v;
        return TTP_OK;
    default: *handled = 0; return TTP_OK;
    }
}

/* Values are parsed here (a number where a number is due); whether they
 * make sense together is ttp_kernel_opts_validate's to say. */
static ttp_status kernel_option(ttp_ctx *ctx, int c, const char *arg, ttp_kernel_opts *k, int *handled)
{
    int64_t v;
    *handled = 1;
    switch (c) {
    case TTP_CLI_O_PROJ: return ttp_proj_kind_parse(ctx, arg, &k->proj);
    case TTP_CLI_O_DPROJ: return ttp_cli_int(ctx, "--dproj", arg, 1, INT32_MAX, &k->dproj);
    case TTP_CLI_O_PSEED:
        TTP_CALL(ctx, ttp_cli_int(ctx, "--proj-seed", arg, 0, INT64_MAX, &v));
        k->proj_seed = (uint64_t)v;
        return TTP_OK;
    case TTP_CLI_O_BACKEND: k->backend = arg; return TTP_OK;
    case TTP_CLI_O_BLOCK:
        TTP_CALL(ctx, ttp_cli_int(ctx, "--block", arg, 1, INT32_MAX, &v));
        k->block = (int)v;
        return TTP_OK;
    case TTP_CLI_O_TOPK: return ttp_cli_int(ctx, "--top-k", arg, 1, INT32_MAX, &k->top_k);
    default: *handled = 0; return TTP_OK;
    }
}

ttp_status ttp_cli_shared_option(ttp_ctx *ctx, int c, const char *arg, ttp_cli_args *a, ttp_opt *o,
                                 int64_t steps_min, ttp_kernel_opts *k, int *handled)
{
    *handled = 1;
    switch (c) {
    case TTP_CLI_O_MODEL: a->model = arg; return TTP_OK;
    case TTP_CLI_O_DATA: a->data = arg; return TTP_OK;
    case TTP_CLI_O_TRAINLAYERS: a->train_layers = arg; return TTP_OK;
    case TTP_CLI_O_TASK: return ttp_task_find(ctx, arg, &a->task);
    case TTP_CLI_O_OUT: a->out = arg; return TTP_OK;
    case TTP_CLI_O_JSON: a->json = arg; return TTP_OK;
    case TTP_CLI_O_REPORT: a->report = arg; return TTP_OK;
    case 'v': a->verbose = 1; return TTP_OK;
    case 'q': a->verbose = 0; return TTP_OK;
    case 'h': a->help = 1; return TTP_OK;
    case TTP_CLI_O_VERSION: a->version = 1; return TTP_OK;
    default: break;
    }
    *handled = 0;
    if (o) TTP_CALL(ctx, opt_option(ctx, c, arg, steps_min, o, handled));
    if (!*handled && k) TTP_CALL(ctx, kernel_option(ctx, c, arg, k, handled));
    return TTP_OK;
}

ttp_status ttp_cli_predict_option(ttp_ctx *ctx, int c, const char *arg, ttp_predict_opts *o, int *smooth,
                                  int *handled)
{
    int64_t iv;
    double band[2];
    int nb;
    *handled = 1;
    switch (c) {
    case TTP_CLI_O_TT: return ttp_cli_tt_list(ctx, "--tt", arg, 1, o->tt, TTP_MAX_TT, &o->ntt);
    case TTP_CLI_O_SMOOTH:
        TTP_CALL(ctx, ttp_cli_int(ctx, "--smooth", arg, 1, 100000, &iv));
        *smooth = (int)iv;
        return TTP_OK;
    case TTP_CLI_O_ENS:
        TTP_CALL(ctx, ttp_cli_int(ctx, "--ensemble", arg, 1, 100000, &iv));
        o->sim.ensemble = (int)iv;
        return TTP_OK;
    case TTP_CLI_O_BAND:
        TTP_CALL(ctx, ttp_cli_double_list(ctx, "--band", arg, 0, 1, 1, band, 2, &nb));
        if (nb != 2 || !(band[0] < band[1]))
            return TTP_ERR(ctx, TTP_ERR_ARG, "option --band: '%s', expected LO,HI with 0 <= LO < HI <= 1",
                           arg);
        o->sim.band_lo = band[0];
        o->sim.band_hi = band[1];
        return TTP_OK;
    case TTP_CLI_O_KERNEL: o->kernel_in = arg; return TTP_OK;
    case TTP_CLI_O_SAVEK: o->kernel_out = arg; return TTP_OK;
    case TTP_CLI_O_SUBSET:
        if (strcmp(arg, "auto") == 0) {
            o->subset = TTP_SUBSET_AUTO;
            return TTP_OK;
        }
        return ttp_cli_int(ctx, "--subset", arg, 1, INT64_MAX, &o->subset);
    case TTP_CLI_O_TSTEPS:
        TTP_CALL(ctx, ttp_cli_int(ctx, "--time-steps", arg, 0, 10000, &iv));
        o->time_reps = (int)iv;
        return TTP_OK;
    case TTP_CLI_O_STIMING: return ttp_step_timing_parse(ctx, arg, &o->step_timing);
    case TTP_CLI_O_MEM: return ttp_cli_bytes(ctx, "--mem-per-rank", arg, &o->kernel.mem_per_rank);
    default: *handled = 0; return TTP_OK;
    }
}

ttp_status ttp_cli_predict_paths(ttp_ctx *ctx, const ttp_cli_args *a, ttp_predict_opts *o)
{
    o->kernel.model_path = a->model ? a->model : ttp_cli_default_model(a);
    o->kernel.data_path = a->data ? a->data : ttp_cli_default_data(a);
    ctx->verbose = ttp_cli_verbosity(a, 1);
    const ttp_path_use paths[] = {
        {o->kernel.model_path, "--model", TTP_PATH_IN},
        {o->kernel.data_path, "--data", TTP_PATH_IN},
        {o->kernel_in, "--kernel", TTP_PATH_IN},
        {a->out, "--out", TTP_PATH_OUT},
        {a->json, "--json", TTP_PATH_OUT},
        {a->report, "--report", TTP_PATH_OUT_DIR},
        {o->kernel_out, "--save-kernel", TTP_PATH_OUT},
    };
    return ttp_path_check(ctx, paths, (int)(sizeof paths / sizeof paths[0]));
}

/* ---- help ---------------------------------------------------------------- */

void ttp_cli_help_section(FILE *f, const char *heading)
{
    fprintf(f, "\n%s:\n", heading);
}

void ttp_cli_help_line(FILE *f, const char *opt, const char *fmt, ...)
{
    char text[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    /* an option wider than its column gets the description on the next line */
    if ((int)strlen(opt) + 2 >= TTP_CLI_HELP_COL)
        fprintf(f, "  %s\n%*s", opt, TTP_CLI_HELP_COL, "");
    else
        fprintf(f, "  %-*s", TTP_CLI_HELP_COL - 2, opt);
    for (const char *p = text; *p; p++) {
        fputc(*p, f);
        if (*p == '\n' && p[1]) fprintf(f, "%*s", TTP_CLI_HELP_COL, "");
    }
    fputc('\n', f);
}

void ttp_cli_help_task(FILE *f)
{
    ttp_cli_help_section(f, "model and data (default: the bundled task, a small ResNet pretrained on digits\n"
                            "0-4 with a fresh 5-class head, fine-tuned on digits 5-9)");
    ttp_cli_help_line(f, "--model FILE", "model file: NetCDF (docs/formats/model.md) or ONNX");
    ttp_cli_help_line(f, "--data FILE", "dataset file (NetCDF, docs/formats/dataset.md)");
    ttp_cli_help_line(f, "--task NAME",
                      "a bundled task instead of the default: default | wide (a wide\n"
                      "ResNet, 1,226,501 weights, same digits); --model/--data override it");
    ttp_cli_help_line(f, "--train-layers L",
                      "all | last:K | NAME,NAME,...: the layers fine-tuned (and in the\n"
                      "Jacobian); last:K = the last K layers with weights (default: as\n"
                      "the model file marks them)");
}

void ttp_cli_help_opt(FILE *f, const ttp_opt *d)
{
    ttp_cli_help_section(f, "optimizer (the same meaning for train, predict and validate)");
    ttp_cli_help_line(f, "--loss mse|ce", "½‖f − onehot(y)‖² or cross-entropy (default %s)",
                      ttp_loss_str(d->loss));
    ttp_cli_help_line(f, "--lr X", "learning rate > 0 (default %g)", d->lr);
    ttp_cli_help_line(f, "--batch B", "batch size in 1..N; omitted (or N): full-batch gradient descent");
    ttp_cli_help_line(f, "--momentum M", "heavy-ball momentum in [0, 1) (default %g)", d->momentum);
    ttp_cli_help_line(f, "--nesterov", "Nesterov momentum");
    ttp_cli_help_line(f, "--wd L", "weight decay >= 0 (default %g)", d->wd);
    ttp_cli_help_line(f, "--steps T", "optimizer steps T >= 1 (default %lld)", (long long)d->steps);
    ttp_cli_help_line(f, "--seed S", "seed of the batch permutations (default %llu)",
                      (unsigned long long)d->seed);
}

void ttp_cli_help_kernel(FILE *f, const ttp_kernel_opts *d, const char *proj_default)
{
    ttp_cli_help_section(f, "kernel (the same meaning for kernel, predict and validate)");
    ttp_cli_help_line(
        f, "--proj KIND",
        "exact | rademacher | gaussian | kron | auto (default %s)\n"
        "auto: kron at D' (default %d) when the model has more than\n2 D' trainable weights, else exact",
        proj_default, TTP_KERNEL_AUTO_DPROJ);
    ttp_cli_help_line(f, "--dproj D'", "projected dimension 1..D (required for rademacher, gaussian, kron)");
    ttp_cli_help_line(f, "--proj-seed S", "projection seed (default %llu)", (unsigned long long)d->proj_seed);
    ttp_cli_help_line(f, "--backend B", "cpu | cuda | auto: who runs the Jacobian stage (default %s)",
                      d->backend ? d->backend : "auto");
    ttp_cli_help_line(f, "--block NB", "ScaLAPACK block size 1..%d (default %d)", TTP_GRAM_MAX_BLOCK,
                      d->block > 0 ? d->block : 64);
    ttp_cli_help_line(f, "--top-k K", "keep the K largest eigenpairs (pdsyevr; default all)");
}

void ttp_cli_help_run(FILE *f, int checkpoint)
{
    ttp_cli_help_section(f, "memory and long runs");
    ttp_cli_help_line(f, "--mem-per-rank SIZE",
                      "memory a rank may use, e.g. 8G (default: this node's\n"
                      "MemAvailable shared by its ranks); a run estimated not to\n"
                      "fit is refused before any heavy work (see 'ttpredict plan')");
    if (!checkpoint) return;
    ttp_cli_help_line(f, "--checkpoint DIR",
                      "checkpoint the Jacobian blocks and the eigen stage into DIR\n"
                      "(each rank its own files); a rerun with the same DIR resumes\n"
                      "and gives the identical kernel");
    ttp_cli_help_line(f, "--resume DIR", "as --checkpoint, but DIR must hold a matching earlier run");
}

void ttp_cli_help_common(FILE *f, int verbose_default)
{
    ttp_cli_help_section(f, "other");
    ttp_cli_help_line(f, "-v, --verbose", "progress lines on stderr%s", verbose_default ? " (default)" : "");
    ttp_cli_help_line(f, "-q, --quiet", "no progress lines%s", verbose_default ? "" : " (default)");
    ttp_cli_help_line(f, "-h, --help", "this text");
    ttp_cli_help_line(f, "--version", "print the version");
}

/* ---- field names → flags --------------------------------------------------- */

static const struct {
    const char *field, *flag;
} flag_table[] = {
    {"loss", "--loss"},
    {"lr", "--lr"},
    {"batch", "--batch"},
    {"momentum", "--momentum"},
    {"nesterov", "--nesterov"},
    {"wd", "--wd"},
    {"steps", "--steps"},
    {"seed", "--seed"},
    {"task", "--task"},
    {"proj", "--proj"},
    {"dproj", "--dproj"},
    {"proj_seed", "--proj-seed"},
    {"backend", "--backend"},
    {"block", "--block"},
    {"top_k", "--top-k"},
    {"side", "--side"},
    {"assembly", "--assembly"},
    {"want_theta", "--theta"},
    {"want_vectors", "--vectors"},
    {"ensemble", "--ensemble"},
    {"band", "--band"},
    {"tt", "--tt"},
    {"smooth", "--smooth"},
    {"subset", "--subset"},
    {"extrap", "--extrapolate"},
    {"time_reps", "--time-steps"},
    {"step_timing", "--step-timing"},
    {"relin_every", "--relinearize"},
    {"dynamics", "--dynamics"},
    {"kernel_in", "--kernel"},
    {"kernel_out", "--save-kernel"},
    {"losses", "--losses"},
    {"lrs", "--lrs"},
    {"batches", "--batches"},
    {"momenta", "--momenta"},
    {"sizes", "--sizes"},
    {"new_head", "--new-head"},
    {"drop_cols", "--drop-cols"},
    {"classes", "--classes"},
    {"fraction", "--fraction"},
    {"per_class", "--per-class"},
    {"pick", "--pick"},
    {"header", "--header"},
    {"label_col", "--label-col"},
    {"wds", "--wds"},
    {"budget", "--budget"},
    {"budget_steps", "--budget-steps"},
    {"mem_per_rank", "--mem-per-rank"},
    {"checkpoint_dir", "--checkpoint"},
    {"train_layers", "--train-layers"},
};

static const char *flag_of(const char *field, size_t len)
{
    for (size_t i = 0; i < sizeof flag_table / sizeof flag_table[0]; i++)
        if (strlen(flag_table[i].field) == len && strncmp(flag_table[i].field, field, len) == 0)
            return flag_table[i].flag;
    return NULL;
}

void ttp_cli_flag_names(char *msg, size_t cap)
{
    char out[TTP_MSG_LEN * 2];
    size_t o = 0;
    const char *p = msg;
    while (*p && o + 1 < sizeof out) {
        int after = strncmp(p, "option ", 7) == 0 ? 7 : strncmp(p, "options ", 8) == 0 ? 8 : 0;
        if (after && (p == msg || !isalnum((unsigned char)p[-1]))) {
            for (int i = 0; i < after && o + 1 < sizeof out; i++) out[o++] = *p++;
            for (;;) { /* fields joined by '/' */
                size_t len = 0;
                while (isalnum((unsigned char)p[len]) || p[len] == '_') len++;
                const char *flag = len ? flag_of(p, len) : NULL;
                const char *src = flag ? flag : p;
                size_t n = flag ? strlen(flag) : len;
                for (size_t i = 0; i < n && o + 1 < sizeof out; i++) out[o++] = src[i];
                p += len;
                if (len && *p == '/' && o + 1 < sizeof out)
                    out[o++] = *p++;
                else
                    break;
            }
        } else {
            out[o++] = *p++;
        }
    }
    out[o] = '\0';
    snprintf(msg, cap, "%s", out);
}

ttp_status ttp_cli_tt_list(ttp_ctx *ctx, const char *opt, const char *val, int smooth, ttp_tt_def *out,
                           int cap, int *n)
{
    char buf[1024];
    if (val == NULL || *val == '\0')
        return TTP_ERR(ctx, TTP_ERR_ARG, "option %s: missing value, expected KIND:VALUE[,...]", opt);
    if (strlen(val) >= sizeof buf) return TTP_ERR(ctx, TTP_ERR_ARG, "option %s: value too long", opt);
    strcpy(buf, val);
    int k = 0;
    char *save = NULL;
    for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        if (k >= cap) return TTP_ERR(ctx, TTP_ERR_ARG, "option %s: more than %d definitions", opt, cap);
        ttp_ctx one;
        ttp_ctx_init(&one);
        if (ttp_tt_def_parse(&one, tok, &out[k]) != TTP_OK)
            return TTP_ERR(ctx, TTP_ERR_ARG, "option %s: %s", opt, one.msg);
        out[k].smooth = smooth;
        k++;
    }
    if (k == 0) return TTP_ERR(ctx, TTP_ERR_ARG, "option %s: no definition given", opt);
    *n = k;
    return TTP_OK;
}

ttp_status ttp_cli_relinearize(ttp_ctx *ctx, const char *val, int64_t *every, int *kernel)
{
    /* auto: function space, real-output restarts where that fails; real:
     * real-output restarts alone; K: those every K steps; kernel[:K] */
    if (strcmp(val, "auto") == 0 || strcmp(val, "real") == 0) {
        *kernel = val[0] == 'a' ? TTP_RELIN_BOTH : TTP_RELIN_REAL;
        *every = TTP_RELIN_AUTO;
        return TTP_OK;
    }
    *kernel = strncmp(val, "kernel", 6) == 0 ? TTP_RELIN_KERNEL : TTP_RELIN_REAL;
    const char *k = *kernel ? val + 6 : val;
    if (*kernel && *k == '\0') {
        *every = TTP_RELIN_AUTO;
        return TTP_OK;
    }
    if (*kernel && *k++ != ':')
        return TTP_ERR(ctx, TTP_ERR_ARG, "--relinearize: '%s', expected K, auto, real, kernel or kernel:K", val);
    if (*kernel && strcmp(k, "auto") == 0) {
        *every = TTP_RELIN_AUTO;
        return TTP_OK;
    }
    return ttp_cli_int(ctx, "--relinearize", k, 0, 100000000, every);
}
