/*
 * ttp_jac.h — per-sample output Jacobians at the pretrained weights,
 * projected: the rows of G = J P that the kernel builder assembles.
 *
 * Row layout is sample-major: sample i, output c ↦ row i·C + c, the same
 * order as the stacked outputs F.  Columns are the D′ projected coordinates
 * (D′ = D, the trainable parameters in slab order, for TTP_PROJ_EXACT).
 * Because P comes from a counter-based generator keyed by (seed, row,
 * column), a row computed on any rank or device is bit-for-bit the same
 * function of the sample: results do not depend on the rank count.
 */
#ifndef TTP_JAC_H
#define TTP_JAC_H

#include "ttp_gnet.h"
#include "ttp_net.h"
#include "ttp_proj.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ttp_jac_plan ttp_jac_plan; /* opaque; body in jac.c */

/*
 * Plan the projection of a model's Jacobian rows.
 *   kind     EXACT, RADEMACHER, GAUSSIAN or KRON
 *   dproj    requested D′ (ignored for EXACT); must be in [1, D] for the
 *            dense kinds, else TTP_ERR_ARG naming D′ and D
 *   seed     key of the projection
 *   backend  "cpu", "cuda" or "auto": who computes the rows, for every kind
 *            ("cuda": the device stage, gpu/ttp_gnet.h; TTP_ERR_UNSUPPORTED
 *            with the reason when no device answers; "auto": cuda when one
 *            does).  The CPU path's dense projection uses the table of
 *            ttp_proj.h.
 * KRON splits D′ over the trainable layers in proportion to their weight
 * counts and chooses per layer k_out × k_in ≈ its share; the D′ actually
 * used (ttp_jac_plan_dim) can differ slightly from the request.
 */
ttp_status ttp_jac_plan_create(ttp_ctx *ctx, const ttp_model *m, ttp_proj_kind kind, int64_t dproj,
                               uint64_t seed, const char *backend, ttp_jac_plan **out);
void ttp_jac_plan_destroy(ttp_jac_plan **p);
/*
 * Optional, KRON only (a no-op returning TTP_OK for the other kinds):
 * measure each block's share of Θ (the trace of its part, Σ‖gradient‖²)
 * on ns samples and re-split D′ in proportion to it instead of to the
 * layers' sizes.  Worth it: a small layer (a classifier head) often carries
 * most of Θ, and a size-proportional split gives it few columns.  Every
 * rank must pass the same samples (e.g. the first few of the dataset) so
 * that every rank keeps the same plan; call before ttp_jac_plan_dim and
 * ttp_jac_rows.  `net` as for ttp_jac_rows (nbmax >= C); x is (ns, in).
 * Not collective.  (Added by the Jacobian module; additive to the API.)
 */
ttp_status ttp_jac_plan_calibrate(ttp_ctx *ctx, ttp_jac_plan *p, ttp_net *net, const double *w,
                                  const double *x, int64_t ns);
/*
 * The device Jacobian stage.  A plan whose backend resolved to cuda ("cuda",
 * or "auto" with a device) computes its rows with gpu/ttp_gnet.h for every
 * kind (ttp_jac_jvp and ttp_jac_plan_calibrate stay on the CPU).  Call
 * ttp_jac_plan_set_device once per rank before the first ttp_jac_rows with
 * the rank's place on its node (node_rank of node_size ranks, e.g. from
 * MPI_Comm_split_type SHARED; node_size <= 0 when unknown): the rank uses
 * device node_rank.  More ranks on a node than devices is an error when
 * `backend` is "cuda"; "auto" then falls back to the CPU on that node.
 * Without the call the device comes from the launcher's environment.
 * Not collective.
 */
ttp_status ttp_jac_plan_set_device(ttp_ctx *ctx, ttp_jac_plan *p, int node_rank, int node_size,
                                   const char *backend);
/*
 * Open a device network for the plan's model and projection (weights w),
 * on gnet backend "ref" (the CPU twin) or "cuda"; R cotangent rows per
 * sample (C for ttp_gnet_rows); nbmax <= 0 picks the block from a memory
 * budget.  For tests and benchmarks; ttp_jac_rows opens its own.
 */
ttp_status ttp_jac_gnet_open(ttp_ctx *ctx, const ttp_jac_plan *p, const double *w, const char *backend,
                             int device, int64_t nbmax, int64_t R, ttp_gnet **out);
/* The same for a model alone (exact rows; a model without trainable layers
 * too): forward and backward passes, for tests of every layer kind. */
ttp_status ttp_jac_gnet_open_model(ttp_ctx *ctx, const ttp_model *m, const double *w, const char *backend,
                                   int device, int64_t nbmax, int64_t R, ttp_gnet **out);
int64_t ttp_jac_plan_dim(const ttp_jac_plan *p);
ttp_proj_kind ttp_jac_plan_kind(const ttp_jac_plan *p);
const char *ttp_jac_plan_backend(const ttp_jac_plan *p);

/*
 * Projected Jacobian rows of ns samples (not collective; each rank calls it
 * on its own shard).
 *   net   a net for the plan's model with nbmax >= C (one forward pass per
 *         sample, then its C cotangent rows, the identity, together)
 *   w     parameter slab at which to linearize (normally model->w)
 *   x     (ns, in) inputs
 *   G     (ns·C) × D′ row-major, overwritten
 *   f0    ns·C network outputs at w (may be NULL)
 *   u0    ns·C values J_row · w_trainable, taken before projection (may be NULL)
 */
ttp_status ttp_jac_rows(ttp_ctx *ctx, ttp_jac_plan *p, ttp_net *net, const double *w, const double *x,
                        int64_t ns, double *G, double *f0, double *u0);

/*
 * Jacobian-vector product J(w) v on ns samples, exact (from the per-sample
 * gradient factors, as u0; no projection is applied whatever the plan's
 * kind).  Not collective.
 *   w   parameter slab at which J is taken;  v  a slab of the same layout
 *       (only its trainable entries are read)
 *   x   (ns, in) inputs;  jv  ns·C, overwritten
 * Costs one forward pass per sample and one backward pass of its C cotangents.
 */
ttp_status ttp_jac_jvp(ttp_ctx *ctx, ttp_jac_plan *p, ttp_net *net, const double *w, const double *v,
                       const double *x, int64_t ns, double *jv);

#ifdef __cplusplus
}
#endif
#endif /* TTP_JAC_H */
