/*
 * ttp_core.h — status codes, the error context, check macros, the
 * communicator abstraction and the counter-based random generator that every
 * ttpredict module shares.
 *
 * Error handling follows one rule: a library function returns a ttp_status;
 * on failure it has written a message into the caller's ttp_ctx and every
 * function it passes through on the way up appends (file, line, function) to
 * the trace.  Only the command-line layer ends the process.
 */
#ifndef TTP_CORE_H
#define TTP_CORE_H

#include <stddef.h>
#include <stdio.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    TTP_OK = 0,
    TTP_ERR_ARG,         /* a bad argument or option value                  */
    TTP_ERR_IO,          /* a file could not be opened, read or written     */
    TTP_ERR_FORMAT,      /* a file's content is not what the format demands */
    TTP_ERR_NOMEM,       /* an allocation failed                            */
    TTP_ERR_MPI,         /* an MPI or BLACS call failed                     */
    TTP_ERR_LAPACK,      /* LAPACK or ScaLAPACK returned info != 0          */
    TTP_ERR_NETCDF,      /* a NetCDF call failed                            */
    TTP_ERR_CUDA,        /* a CUDA or cuBLAS call failed                    */
    TTP_ERR_NUMERIC,     /* NaN/Inf or a divergent computation              */
    TTP_ERR_UNSUPPORTED, /* the build or the device cannot do this          */
    TTP_ERR_INTERNAL,    /* an invariant of ttpredict itself was broken     */
    TTP_STATUS_COUNT
} ttp_status;

/* Human-readable name of a status ("invalid argument", ...). */
const char *ttp_status_str(ttp_status s);

#define TTP_MSG_LEN 1024
#define TTP_TRACE_LEN 2048

/*
 * Error context.  Owned by the caller (usually on main's stack), passed to
 * every library call.  The library keeps no global state: everything a call
 * needs to report travels here.
 */
typedef struct ttp_ctx {
    ttp_status code;
    char msg[TTP_MSG_LEN];     /* first error's message                */
    char trace[TTP_TRACE_LEN]; /* "  at func (file:line)" lines, inner first */
    int rank;                  /* MPI rank of this process, 0 if serial */
    int verbose;               /* progress lines when > 0 (rank 0 only) */
    double progress_last;      /* time of the last progress line (throttle) */
} ttp_ctx;

void ttp_ctx_init(ttp_ctx *ctx);
/* Record an error; returns code so that it can be returned directly. */
ttp_status ttp_error_set(ttp_ctx *ctx, ttp_status code, const char *file, int line, const char *func,
                         const char *fmt, ...) __attribute__((format(printf, 6, 7)));
/* Append one frame to the trace of an error already set. */
void ttp_error_trace(ttp_ctx *ctx, const char *file, int line, const char *func);
/* Clear a recorded error (used when an error is expected and handled). */
void ttp_error_clear(ttp_ctx *ctx);

/* Set an error and return it from the current function. */
#define TTP_ERR(ctx, code, ...) ttp_error_set((ctx), (code), __FILE__, __LINE__, __func__, __VA_ARGS__)

/* Call a ttp function; on failure add a trace frame and return its status. */
#define TTP_CALL(ctx, expr)                                                                                  \
    do {                                                                                                     \
        ttp_status ttp_s_ = (expr);                                                                          \
        if (ttp_s_ != TTP_OK) {                                                                              \
            ttp_error_trace((ctx), __FILE__, __LINE__, __func__);                                            \
            return ttp_s_;                                                                                   \
        }                                                                                                    \
    } while (0)

/* Same, but for functions with one cleanup path: set `st` and goto `label`. */
#define TTP_CALL_GOTO(ctx, st, label, expr)                                                                  \
    do {                                                                                                     \
        (st) = (expr);                                                                                       \
        if ((st) != TTP_OK) {                                                                                \
            ttp_error_trace((ctx), __FILE__, __LINE__, __func__);                                            \
            goto label;                                                                                      \
        }                                                                                                    \
    } while (0)

/*
 * The one generic check for foreign libraries: `expr` is evaluated once into
 * an int; if it differs from `ok`, the error `code` is recorded with
 * strfn(result) (or the plain number when strfn is NULL) and `what`.
 * Specialised as TTP_NC (NetCDF), TTP_MPI (mpi/ttp_mpi.h), TTP_LAPACK
 * (info codes), TTP_CUDA / TTP_CUBLAS (gpu/ttp_gpu.h).
 */
const char *ttp_errstr_none(int rc);
#define TTP_CHECK_GEN(ctx, st, label, expr, ok, strfn, code, ...)                                            \
    do {                                                                                                     \
        int ttp_rc_ = (int)(expr);                                                                           \
        if (ttp_rc_ != (ok)) {                                                                               \
            char ttp_w_[512];                                                                                \
            snprintf(ttp_w_, sizeof ttp_w_, __VA_ARGS__);                                                    \
            (st) = ttp_error_set((ctx), (code), __FILE__, __LINE__, __func__, "%s: %s (code %d)", ttp_w_,    \
                                 strfn(ttp_rc_), ttp_rc_);                                                   \
            goto label;                                                                                      \
        }                                                                                                    \
    } while (0)

/* LAPACK/ScaLAPACK `info` check (0 is success). */
const char *ttp_lapack_infostr(int info);
#define TTP_LAPACK(ctx, st, label, info, ...)                                                                \
    TTP_CHECK_GEN(ctx, st, label, info, 0, ttp_lapack_infostr, TTP_ERR_LAPACK, __VA_ARGS__)

/* Allocation helpers: zeroed, overflow-checked; record TTP_ERR_NOMEM. */
void *ttp_calloc(ttp_ctx *ctx, size_t n, size_t size, const char *what);
#define TTP_ALLOC(ctx, st, label, ptr, n, what)                                                              \
    do {                                                                                                     \
        (ptr) = ttp_calloc((ctx), (size_t)(n), sizeof *(ptr), (what));                                       \
        if ((ptr) == NULL) {                                                                                 \
            (st) = TTP_ERR_NOMEM;                                                                            \
            ttp_error_trace((ctx), __FILE__, __LINE__, __func__);                                            \
            goto label;                                                                                      \
        }                                                                                                    \
    } while (0)

/*
 * Overflow-checked size arithmetic for every size read from a file or an
 * option: *out = a·b (ttp_size_mul) or a + b (ttp_size_add) for a, b ≥ 0.
 * A negative operand or a result beyond `limit` (INT64_MAX when limit ≤ 0)
 * is TTP_ERR_FORMAT with the printf-style description of what was being
 * sized ("model file m.nc: input shape"), both operands and the limit, so
 * that a hostile header becomes a message instead of a huge allocation or a
 * wrapped product.  Not collective.
 */
ttp_status ttp_size_mul(ttp_ctx *ctx, int64_t a, int64_t b, int64_t limit, int64_t *out, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));
ttp_status ttp_size_add(ttp_ctx *ctx, int64_t a, int64_t b, int64_t limit, int64_t *out, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));
/* The limit for sizes handed to BLAS/LAPACK, whose dimensions are int. */
#define TTP_SIZE_INT ((int64_t)2147483647)

/* Progress line on stderr from rank 0 when ctx->verbose: stage, percent, elapsed,
 * estimate; at most one line every 2 s, plus each stage's last line. */
void ttp_progress(ttp_ctx *ctx, const char *stage, double fraction, double t_start);

/* Wall-clock seconds (monotonic). */
double ttp_time(void);
/* Peak resident set size of this process in bytes (from getrusage). */
int64_t ttp_peak_rss(void);

/* ---------------------------------------------------------------------------
 * Communicator abstraction.  The core library never calls MPI: distributed
 * code paths take a ttp_comm, which is either the serial one below or the
 * MPI one from mpi/ttp_mpi.h.  All members are collective over the group.
 * A communicator also carries the distributed services that run over it:
 * `gram`, the distributed Gram builder (core/ttp_gram.h), is set by the MPI
 * communicator to its ScaLAPACK implementation and is NULL for the serial
 * one, whose users need no kernel stage.
 */
struct ttp_gram_ops;
typedef struct ttp_comm {
    int rank, size;
    void *impl; /* the implementation's own handle (NULL for serial)      */
    /* In-place sum over ranks of n doubles.                              */
    ttp_status (*allreduce_sum)(const struct ttp_comm *c, double *buf, int64_t n, ttp_ctx *ctx);
    /* In-place maximum over ranks of n doubles.                          */
    ttp_status (*allreduce_max)(const struct ttp_comm *c, double *buf, int64_t n, ttp_ctx *ctx);
    /* Broadcast `bytes` bytes from root.                                 */
    ttp_status (*bcast)(const struct ttp_comm *c, void *buf, int64_t bytes, int root, ttp_ctx *ctx);
    /* Max over ranks of an int (used to agree on a failure).             */
    ttp_status (*allreduce_max_int)(const struct ttp_comm *c, int *val, ttp_ctx *ctx);
    const struct ttp_gram_ops *gram; /* distributed Gram builder, or NULL */
    /* This rank's place among the ranks of its node (shared memory domain):
     * node_rank of node_size, for choosing a device; -1 and 0 when unknown
     * (the serial communicator). */
    int node_rank, node_size;
} ttp_comm;

/*
 * Agree on a failure.  Collective: every rank passes its own status `st`;
 * every rank returns non-OK when any rank failed.  A rank that did not fail
 * itself gets the other rank's status with a message naming `stage` ("see
 * that rank's message"), so that no rank walks into the next collective
 * while another has left.  Call it before every collective step that
 * follows work that can fail on one rank only (an allocation, a device, a
 * file).
 */
ttp_status ttp_comm_agree(ttp_ctx *ctx, const ttp_comm *comm, ttp_status st, const char *stage);

/* A one-rank communicator (rank 0, size 1). */
void ttp_comm_serial(ttp_comm *c);

/* Contiguous shard [lo, hi) of n items for `rank` of `size` (balanced). */
void ttp_shard(int64_t n, int rank, int size, int64_t *lo, int64_t *hi);

/* ---------------------------------------------------------------------------
 * Quantiles: the one definition behind every band (the curves' band in
 * ttp_curves_summarize, the training-time band in ttp_ttime_band).
 * Quantile q ∈ [0, 1] of n ≥ 1 values sorted ascending sits at the 0-based
 * position h = q (n − 1) (Hyndman & Fan's type 7, the default of R and
 * NumPy); the rule says how a fractional h is read:
 *   LINEAR   v[⌊h⌋] (1 − f) + v[⌊h⌋ + 1] f with f = h − ⌊h⌋ (type 7 itself),
 *            v[n − 1] at h = n − 1: for loss and accuracy curves
 *   NEAREST  v[⌊h + ½⌋], the nearest rank: always one of the values, for
 *            step counts (a member's time, or the "not reached" sentinel)
 * q outside [0, 1] is clamped.  Not collective; no allocation.
 */
typedef enum { TTP_QUANTILE_LINEAR = 0, TTP_QUANTILE_NEAREST = 1 } ttp_quantile_rule;
double ttp_quantile(const double *sorted, int64_t n, double q, ttp_quantile_rule rule);
/* Sort n doubles ascending in place (qsort; NaNs are not expected). */
void ttp_sort_doubles(double *v, int64_t n);

/* ---------------------------------------------------------------------------
 * Counter-based random numbers: a pure function of (key, counter), so any
 * rank or device can produce any entry without communication or state.
 * Implementation: Philox-like mixing by splitmix64 rounds (see ttp_core.c).
 */
uint64_t ttp_rng_u64(uint64_t key, uint64_t counter);
/* Uniform in [0, 1) with 53 random bits. */
double ttp_rng_uniform(uint64_t key, uint64_t counter);
/* Standard normal (Box–Muller on two counters 2c, 2c+1). */
double ttp_rng_normal(uint64_t key, uint64_t counter);
/* Derive an independent key from a key and a stream id. */
uint64_t ttp_rng_key(uint64_t seed, uint64_t stream);
/*
 * Random permutation of 0..n-1 for epoch `epoch` of stream `seed`
 * (Fisher–Yates driven by ttp_rng_u64).  `ttp train` and the simulated
 * SGD of `ttp predict` both draw their batches with this function, which is
 * what makes their minibatch sequences identical for the same seed.
 */
void ttp_rng_permutation(uint64_t seed, int64_t epoch, int64_t n, int64_t *perm);

/*
 * Minibatch schedule shared by training and simulation: step t (0-based) of
 * an epoch-permutation schedule with batch size b over n samples.  Batches
 * are consecutive chunks of the epoch's permutation; the last batch of an
 * epoch holds the n mod b leftover samples when that is non-zero.  Writes
 * the batch's sample indices into idx (capacity b) and returns their count.
 * `perm` is a caller-provided cache of n entries; `*cached_epoch` starts at
 * -1 and lets consecutive calls reuse the permutation.
 */
int64_t ttp_batch_indices(uint64_t seed, int64_t n, int64_t b, int64_t step, int64_t *perm,
                          int64_t *cached_epoch, int64_t *idx);

/* Write-then-rename: the temporary name "<path>.tmp.<pid>" for a final
 * output path, in a new string (*tmp; the caller frees it): allocated, so a
 * long path is never cut to the name of another file. */
ttp_status ttp_tmpname(ttp_ctx *ctx, const char *path, char **tmp);
/*
 * Make a finished temporary file the output: fsync it, rename it to path
 * (atomic on one file system), fsync the directory, so that after a crash
 * or a power loss the output is either the old file or the whole new one.
 * On failure the temporary file is removed and the error says why in plain
 * words ("No space left on device", "Permission denied").
 */
ttp_status ttp_commit_file(ttp_ctx *ctx, const char *tmp, const char *path);

#ifdef __cplusplus
}
#endif
#endif /* TTP_CORE_H */
