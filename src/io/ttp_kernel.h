/*
 * ttp_kernel.h — the result of the kernel stage (the projected empirical NTK
 * Θ = G Gᵀ of a training set, its spectrum and the projections of the
 * initial residual and loss gradient on its eigenvectors), and its NetCDF
 * file (docs/formats/kernel.md).
 *
 * Layout conventions (docs/METHOD.md §2): outputs are stacked sample-major, index
 * (i, c) ↦ i·C + c, so every NC-vector (f0, u0, an eigenvector column) and
 * every row/column of Θ uses that order.  Eigenvalues are those of Θ itself
 * (not of Θ/N), in descending order; only the "non-zero" part is kept (see
 * ttp_kernel_build in mpi/ttp_gram.h for the threshold).
 *
 * The builder itself (collective, ScaLAPACK) is declared in mpi/ttp_gram.h;
 * this header and kernel_io.c stay MPI-free so that serial tools can read a
 * kernel file.
 */
#ifndef TTP_KERNEL_H
#define TTP_KERNEL_H

#include "ttp_core.h"
#include "ttp_data.h"
#include "ttp_model.h"
#include "ttp_backend.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ttp_kernel {
    int64_t n;          /* N samples                                          */
    int c;              /* C outputs per sample                               */
    int64_t d, dproj;   /* D trainable weights, D′ projected dimension        */
    ttp_proj_kind proj; /* projection used for G = J P                        */
    uint64_t seed;      /* projection key                                     */
    char backend[16];   /* "cpu" or "cuda": who applied the projection        */
    int side;           /* 0: NC×NC Θ decomposed, 1: D′×D′ GᵀG decomposed      */
    double *f0, *u0;    /* NC: outputs at w₀, and J w₀ (before projection)    */
    int *labels;        /* N labels, or NULL                                  */
    double *targets;    /* N × ntargets real targets, or NULL                 */
    int ntargets;
    int64_t neig;               /* number of kept (non-zero) eigenpairs               */
    double *eigval;             /* neig eigenvalues of Θ (not /N), descending         */
    double *eigvec;             /* NC × neig row-major, or NULL                       */
    double *p_res;              /* neig: Vᵀ(F0 − Y), Y one-hot labels or the targets  */
    double *p_grad;             /* neig: Vᵀ g_CE(F0) (softmax(F0) − one-hot), or NULL  */
    double res_energy;          /* ‖F0 − Y‖²: Σ p_res² falls short of it by the        */
    double grad_energy;         /* ‖g_CE(F0)‖²   energy outside the kept modes         */
    double *theta;              /* NC × NC row-major, or NULL                          */
    double trace;               /* trace(Θ) = ‖G‖_F²                                   */
    uint64_t model_fp, data_fp; /* provenance: ttp_model_fingerprint, ttp_data_fingerprint */
    char model_path[1024], data_path[1024];
    char trainable[1024];                         /* the model's trainable layers (ttp_model_trainable_names);
                             informative, the fingerprint covers them */
    double sec_jac, sec_gram, sec_eig, sec_total; /* wall seconds per stage (max over ranks) */
    int64_t peak_rss_max;                         /* bytes, max over ranks                               */
    int nranks;                                   /* MPI ranks that built it                             */
    char assembly[16];                            /* how the Gram matrix was formed: "shared", "ring",
                              "pdsyrk" (not stored in the file)                  */
    char path[1024];                              /* the file it was read from ("" when built here): named
                              by ttp_kernel_check_provenance's messages           */
} ttp_kernel;

/* An empty kernel (all arrays NULL, scalars zero). */
ttp_status ttp_kernel_create(ttp_ctx *ctx, ttp_kernel **out);
/* Free a kernel and its arrays; accepts NULL and sets *k to NULL. */
void ttp_kernel_destroy(ttp_kernel **k);

/*
 * Write a kernel file (NetCDF-4, docs/formats/kernel.md): to a temporary name
 * next to `path`, renamed on success, removed on failure.  The arrays that
 * are NULL are simply absent from the file.  Serial (rank 0 calls it).
 */
ttp_status ttp_kernel_write(ttp_ctx *ctx, const char *path, const ttp_kernel *k);
/*
 * Read a kernel file.  Every problem names the file and the variable or
 * attribute: not a NetCDF file, ttp_kind not "kernel", a missing variable,
 * sizes that disagree, non-finite or non-descending eigenvalues.
 */
ttp_status ttp_kernel_read(ttp_ctx *ctx, const char *path, ttp_kernel **out);

/* 64-bit hash of a dataset's inputs, shape, labels and targets (not of its
 * free-text attributes): two datasets with equal fingerprints hold the same
 * samples in the same order. */
uint64_t ttp_data_fingerprint(const ttp_data *d);

/*
 * Check that a kernel was computed for this model and dataset (by
 * fingerprint, then by N and C).  TTP_ERR_ARG with "kernel file X was
 * computed for another model (…)" or "… another dataset (…)", naming the
 * model/data paths recorded in the kernel, when not.  model or data may be NULL to skip
 * that half of the check.
 */
ttp_status ttp_kernel_check_provenance(ttp_ctx *ctx, const ttp_kernel *k, const ttp_model *model,
                                       const ttp_data *data);

#ifdef __cplusplus
}
#endif
#endif /* TTP_KERNEL_H */
