/*
 * proj.c — the dense random projections of ttp_proj.h: the entry definition
 * shared with the CUDA kernels, the kind names, the CPU reference backend
 * (P generated tile by tile, applied with DGEMM) and backend selection.
 *
 * P is generated once and kept between calls with the same (kind, key, d,
 * D′): ttp_jac_rows calls the backend once per block of rows (as few as a
 * handful when D is large, since a block of full rows is bounded in bytes),
 * and regenerating P costs d·D′ hashes per call whatever the number of
 * rows, which dominates (a 301k-weight model at D′ = 1024 has 27-row
 * blocks).  When the whole of P is small (≤ PROJ_CACHE_MAX doubles) it is
 * one matrix; otherwise its tiles (PROJ_TILE_K rows of D × PROJ_TILE_COLS
 * columns of D′) are kept one after the other, each generated once, and
 * every block of rows streams through them, while they fit in a quarter
 * of the memory free at the first call (PROJ_STORE_SHARE).  Beyond that
 * only one tile is held and tiles are generated again for every call.
 * Stored or regenerated, a tile holds the same numbers in the same layout
 * and meets the same DGEMM, so the results are the same bits.
 *
 * Reproducibility: a row of G is computed by the same sequence of DGEMM
 * calls of the same shapes (blocks of PROJ_ROW_BLOCK rows, zero-padded) and
 * the same tiles whatever the other rows are, so the CPU backend gives the
 * same bits for a row however the caller groups rows (and ranks).
 */
#include "ttp_proj.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cblas.h>

#include "ttp_gpu.h"
#include "ttp_rng.h"

/* Columns of D′ per tile: a multiple of the DGEMM blocking, small enough that
 * a tile of PROJ_TILE_K rows stays in the last-level cache's neighbourhood. */
#define PROJ_TILE_COLS 256
/* Rows of D per tile, so that a tile never exceeds 16 MiB however large D is. */
#define PROJ_TILE_K 8192
/* Rows per DGEMM: fixed, so that a row's result does not depend on the
 * number of rows projected with it. */
#define PROJ_ROW_BLOCK 32
/* Whole P kept between calls when it has at most this many entries (64 MiB). */
#define PROJ_CACHE_MAX ((int64_t)8 << 20)
/* Larger P kept as its tiles when it takes at most 1/PROJ_STORE_SHARE of the
 * memory free at the first call for it. */
#define PROJ_STORE_SHARE 4

/*
 * The definition in ttp_proj.h.  gpu/proj.cu evaluates the same expression
 * term for term (scale computed as 1/√D′ and multiplied last, u1 clamped
 * away from 0 so that log stays finite), so Rademacher entries agree bit for
 * bit with the device and Gaussian ones to the last few ulps of log/cos.
 * Returns 0 for kinds that have no dense entries (EXACT, KRON).
 */
double ttp_proj_entry(ttp_proj_kind kind, uint64_t key, int64_t k, int64_t j, int64_t dproj)
{
    const double scale = 1.0 / sqrt((double)dproj);
    const uint64_t c = (uint64_t)k * (uint64_t)dproj + (uint64_t)j;
    if (kind == TTP_PROJ_RADEMACHER) return (ttp_rng_hash(key, c) & 1u) ? -scale : scale;
    if (kind == TTP_PROJ_GAUSSIAN) {
        double u1 = ttp_rng_hash_uniform(key, 2 * c);
        double u2 = ttp_rng_hash_uniform(key, 2 * c + 1);
        if (u1 < 1e-300) u1 = 1e-300;
        return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2) * scale;
    }
    return 0.0;
}

/* ---- the CPU reference backend ------------------------------------------ */

typedef struct {
    double *tile; /* PROJ_TILE_K × PROJ_TILE_COLS, or the whole cached P (d × D′) */
    size_t cap;   /* doubles held by tile                                          */
    int cached;   /* tile holds all of P for the key below                         */
    ttp_proj_kind cache_kind;
    uint64_t cache_key;
    int64_t cache_d, cache_dproj;
    double *pad, *padg; /* PROJ_ROW_BLOCK rows of J and of G, for the last block */
    size_t pad_cap, padg_cap;
    double *store;   /* every tile of a large P, in the order of the loop below */
    int store_state; /* 0 none, 1 holds P for the store_* key, -1 did not fit it */
    ttp_proj_kind store_kind;
    uint64_t store_key;
    int64_t store_d, store_dproj;
    double store_max; /* bytes a stored P may take; 0: 1/PROJ_STORE_SHARE of free memory, < 0: never */
} cpu_proj_state;

static void cpu_proj_destroy(void *state)
{
    cpu_proj_state *s = state;
    if (!s) return;
    free(s->tile);
    free(s->pad);
    free(s->padg);
    free(s->store);
    free(s);
}

static ttp_status reserve(ttp_ctx *ctx, cpu_proj_state *s, size_t n)
{
    if (n <= s->cap) return TTP_OK;
    double *t = realloc(s->tile, n * sizeof *t);
    if (!t) return TTP_ERR(ctx, TTP_ERR_NOMEM, "cpu projection: %zu doubles for a tile of P", n);
    s->tile = t;
    s->cap = n;
    s->cached = 0;
    return TTP_OK;
}

/* out (nk × nc, row-major, ld) = P[k0:k0+nk, c0:c0+nc].  Rademacher entries
 * are ttp_proj_entry's expression with the scale 1/√D′ computed once (the
 * same double, so the same bits); Gaussian ones call it as they are. */
static void gen_tile(double *out, int64_t ld, ttp_proj_kind kind, uint64_t key, int64_t k0, int64_t nk,
                     int64_t c0, int64_t nc, int64_t dproj)
{
    if (kind == TTP_PROJ_RADEMACHER) {
        const double scale = 1.0 / sqrt((double)dproj);
        for (int64_t kk = 0; kk < nk; kk++) {
            const uint64_t c = (uint64_t)(k0 + kk) * (uint64_t)dproj + (uint64_t)c0;
            for (int64_t jj = 0; jj < nc; jj++)
                out[kk * ld + jj] = (ttp_rng_hash(key, c + (uint64_t)jj) & 1u) ? -scale : scale;
        }
        return;
    }
    for (int64_t kk = 0; kk < nk; kk++)
        for (int64_t jj = 0; jj < nc; jj++)
            out[kk * ld + jj] = ttp_proj_entry(kind, key, k0 + kk, c0 + jj, dproj);
}

static ttp_status cpu_project(void *state, ttp_proj_kind kind, uint64_t key, const double *J, int64_t rows,
                              int64_t d, int64_t dproj, double *G, ttp_ctx *ctx)
{
    cpu_proj_state *s = state;
    if (!s) return TTP_ERR(ctx, TTP_ERR_ARG, "cpu projection: backend state is NULL (not open?)");
    if (rows < 0 || d < 1 || dproj < 1)
        return TTP_ERR(ctx, TTP_ERR_ARG,
                       "cpu projection: rows %lld, d %lld, D' %lld; expected rows >= 0, d >= 1, "
                       "D' >= 1",
                       (long long)rows, (long long)d, (long long)dproj);
    if (rows == 0) return TTP_OK;
    if (!J || !G) return TTP_ERR(ctx, TTP_ERR_ARG, "cpu projection: J or G is NULL");
    if (kind == TTP_PROJ_EXACT) {
        if (dproj != d)
            return TTP_ERR(ctx, TTP_ERR_ARG, "cpu projection: kind exact needs D' = d, got D' %lld, d %lld",
                           (long long)dproj, (long long)d);
        memcpy(G, J, (size_t)rows * (size_t)d * sizeof(double));
        return TTP_OK;
    }
    if (kind != TTP_PROJ_RADEMACHER && kind != TTP_PROJ_GAUSSIAN)
        return TTP_ERR(ctx, TTP_ERR_ARG,
                       "cpu projection: kind %s is not dense; expected rademacher or gaussian",
                       ttp_proj_kind_str(kind));
    if (rows > INT32_MAX || d > INT32_MAX || dproj > INT32_MAX)
        return TTP_ERR(ctx, TTP_ERR_ARG,
                       "cpu projection: rows %lld, d %lld, D' %lld exceed BLAS's 32-bit sizes; "
                       "pass smaller row blocks",
                       (long long)rows, (long long)d, (long long)dproj);

    /* Every DGEMM gets exactly PROJ_ROW_BLOCK rows (the last block padded
     * with zero rows): BLAS kernels may round differently for different
     * shapes, and a row must come out the same whatever block it is in. */
    const int64_t rb = PROJ_ROW_BLOCK;
    const int64_t nfull = rows / rb, rest = rows % rb;
    const int whole = d * dproj <= PROJ_CACHE_MAX;
    const int64_t kt = whole ? d : (d < PROJ_TILE_K ? d : PROJ_TILE_K);
    const int64_t tc = whole ? dproj : (dproj < PROJ_TILE_COLS ? dproj : PROJ_TILE_COLS);
    if (rest > 0) {
        if ((size_t)(rb * d) > s->pad_cap || (size_t)(rb * dproj) > s->padg_cap) {
            free(s->pad);
            free(s->padg);
            s->pad = calloc((size_t)(rb * d), sizeof(double));
            s->padg = calloc((size_t)(rb * dproj), sizeof(double));
            s->pad_cap = s->padg_cap = 0;
            if (!s->pad || !s->padg)
                return TTP_ERR(ctx, TTP_ERR_NOMEM, "cpu projection: %lld-row padding for d %lld, D' %lld",
                               (long long)rb, (long long)d, (long long)dproj);
            s->pad_cap = (size_t)(rb * d);
            s->padg_cap = (size_t)(rb * dproj);
        }
        memcpy(s->pad, J + nfull * rb * d, (size_t)(rest * d) * sizeof(double));
        memset(s->pad + rest * d, 0, (size_t)((rb - rest) * d) * sizeof(double));
    }
    if (whole) {
        /* Whole P, kept for the next call with the same (kind, key, d, D′). */
        int hit = s->cached && s->cache_kind == kind && s->cache_key == key && s->cache_d == d &&
                  s->cache_dproj == dproj;
        if (!hit) {
            TTP_CALL(ctx, reserve(ctx, s, (size_t)(d * dproj)));
            gen_tile(s->tile, dproj, kind, key, 0, d, 0, dproj, dproj);
            s->cached = 1;
            s->cache_kind = kind;
            s->cache_key = key;
            s->cache_d = d;
            s->cache_dproj = dproj;
        }
    } else if (!(s->store_kind == kind && s->store_key == key && s->store_d == d && s->store_dproj == dproj &&
                 s->store_state != 0)) {
        /* A new large P: keep its tiles when they fit the memory free now. */
        free(s->store);
        s->store = NULL;
        s->store_state = -1;
        s->store_kind = kind;
        s->store_key = key;
        s->store_d = d;
        s->store_dproj = dproj;
        const double need = (double)d * (double)dproj * (double)sizeof(double);
        const double avail = (double)sysconf(_SC_AVPHYS_PAGES) * (double)sysconf(_SC_PAGESIZE);
        const double cap = s->store_max != 0.0 ? s->store_max : avail / PROJ_STORE_SHARE;
        if (cap > 0 && need <= cap && (s->store = malloc((size_t)need)) != NULL) {
            size_t off = 0;
            for (int64_t c0 = 0; c0 < dproj; c0 += tc) {
                const int64_t nc = dproj - c0 < tc ? dproj - c0 : tc;
                for (int64_t k0 = 0; k0 < d; k0 += kt) {
                    const int64_t nk = d - k0 < kt ? d - k0 : kt;
                    gen_tile(s->store + off, nc, kind, key, k0, nk, c0, nc, dproj);
                    off += (size_t)(nk * nc);
                }
            }
            s->store_state = 1;
        }
    }
    const int stored = !whole && s->store_state == 1;
    if (!whole && !stored) {
        TTP_CALL(ctx, reserve(ctx, s, (size_t)(kt * tc)));
        s->cached = 0;
    }

    /* G[:, c0:c0+nc] (+)= J[:, k0:k0+nk] · P[k0:k0+nk, c0:c0+nc], one tile of
     * P at a time (a single tile when P is whole), over all row blocks. */
    size_t off = 0; /* the tile's place in s->store */
    for (int64_t c0 = 0; c0 < dproj; c0 += tc) {
        const int64_t nc = dproj - c0 < tc ? dproj - c0 : tc;
        for (int64_t k0 = 0; k0 < d; k0 += kt) {
            const int64_t nk = d - k0 < kt ? d - k0 : kt;
            const double *P = whole ? s->tile + k0 * dproj + c0 : stored ? s->store + off : s->tile;
            const int64_t ldp = whole ? dproj : nc;
            if (!whole && !stored) gen_tile(s->tile, nc, kind, key, k0, nk, c0, nc, dproj);
            off += (size_t)(nk * nc);
            for (int64_t blk = 0; blk <= nfull; blk++) {
                const int pad = blk == nfull;
                if (pad && rest == 0) break;
                const double *Jb = pad ? s->pad : J + blk * rb * d;
                double *Gb = pad ? s->padg : G + blk * rb * dproj;
                cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)rb, (int)nc, (int)nk, 1.0,
                            Jb + k0, (int)d, P, (int)ldp, k0 == 0 ? 0.0 : 1.0, Gb + c0, (int)dproj);
            }
        }
    }
    if (rest > 0) memcpy(G + nfull * rb * dproj, s->padg, (size_t)(rest * dproj) * sizeof(double));
    return TTP_OK;
}

ttp_status ttp_proj_cpu(ttp_ctx *ctx, ttp_proj_backend *b)
{
    ttp_status st = TTP_OK;
    cpu_proj_state *s = NULL;
    if (!b) return TTP_ERR(ctx, TTP_ERR_ARG, "ttp_proj_cpu: backend pointer is NULL");
    memset(b, 0, sizeof *b);
    TTP_ALLOC(ctx, st, fail, s, 1, "cpu projection state");
    b->name = "cpu";
    b->state = s;
    b->project = cpu_project;
    b->destroy = cpu_proj_destroy;
    return TTP_OK;
fail:
    return st;
}

void ttp_proj_cpu_store_limit(ttp_proj_backend *b, double max_bytes)
{
    if (b == NULL || b->project != cpu_project || b->state == NULL) return;
    cpu_proj_state *s = b->state;
    s->store_max = max_bytes;
    free(s->store);
    s->store = NULL;
    s->store_state = 0;
}

/*
 * A device backend asked for by name is a demand: any failure to open it is
 * returned.  "auto" asks each registered device backend for its device count
 * and falls back to the CPU when none has one (or when opening fails: a
 * broken driver must not stop a run that the CPU can do).
 */
ttp_status ttp_proj_backend_open(ttp_ctx *ctx, const char *name, ttp_proj_backend *b)
{
    if (!b) return TTP_ERR(ctx, TTP_ERR_ARG, "ttp_proj_backend_open: backend pointer is NULL");
    memset(b, 0, sizeof *b);
    int ndev = 0;
    const ttp_proj_backend_desc *dev = ttp_gpu_backends(&ndev);
    if (name && strcmp(name, "cpu") == 0) {
        TTP_CALL(ctx, ttp_proj_cpu(ctx, b));
        return TTP_OK;
    }
    for (int i = 0; name && i < ndev; i++)
        if (strcmp(name, dev[i].name) == 0) {
            /* The device side words the refusal (no such build, no device, driver). */
            TTP_CALL(ctx, dev[i].open(ctx, b));
            return TTP_OK;
        }
    if (name && strcmp(name, "auto") == 0) {
        for (int i = 0; i < ndev; i++)
            if (dev[i].devices(NULL, 0) > 0) {
                if (dev[i].open(ctx, b) == TTP_OK) return TTP_OK;
                ttp_error_clear(ctx);
            }
        TTP_CALL(ctx, ttp_proj_cpu(ctx, b));
        return TTP_OK;
    }
    char choices[256] = "cpu";
    for (int i = 0; i < ndev; i++) {
        size_t len = strlen(choices);
        snprintf(choices + len, sizeof choices - len, ", %s", dev[i].name);
    }
    return TTP_ERR(ctx, TTP_ERR_ARG, "projection backend '%s': expected %s or auto", name ? name : "(null)",
                   choices);
}

void ttp_proj_backend_close(ttp_proj_backend *b)
{
    if (!b) return;
    if (b->destroy && b->state) b->destroy(b->state);
    memset(b, 0, sizeof *b);
}
