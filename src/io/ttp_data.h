/*
 * ttp_data.h — datasets: the in-memory form, the NetCDF format, checks,
 * subsets and splits, standardization, and converters from the formats users
 * have (IDX, CSV, NumPy .npy).
 *
 * NetCDF dataset format (documented for users in docs/formats/dataset.md):
 *   dimensions  sample (N), and either feature (F)
 *               or channel (C), height (H), width (W);  class (K) when labelled;
 *               target (T) for real-valued targets
 *   variables   double inputs(sample, feature) | inputs(sample, channel, height, width)
 *               int    labels(sample)            values in [0, K)
 *               double targets(sample, target)   optional, regression targets
 *               double input_mean(<per-sample dims>), input_scale(<per-sample dims>)
 *                      optional, both or neither: the inputs were standardized,
 *                      stored = (raw - input_mean) / input_scale, per feature
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
    double *mean;  /* dim values, or NULL: the per-feature mean subtracted   */
    double *scale; /* dim values (> 0), or NULL: the divisor after that;
                      both set or both NULL (see ttp_data_standardize)       */
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
 * CSV: one sample per line, label in column `label_col` (0-based, -1: none),
 * the other columns are features; ttp_data_from_csv_opts for the rest. */
ttp_status ttp_data_from_idx(ttp_ctx *ctx, const char *images, const char *labels, ttp_data **out);
ttp_status ttp_data_from_csv(ttp_ctx *ctx, const char *path, int label_col, ttp_data **out);

/*
 * CSV options.  Columns count from 0 here (the command line counts from 1).
 *
 * Header rule: the DATA lines decide the column count.  W = the cell count
 * of the second non-blank line, "confirmed" when the third has it too.  The
 * first non-blank line is a header when header = 1 (or label_name is given),
 * or, with header = -1 (automatic), when
 *   - any of its cells outside the label and dropped columns is not a
 *     number (a textual header), or
 *   - its cell count differs from a confirmed W ("178,13,3" above 14-column
 *     data).
 * Otherwise (and always with header = 0) it is data and sets the width.  A
 * two-line file of two widths is therefore a width error on line 2, not a
 * guessed header.  A header's cells never become class names.
 *
 * Labels: when every cell of the label column is a non-negative integer, the
 * labels are those integers (K = max + 1, names "0".."K-1"); otherwise every
 * distinct string is a class: the sorted unique strings (byte order) become
 * labels 0..K-1 and are stored as the class names ("B;M").
 */
typedef struct ttp_csv_opts {
    int label_col;          /* 0-based label column, -1: none                 */
    const char *label_name; /* or the header cell naming it (NULL: unused)    */
    const int *drop;        /* ndrop 0-based columns to ignore, or NULL       */
    int ndrop;
    int header; /* -1 automatic (above), 0 no header, 1 header    */
} ttp_csv_opts;
/* Serial (under MPI one rank converts).  Errors name the file, the line and
 * the column (1-based) and what was expected. */
ttp_status ttp_data_from_csv_opts(ttp_ctx *ctx, const char *path, const ttp_csv_opts *o, ttp_data **out);

/*
 * NumPy .npy arrays (format versions 1.0, 2.0, 3.0): features x_path of shape
 * (N, F), (N, H, W) (stored as (N, 1, H, W)) or (N, C, H, W), dtype float32,
 * float64 or any integer type (values taken as they are); labels y_path (may
 * be NULL) of shape (N,) or (N, 1) and an integer dtype, values in [0, 10^5),
 * K = max + 1.  Little-endian and C order only: a big-endian dtype or
 * fortran_order True is refused with the way to re-save the array.  The
 * header dict is parsed strictly (exactly the keys descr, fortran_order,
 * shape) and the data size checked against the file size before reading.
 * Serial.  Errors name the file and the header field.
 */
ttp_status ttp_data_from_npy(ttp_ctx *ctx, const char *x_path, const char *y_path, ttp_data **out);

/*
 * Standardize in place: mean_j and scale_j = the population standard
 * deviation of input value j over the samples (scale 1 where it is zero, up
 * to rounding: a constant feature is only centred), inputs become
 * (x - mean) / scale, and both vectors are kept in d (written as input_mean /
 * input_scale).  constant (may be NULL; d->dim entries) receives 1 for each
 * zero-variance value, 0 for the others; *nconst (may be NULL) their count.
 * Refused when d is already standardized.  Serial.
 */
ttp_status ttp_data_standardize(ttp_ctx *ctx, ttp_data *d, unsigned char *constant, int64_t *nconst);
/* Apply ref's stored mean and scale to d (same values per sample required;
 * ref must be standardized, d must not be) and keep them in d. */
ttp_status ttp_data_standardize_like(ttp_ctx *ctx, ttp_data *d, const ttp_data *ref, const char *ref_name);

/*
 * Renumber the classes that have samples to 0..K'-1 in increasing order of
 * their old labels; class names follow (a class keeps its name, so labels
 * 1..3 become classes 0..2 named "1", "2", "3").  mode:
 *   TTP_RELABEL_NO    nothing changes;
 *   TTP_RELABEL_ONE   only when the labels present are exactly 1..K (one-based,
 *                     as many tabular datasets number classes) and no sample
 *                     has label 0;
 *   TTP_RELABEL_YES   whenever some class 0..K-1 has no samples.
 * *changed (may be NULL) receives 1 when the labels were renumbered.  An
 * unlabelled dataset is left alone.  Serial.
 */
typedef enum { TTP_RELABEL_NO = 0, TTP_RELABEL_ONE = 1, TTP_RELABEL_YES = 2 } ttp_relabel_mode;
ttp_status ttp_data_relabel(ttp_ctx *ctx, ttp_data *d, ttp_relabel_mode mode, int *changed);

/*
 * Splits.  A split makes nparts new datasets from d's samples, each keeping
 * file order, d's provenance (history gets `note` appended), its class names
 * and its standardization.  Exactly one way of choosing:
 *   groups: ngroups lists of classes (groups[g][0..group_len[g]));
 *           part g holds every sample whose class is in group g; with rest,
 *           part ngroups holds the classes of no group.
 *   fraction in (0, 1): part 0 gets round(fraction * N_k) samples of each
 *           class k, part 1 the others (stratified halves, train/test).
 *   per_class > 0: part 0 gets per_class samples of each class (a class
 *           with fewer is an error), part 1 the others.
 * fraction and per_class may be combined with one group: they then split
 * that group's samples.  pick says which samples of a class part 0 gets:
 * the first in file order, or a uniformly random subset (seeded, the same on
 * every machine).  relabel renumbers each part's classes 0..K'-1 in
 * increasing order of their old labels (the classes the part is drawn from:
 * its group, or all of d's classes); names follow.  Unlabelled data can be
 * split by fraction or per_class (then over all samples).
 * parts receives nparts datasets (the caller destroys them); on failure
 * none.  Serial, and the same on every machine for the same arguments.
 */
typedef enum { TTP_SPLIT_FIRST = 0, TTP_SPLIT_RANDOM = 1 } ttp_split_pick;
#define TTP_SPLIT_MAX_PARTS 64
typedef struct ttp_split_opts {
    int ngroups;
    const int *const *groups;
    const int *group_len;
    int rest;
    double fraction;
    int64_t per_class;
    ttp_split_pick pick;
    uint64_t seed;
    int relabel;
} ttp_split_opts;
/* Number of parts these options make (0 when they choose no way). */
int ttp_split_nparts(const ttp_split_opts *o);
ttp_status ttp_data_split(ttp_ctx *ctx, const ttp_data *d, const ttp_split_opts *o, const char *note,
                          ttp_data **parts);

#ifdef __cplusplus
}
#endif
#endif /* TTP_DATA_H */
