/*
 * ttp_data.h — datasets: the in-memory form, the NetCDF format, checks,
 * subsets, and converters from the formats users have (IDX, CSV).
 *
 * NetCDF dataset format (documented for users in docs/formats/dataset.md):
 *   dimensions  sample (N), and either feature (F)
 *               or channel (C), height (H), width (W);  class (K) when labelled;
 *               target (T) for real-valued targets
 *   variables   double inputs(sample, feature) | inputs(sample, channel, height, width)
 *               int    labels(sample)            values in [0, K)
 *               double targets(sample, target)   optional, regression targets
 *   global attributes
 *               ttp_kind = "dataset"   (required)
 *               class_names = "zero;one;..." (K names separated by ';', when labelled)
 *               title, source, license, history   (provenance, free text)
 */
#ifndef TTP_DATA_H
#define TTP_DATA_H

#include "ttp_core.h"

#ifdef __cplusplus
extern "C" {
#endif

#define TTP_NAME_LEN 256
#define TTP_ATTR_LEN 4096

typedef struct ttp_data {
    int64_t n;          /* number of samples N                                */
    int ndim;           /* 1 (features) or 3 (channel, height, width)         */
    int64_t shape[3];   /* per-sample shape; unused entries are 1             */
    int64_t dim;        /* product of shape: values per sample                */
    double *x;          /* N × dim, sample-major (row-major (N, C, H, W))      */
    int nclasses;       /* K; 0 when the dataset carries no labels            */
    int *y;             /* N labels in [0, K), or NULL                        */
    int ntargets;       /* T; 0 when there are no real targets                */
    double *targets;    /* N × T, or NULL                                     */
    char **class_names; /* K strings, or NULL                                 */
    char title[TTP_ATTR_LEN], source[TTP_ATTR_LEN], license[TTP_ATTR_LEN], history[TTP_ATTR_LEN];
} ttp_data;

/* The most classes a dataset may have (from its class dimension, its class
 * names or its largest label + 1): far above any classification benchmark,
 * and low enough that a hostile label (10^9) cannot make a reader allocate
 * gigabytes of class names. */
#define TTP_DATA_MAX_CLASSES 100000

/* Allocate an empty dataset of n samples of the given shape (ndim 1 or 3);
 * labels are allocated when nclasses > 0 (names default to "0", "1", ...). */
ttp_status ttp_data_create(ttp_ctx *ctx, int64_t n, int ndim, const int64_t *shape, int nclasses,
                           ttp_data **out);
/* Free a dataset; accepts NULL and sets *d to NULL. */
void ttp_data_destroy(ttp_data **d);

/*
 * Read a dataset file.  Every problem is reported with the file name and the
 * variable or attribute concerned: not a NetCDF file, a missing variable,
 * dimension sizes that disagree, labels outside [0, K), NaN/Inf in inputs.
 * Serial; under MPI every rank reads the file itself (datasets are small
 * next to the kernel).
 */
ttp_status ttp_data_read(ttp_ctx *ctx, const char *path, ttp_data **out);
/* Write a dataset (to path.tmp.PID, renamed to path on success). */
ttp_status ttp_data_write(ttp_ctx *ctx, const char *path, const ttp_data *d);
/* Check internal consistency (finite inputs, labels in range). */
ttp_status ttp_data_validate(ttp_ctx *ctx, const ttp_data *d, const char *where);

/*
 * Select the samples whose label is in classes[0..nsel) (in that order of
 * classes, which become labels 0..nsel-1), at most per_class of each
 * (per_class <= 0: all), keeping their order in the file.  Used to build the
 * default fine-tuning task.  `out` is a new dataset.
 */
ttp_status ttp_data_select_classes(ttp_ctx *ctx, const ttp_data *d, const int *classes, int nsel,
                                   int64_t per_class, ttp_data **out);
/* The first n samples of every class in proportion (stratified), n <= N.
 * Deterministic: keeps the samples in file order. */
ttp_status ttp_data_take(ttp_ctx *ctx, const ttp_data *d, int64_t n, ttp_data **out);

/* Converters.  IDX: MNIST-style images file (+ labels file, may be NULL).
 * CSV: one sample per line, label in column `label_col` (-1: none), the other
 * columns are features; a header line is detected and skipped. */
ttp_status ttp_data_from_idx(ttp_ctx *ctx, const char *images, const char *labels, ttp_data **out);
ttp_status ttp_data_from_csv(ttp_ctx *ctx, const char *path, int label_col, ttp_data **out);

#ifdef __cplusplus
}
#endif
#endif /* TTP_DATA_H */
