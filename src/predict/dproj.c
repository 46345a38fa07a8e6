/*
 * dproj.c — the projected dimension chosen from the measured kernel gap
 * (docs/METHOD.md §6l).  The faithfulness check measures J Δw_t, the real
 * network's own first-order response to the linearized weights, against
 * the linear model's outputs: the part of the output gap that is the
 * projected kernel's error.  Re-linearizing cannot remove it (every
 * segment's kernel is projected alike), a larger D′ does, so where it
 * reaches TTP_FAITH_KGAP_NAMED the kernel is rebuilt at TTP_DPROJ_FACTOR
 * times the requested D′ and the setting predicted and checked again.
 */
#include "ttp_predict.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ttp_kbuild.h"

int ttp_predict_dproj_raises(const ttp_predict_opts *o)
{
    if (o->kernel_in) return 0; /* a reused kernel is the user's choice */
    if (o->dproj_raise >= 0) return o->dproj_raise;
    return o->kernel.proj == TTP_PROJ_AUTO && o->kernel.dproj == 0 ? TTP_DPROJ_RAISES : 0;
}

double ttp_faith_worst_kernel_gap(const ttp_faith *fa)
{
    double g = 0;
    for (int i = 0; i < fa->npoints; i++)
        if (isfinite(fa->kernel_gap[i]) && fa->kernel_gap[i] > g) g = fa->kernel_gap[i];
    return g;
}

/* Rank 0: whether prediction p, from a kernel built with options ko (as
 * given, proj possibly auto), should be rebuilt at a larger D′, and the
 * options for it in *next.  1 raise, 0 not (with the reason in note when a
 * raise was wanted but does not fit). */
static int want_raise(ttp_ctx *ctx, const ttp_comm *comm, const ttp_model *model, const ttp_data *kd,
                      const ttp_predict_opts *o, const ttp_kernel_opts *ko, const ttp_prediction *p,
                      ttp_kernel_opts *next, char *note, size_t len)
{
    ttp_kernel_opts res = *ko;
    ttp_kernel_opts_resolve(&res, model->ntrainable);
    if (res.proj == TTP_PROJ_EXACT || p->dproj >= p->d) return 0;
    /* Where the linear model blows up, or single batches pass the linear
     * limit (a chaotic member-0 path, §6j), J Δw is taken over a huge or
     * erratic Δw and its gap is the finite difference's, not the
     * projection's: measured on the tabular tasks, a 4-fold D′ left it
     * where it was (10⁴⁰ and more past the MSE figure). */
    if (p->blowup || p->batch_stab_max > 1.0) return 0; /* per-batch figure 2·s past 2 */
    if (ttp_faith_worst_kernel_gap(&p->faith) < TTP_FAITH_KGAP_NAMED) return 0;
    /* TTP_DPROJ_FACTOR times the requested D′, and again where a kron
     * sketch's per-layer floor would leave the kernel's D′ where it is
     * (asked 16 or 64, the bundled network's sketch has 83) */
    ttp_plan_in in = {kd->n, comm->size, o->sim.ensemble, o->opt.steps, o->opt.batch, 0.0};
    ttp_plan plan;
    int64_t want = res.dproj;
    do {
        want *= TTP_DPROJ_FACTOR;
        *next = *ko;
        next->dproj = want;
        /* the automatic projection turns exact where D′ would reach D / 2
         * (ttp_kernel_opts_resolve); a kind given by the user stays, up to D */
        if (ko->proj != TTP_PROJ_AUTO && want >= model->ntrainable) {
            next->proj = TTP_PROJ_EXACT;
            next->dproj = 0;
        }
        if (ttp_plan_estimate(ctx, next, model, &in, &plan) != TTP_OK) {
            ttp_error_clear(ctx);
            snprintf(note, len, "D' kept at %lld: the memory plan for D' = %lld could not be made",
                     (long long)p->dproj, (long long)want);
            return 0;
        }
    } while (plan.dproj <= p->dproj && want < model->ntrainable);
    if (!plan.fits) {
        snprintf(note, len, "D' kept at %lld: a kernel at D' = %lld would not fit in memory on %d rank(s)",
                 (long long)p->dproj, (long long)want, comm->size);
        return 0;
    }
    return 1;
}

ttp_status ttp_predict_dproj_raise(ttp_ctx *ctx, const ttp_comm *comm, const ttp_model *model,
                                   const ttp_data *kd, const ttp_predict_opts *o, int64_t n_target,
                                   double sec_per_step, ttp_prediction **p, ttp_kernel **k_raised,
                                   ttp_kernel_opts *ko_out)
{
    ttp_status st = TTP_OK;
    const int root = comm->rank == 0;
    ttp_kernel *cur = NULL, *knew = NULL;
    ttp_prediction *pnew = NULL;
    ttp_kernel_opts ko = o->kernel;
    const int allowed = ttp_predict_dproj_raises(o);
    const double t0 = ttp_time();
    int64_t first = root ? (*p)->dproj : 0;
    double first_gap = root ? ttp_faith_worst_kernel_gap(&(*p)->faith) : 0;
    char note[192] = "";
    *k_raised = NULL;
    *ko_out = ko;
    for (int r = 0; r < allowed; r++) {
        ttp_kernel_opts next = ko;
        /* [0] raise or not, [1] proj, [2] dproj: rank 0 decides for all */
        int64_t go[3] = {0, 0, 0};
        if (root && want_raise(ctx, comm, model, kd, o, &ko, *p, &next, note, sizeof note))
            go[0] = 1, go[1] = next.proj, go[2] = next.dproj;
        TTP_CALL_GOTO(ctx, st, done, comm->bcast(comm, go, (int64_t)sizeof go, 0, ctx));
        if (!go[0]) break;
        next.proj = (ttp_proj_kind)go[1];
        next.dproj = go[2];
        ttp_predict_opts po = *o;
        po.kernel = next;
        TTP_CALL_GOTO(ctx, st, done, ttp_kernel_build(ctx, comm, model, kd, &next, &knew));
        if (root) st = ttp_predict_from_kernel(ctx, knew, &po, n_target, sec_per_step, &pnew);
        TTP_CALL_GOTO(ctx, st, done, ttp_comm_agree(ctx, comm, st, "the raised projection's dynamics"));
        TTP_CALL_GOTO(ctx, st, done, ttp_predict_faith_comm(ctx, comm, model, kd, knew, &po, pnew));
        if (root) {
            ttp_prediction_destroy(p);
            *p = pnew;
            pnew = NULL;
            (*p)->dproj_raises = r + 1;
        }
        ttp_kernel_destroy(&cur);
        cur = knew;
        knew = NULL;
        ko = next;
    }
    if (root && allowed > 0 && !note[0] && (*p)->dproj_raises == allowed && (*p)->dproj < (*p)->d &&
        ttp_faith_worst_kernel_gap(&(*p)->faith) >= TTP_FAITH_KGAP_NAMED)
        snprintf(note, sizeof note,
                 "after %d raise(s) the kernel gap at D' = %lld is still %.0f%%: a larger --dproj-raise or "
                 "--dproj",
                 allowed, (long long)(*p)->dproj, 100 * ttp_faith_worst_kernel_gap(&(*p)->faith));
    if (root && (*p)->dproj_raises > 0) {
        (*p)->dproj_first = first;
        (*p)->dproj_first_kgap = first_gap;
        (*p)->sec_dproj = ttp_time() - t0;
    }
    if (root) snprintf((*p)->dproj_note, sizeof(*p)->dproj_note, "%s", note);
    *k_raised = cur;
    cur = NULL;
    *ko_out = ko;
done:
    ttp_prediction_destroy(&pnew);
    ttp_kernel_destroy(&knew);
    ttp_kernel_destroy(&cur);
    return st;
}
