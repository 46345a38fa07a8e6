/*
 * core.c — the error context, allocation and timing helpers, the serial
 * communicator, the counter-based random generator and the batch schedule
 * shared by training and simulation.
 */
#include "ttp_core.h"
#include "ttp_rng.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

static const char *const status_names[TTP_STATUS_COUNT] = {
    [TTP_OK] = "success",
    [TTP_ERR_ARG] = "invalid argument",
    [TTP_ERR_IO] = "input/output error",
    [TTP_ERR_FORMAT] = "invalid file content",
    [TTP_ERR_NOMEM] = "out of memory",
    [TTP_ERR_MPI] = "MPI error",
    [TTP_ERR_LAPACK] = "LAPACK/ScaLAPACK error",
    [TTP_ERR_NETCDF] = "NetCDF error",
    [TTP_ERR_CUDA] = "CUDA error",
    [TTP_ERR_NUMERIC] = "numerical failure",
    [TTP_ERR_UNSUPPORTED] = "not supported",
    [TTP_ERR_INTERNAL] = "internal error",
};

const char *ttp_status_str(ttp_status s)
{
    if ((int)s < 0 || s >= TTP_STATUS_COUNT) return "unknown status";
    return status_names[s];
}

void ttp_ctx_init(ttp_ctx *ctx)
{
    memset(ctx, 0, sizeof *ctx);
}

ttp_status ttp_error_set(ttp_ctx *ctx, ttp_status code, const char *file, int line, const char *func,
                         const char *fmt, ...)
{
    if (ctx == NULL) return code;
    /* Keep the first (innermost) message: it names the real cause. */
    if (ctx->code == TTP_OK) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(ctx->msg, sizeof ctx->msg, fmt, ap);
        va_end(ap);
        ctx->code = code;
        ctx->trace[0] = '\0';
    }
    ttp_error_trace(ctx, file, line, func);
    return code;
}

void ttp_error_trace(ttp_ctx *ctx, const char *file, int line, const char *func)
{
    if (ctx == NULL) return;
    size_t used = strlen(ctx->trace);
    if (used + 1 >= sizeof ctx->trace) return;
    snprintf(ctx->trace + used, sizeof ctx->trace - used, "  at %s (%s:%d)\n", func, file, line);
}

void ttp_error_clear(ttp_ctx *ctx)
{
    ctx->code = TTP_OK;
    ctx->msg[0] = '\0';
    ctx->trace[0] = '\0';
}

const char *ttp_errstr_none(int rc)
{
    (void)rc;
    return "failed";
}

const char *ttp_lapack_infostr(int info)
{
    if (info < 0) return "an argument had an illegal value";
    return "the algorithm failed to converge or the matrix is singular";
}

void *ttp_calloc(ttp_ctx *ctx, size_t n, size_t size, const char *what)
{
    if (n == 0) n = 1;
    if (size != 0 && n > SIZE_MAX / size) {
        TTP_ERR(ctx, TTP_ERR_NOMEM, "allocation of %s overflows (%zu x %zu bytes)", what, n, size);
        return NULL;
    }
    void *p = calloc(n, size);
    if (p == NULL)
        TTP_ERR(ctx, TTP_ERR_NOMEM, "cannot allocate %.1f MiB for %s", (double)n * (double)size / 1048576.0,
                what);
    return p;
}

static ttp_status size_result(ttp_ctx *ctx, int ok, const char *op, int64_t a, int64_t b, int64_t limit,
                              int64_t r, int64_t *out, const char *fmt, va_list ap)
{
    if (ok) {
        *out = r;
        return TTP_OK;
    }
    char what[512];
    vsnprintf(what, sizeof what, fmt, ap);
    *out = 0;
    if (a < 0 || b < 0)
        return TTP_ERR(ctx, TTP_ERR_FORMAT, "%s: negative size (%lld %s %lld)", what, (long long)a, op,
                       (long long)b);
    return TTP_ERR(ctx, TTP_ERR_FORMAT, "%s: size %lld %s %lld is beyond the limit %lld", what, (long long)a,
                   op, (long long)b, (long long)limit);
}

ttp_status ttp_size_mul(ttp_ctx *ctx, int64_t a, int64_t b, int64_t limit, int64_t *out, const char *fmt, ...)
{
    if (limit <= 0) limit = INT64_MAX;
    int64_t r = 0;
    const int ok = a >= 0 && b >= 0 && !__builtin_mul_overflow(a, b, &r) && r <= limit;
    va_list ap;
    va_start(ap, fmt);
    const ttp_status st = size_result(ctx, ok, "x", a, b, limit, r, out, fmt, ap);
    va_end(ap);
    return st;
}

ttp_status ttp_size_add(ttp_ctx *ctx, int64_t a, int64_t b, int64_t limit, int64_t *out, const char *fmt, ...)
{
    if (limit <= 0) limit = INT64_MAX;
    int64_t r = 0;
    const int ok = a >= 0 && b >= 0 && !__builtin_add_overflow(a, b, &r) && r <= limit;
    va_list ap;
    va_start(ap, fmt);
    const ttp_status st = size_result(ctx, ok, "+", a, b, limit, r, out, fmt, ap);
    va_end(ap);
    return st;
}

double ttp_time(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int64_t ttp_peak_rss(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0) return 0;
    return (int64_t)ru.ru_maxrss * 1024; /* Linux reports KiB */
}

void ttp_progress(ttp_ctx *ctx, const char *stage, double fraction, double t_start)
{
    if (ctx == NULL || ctx->verbose <= 0 || ctx->rank != 0) return;
    double now = ttp_time();
    if (fraction < 1.0 && now - ctx->progress_last < 2.0) return;
    ctx->progress_last = now;
    double el = now - t_start;
    double eta = fraction > 1e-9 ? el * (1.0 - fraction) / fraction : 0.0;
    fprintf(stderr, "ttpredict: %-10s %5.1f%%  elapsed %7.1fs  remaining ~%6.1fs\n", stage, 100.0 * fraction,
            el, eta);
}

/* ---- serial communicator ------------------------------------------------ */

static ttp_status serial_allreduce_sum(const ttp_comm *c, double *buf, int64_t n, ttp_ctx *ctx)
{
    (void)c, (void)buf, (void)n, (void)ctx;
    return TTP_OK;
}

static ttp_status serial_bcast(const ttp_comm *c, void *buf, int64_t bytes, int root, ttp_ctx *ctx)
{
    (void)c, (void)buf, (void)bytes, (void)root, (void)ctx;
    return TTP_OK;
}

static ttp_status serial_max_int(const ttp_comm *c, int *val, ttp_ctx *ctx)
{
    (void)c, (void)val, (void)ctx;
    return TTP_OK;
}

void ttp_comm_serial(ttp_comm *c)
{
    memset(c, 0, sizeof *c);
    c->rank = 0;
    c->size = 1;
    c->allreduce_sum = serial_allreduce_sum;
    c->allreduce_max = serial_allreduce_sum; /* one rank: the sum and the max are the value */
    c->bcast = serial_bcast;
    c->allreduce_max_int = serial_max_int;
    c->node_rank = -1;
    c->node_size = 0;
}

ttp_status ttp_comm_agree(ttp_ctx *ctx, const ttp_comm *comm, ttp_status st, const char *stage)
{
    int v = (int)st;
    /* The first message recorded in ctx stays: this rank's own failure, if any. */
    const ttp_status rc = comm->allreduce_max_int(comm, &v, ctx);
    if (rc != TTP_OK) return st != TTP_OK ? st : rc;
    if (v != 0 && st == TTP_OK)
        return TTP_ERR(ctx, (ttp_status)v, "another rank failed in the %s stage (%s); see its message", stage,
                       ttp_status_str((ttp_status)v));
    return st;
}

void ttp_shard(int64_t n, int rank, int size, int64_t *lo, int64_t *hi)
{
    int64_t q = n / size, r = n % size;
    *lo = rank * q + (rank < r ? rank : r);
    *hi = *lo + q + (rank < r ? 1 : 0);
}

static int cmp_double(const void *a, const void *b)
{
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

void ttp_sort_doubles(double *v, int64_t n)
{
    if (n > 1) qsort(v, (size_t)n, sizeof *v, cmp_double);
}

double ttp_quantile(const double *v, int64_t n, double q, ttp_quantile_rule rule)
{
    if (q < 0) q = 0;
    if (q > 1) q = 1;
    const double h = q * (double)(n - 1);
    if (rule == TTP_QUANTILE_NEAREST) {
        int64_t i = (int64_t)floor(h + 0.5);
        return v[i < n ? i : n - 1];
    }
    const int64_t i = (int64_t)floor(h);
    if (i >= n - 1) return v[n - 1];
    const double f = h - (double)i;
    return v[i] * (1 - f) + v[i + 1] * f;
}

/* ---- counter-based generator ------------------------------------------- */

uint64_t ttp_rng_u64(uint64_t key, uint64_t counter)
{
    return ttp_rng_hash(key, counter);
}

double ttp_rng_uniform(uint64_t key, uint64_t counter)
{
    return ttp_rng_hash_uniform(key, counter);
}

double ttp_rng_normal(uint64_t key, uint64_t counter)
{
    double u1 = ttp_rng_uniform(key, 2 * counter);
    double u2 = ttp_rng_uniform(key, 2 * counter + 1);
    if (u1 < 1e-300) u1 = 1e-300;
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

uint64_t ttp_rng_key(uint64_t seed, uint64_t stream)
{
    return ttp_mix64(ttp_mix64(seed ^ 0x243f6a8885a308d3ULL) + stream * 0x9e3779b97f4a7c15ULL);
}

void ttp_rng_permutation(uint64_t seed, int64_t epoch, int64_t n, int64_t *perm)
{
    uint64_t key = ttp_rng_key(seed, (uint64_t)epoch);
    for (int64_t i = 0; i < n; i++) perm[i] = i;
    for (int64_t i = n - 1; i > 0; i--) {
        /* Unbiased enough for n << 2^64: modulo bias below 2^-40 here. */
        int64_t j = (int64_t)(ttp_rng_u64(key, (uint64_t)i) % (uint64_t)(i + 1));
        int64_t t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
}

int64_t ttp_batch_indices(uint64_t seed, int64_t n, int64_t b, int64_t step, int64_t *perm,
                          int64_t *cached_epoch, int64_t *idx)
{
    if (b >= n) { /* full batch: every sample, in order */
        for (int64_t i = 0; i < n; i++) idx[i] = i;
        return n;
    }
    int64_t per_epoch = (n + b - 1) / b;
    int64_t epoch = step / per_epoch, k = step % per_epoch;
    if (*cached_epoch != epoch) {
        ttp_rng_permutation(seed, epoch, n, perm);
        *cached_epoch = epoch;
    }
    int64_t lo = k * b, hi = lo + b < n ? lo + b : n;
    for (int64_t i = lo; i < hi; i++) idx[i - lo] = perm[i];
    return hi - lo;
}

ttp_status ttp_tmpname(ttp_ctx *ctx, const char *path, char **tmp)
{
    const size_t len = strlen(path) + 32;
    *tmp = malloc(len);
    if (*tmp == NULL) return TTP_ERR(ctx, TTP_ERR_NOMEM, "no memory for a file name of %zu bytes", len);
    snprintf(*tmp, len, "%s.tmp.%ld", path, (long)getpid());
    return TTP_OK;
}

/* fsync a file or directory by name; errno on failure. */
static int sync_path(const char *path, int dir)
{
    int fd = open(path, dir ? O_RDONLY | O_DIRECTORY : O_RDONLY);
    if (fd < 0) return errno;
    int rc = fsync(fd) == 0 ? 0 : errno;
    close(fd);
    /* Some file systems cannot fsync a directory (EINVAL): the rename
     * itself is still done, so that is not an error. */
    return dir && rc == EINVAL ? 0 : rc;
}

ttp_status ttp_commit_file(ttp_ctx *ctx, const char *tmp, const char *path)
{
    int e = sync_path(tmp, 0);
    if (e != 0) {
        remove(tmp);
        return TTP_ERR(ctx, TTP_ERR_IO, "cannot write '%s': %s", path, strerror(e));
    }
    if (rename(tmp, path) != 0) {
        e = errno;
        remove(tmp);
        return TTP_ERR(ctx, TTP_ERR_IO, "cannot write '%s' (renaming '%s' to it): %s", path, tmp,
                       strerror(e));
    }
    const char *slash = strrchr(path, '/');
    char *dir = NULL;
    if (slash == NULL) {
        e = sync_path(".", 1);
    } else {
        const size_t n = slash == path ? 1 : (size_t)(slash - path);
        dir = malloc(n + 1);
        if (dir == NULL) return TTP_ERR(ctx, TTP_ERR_NOMEM, "no memory for a directory name");
        memcpy(dir, path, n);
        dir[n] = '\0';
        e = sync_path(dir, 1);
        free(dir);
    }
    if (e != 0)
        return TTP_ERR(ctx, TTP_ERR_IO, "wrote '%s' but could not sync its directory: %s", path, strerror(e));
    return TTP_OK;
}
