/*
 * mpi_faith.c — the faithfulness check's cheaper paths (src/predict/faith.c,
 * src/predict/sim.c) against the per-setting reference:
 *   - the trace that ttp_sim_run_traced carries along the dynamics (member
 *     0's outputs, cotangent a_t, decay c_t and loss at the points) equals a
 *     second simulation by ttp_faith_trace, for the dense Θ and the eigen
 *     form (SGD members in lockstep: a DGEMM instead of DGEMVs), GD and SGD,
 *     momentum, Nesterov and weight decay;
 *   - ttp_predict_faith_comm, its passes over the data split over the
 *     ranks and the weights of all points from one forward per block, gives
 *     the figures of the serial ttp_predict_faith on a second prediction
 *     that re-simulates the trace (at 1, 2 and 4 ranks).
 * Tolerances: both sides run the same recurrences; only the order of sums
 * differs (DGEMM against DGEMV, partial sums over ranks), ~1e-15 relative
 * per step, so 1e-10 relative leaves room for the growth over 40 steps.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>
#include <lapacke.h>

#include "ttp_mpi.h"
#include "ttpredict.h"
#include "ttp_test.h"

enum { N = 14, C = 3, NIN = 5 };

static void add_layer(ttp_ctx *ctx, ttp_model *m, ttp_layer_kind kind, int in0, int units)
{
    ttp_layer L;
    memset(&L, 0, sizeof L);
    L.kind = kind;
    snprintf(L.name, sizeof L.name, "l%d", m->nlayers);
    L.input[0] = in0, L.input[1] = -1;
    L.units = units;
    L.trainable = 1;
    CHECK_OK(ctx, ttp_model_add(ctx, m, &L, NULL));
}

/* dense(5→8) → relu → dense(8→3): small, non-linear in w */
static ttp_model *tiny_model(ttp_ctx *ctx)
{
    const int64_t shape[3] = {NIN, 1, 1};
    ttp_model *m = NULL;
    CHECK_OK(ctx, ttp_model_create(ctx, shape, &m));
    if (!m) return NULL;
    add_layer(ctx, m, TTP_LAYER_DENSE, -1, 8);
    add_layer(ctx, m, TTP_LAYER_RELU, 0, 0);
    add_layer(ctx, m, TTP_LAYER_DENSE, 1, C);
    CHECK_OK(ctx, ttp_model_build(ctx, m));
    ttp_model_init_weights(m, 9, 0);
    for (int64_t j = 0; j < m->nparams; j++) m->w[j] += 0.1 * ttp_rng_normal(41, (uint64_t)j);
    return m;
}

static ttp_data *tiny_data(ttp_ctx *ctx)
{
    const int64_t shape[3] = {NIN, 1, 1};
    ttp_data *d = NULL;
    CHECK_OK(ctx, ttp_data_create(ctx, N, 1, shape, C, &d));
    if (!d) return NULL;
    for (int64_t i = 0; i < N * NIN; i++) d->x[i] = ttp_rng_normal(5, (uint64_t)i);
    for (int64_t i = 0; i < N; i++) d->y[i] = (int)(i % C);
    return d;
}

/* Θ = J Jᵀ with J by central differences, F₀, u₀ = J w₀, and Θ's eigenpairs
 * (descending) */
typedef struct fixture {
    double theta[N * C * N * C], f0[N * C], u0[N * C], vecs[N * C * N * C], vals[N * C];
} fixture;

static void make_fixture(ttp_ctx *ctx, const ttp_model *m, const ttp_data *d, fixture *fx)
{
    const int64_t NC = N * C, D = m->ntrainable, P = m->nparams;
    double *J = calloc((size_t)(NC * D), sizeof *J), *w = malloc(sizeof(double) * P),
           *fp = malloc(sizeof(double) * NC), *fm = malloc(sizeof(double) * NC),
           *w0d = malloc(sizeof(double) * D);
    ttp_net *net = NULL;
    CHECK_OK(ctx, ttp_net_create(ctx, m, N, &net));
    CHECK_OK(ctx, ttp_net_forward(ctx, net, m->w, d->x, N, fx->f0));
    const double h = 1e-6;
    for (int64_t j = 0; j < D; j++) {
        double *wd = malloc(sizeof(double) * D);
        ttp_model_get_trainable(m, m->w, wd);
        for (int s = -1; s <= 1; s += 2) {
            double keep = wd[j];
            wd[j] = keep + s * h;
            memcpy(w, m->w, sizeof(double) * P);
            ttp_model_set_trainable(m, wd, w);
            CHECK_OK(ctx, ttp_net_forward(ctx, net, w, d->x, N, s < 0 ? fm : fp));
            wd[j] = keep;
        }
        for (int64_t r = 0; r < NC; r++) J[r * D + j] = (fp[r] - fm[r]) / (2 * h);
        free(wd);
    }
    ttp_model_get_trainable(m, m->w, w0d);
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, NC, NC, D, 1.0, J, D, J, D, 0.0, fx->theta, NC);
    cblas_dgemv(CblasRowMajor, CblasNoTrans, NC, D, 1.0, J, D, w0d, 1, 0.0, fx->u0, 1);
    memcpy(fx->vecs, fx->theta, sizeof fx->theta);
    double ev[N * C];
    CHECK(LAPACKE_dsyev(LAPACK_ROW_MAJOR, 'V', 'U', NC, fx->vecs, NC, ev) == 0);
    /* descending, as the kernel stores them */
    for (int64_t i = 0; i < NC; i++) fx->vals[i] = ev[NC - 1 - i];
    for (int64_t r = 0; r < NC; r++)
        for (int64_t i = 0; i < NC / 2; i++) {
            double t = fx->vecs[r * NC + i];
            fx->vecs[r * NC + i] = fx->vecs[r * NC + NC - 1 - i];
            fx->vecs[r * NC + NC - 1 - i] = t;
        }
    ttp_net_destroy(&net);
    free(J), free(w), free(fp), free(fm), free(w0d);
}

static double rel(double a, double b)
{
    if (a == b || (isnan(a) && isnan(b))) return 0.0;
    return fabs(a - b) / fmax(fabs(b), 1e-300);
}

/* The dynamics' trace against ttp_faith_trace's second simulation. */
static void check_trace(ttp_ctx *ctx, const fixture *fx, const ttp_data *d, const ttp_theta *th,
                        const ttp_opt *o, const char *what)
{
    const int64_t NC = N * C;
    ttp_sim_problem prob = {th, N, C, fx->f0, fx->u0, d->y, NULL};
    ttp_sim_trace *tr = NULL;
    CHECK_OK(ctx, ttp_faith_trace_alloc(ctx, o->steps, NC, &tr));
    if (!tr) return;
    ttp_sim_opts so = {4, 0, 0.05, 0.95};
    ttp_curves *cv = NULL;
    CHECK_OK(ctx, ttp_sim_run_traced(ctx, &prob, o, &so, tr, &cv));
    const int np = tr->npts;
    double *fl = malloc(sizeof(double) * np * NC), *a = malloc(sizeof(double) * np * NC), c[4], L[4];
    CHECK_OK(ctx, ttp_faith_trace(ctx, &prob, o, o->seed, np, tr->step, fl, a, c, L));
    double worst = 0, anorm = 0, fnorm = 0;
    for (int64_t r = 0; r < np * NC; r++) anorm = fmax(anorm, fabs(a[r])), fnorm = fmax(fnorm, fabs(fl[r]));
    for (int i = 0; i < np; i++) {
        worst = fmax(worst, rel(tr->loss[i], L[i]));
        worst = fmax(worst, fabs(tr->c[i] - c[i]) / fmax(fabs(c[i]), 1e-12));
        for (int64_t r = 0; r < NC; r++) {
            worst = fmax(worst, fabs(tr->f_lin[i * NC + r] - fl[i * NC + r]) / fnorm);
            worst = fmax(worst, fabs(tr->a[i * NC + r] - a[i * NC + r]) / anorm);
        }
        CHECK(tr->loss[i] == cv->member_loss[tr->step[i]]); /* member 0 itself */
    }
    printf("  trace %-40s %d points, worst relative difference %.2e\n", what, np, worst);
    CHECK(worst < 1e-10);
    ttp_curves_destroy(&cv);
    free(tr), free(fl), free(a);
}

static void check_comm(ttp_ctx *ctx, const ttp_comm *comm, const ttp_model *m, const ttp_data *d, fixture *fx,
                       const ttp_predict_opts *o, const char *what)
{
    ttp_kernel k;
    memset(&k, 0, sizeof k);
    k.n = N, k.c = C, k.d = k.dproj = m->ntrainable;
    k.f0 = fx->f0, k.u0 = fx->u0, k.labels = d->y;
    k.neig = N * C, k.eigval = fx->vals, k.eigvec = fx->vecs;
    ttp_prediction *p = NULL, *q = NULL;
    if (comm->rank == 0) {
        CHECK_OK(ctx, ttp_predict_from_kernel(ctx, &k, o, N, NAN, &p));
        CHECK_OK(ctx, ttp_predict_from_kernel(ctx, &k, o, N, NAN, &q));
        if (!p || !q) return;
        CHECK(p->faith_trace != NULL);
        free(q->faith_trace); /* the reference re-simulates */
        q->faith_trace = NULL;
        CHECK_OK(ctx, ttp_predict_faith(ctx, m, d, &k, o, q));
    }
    CHECK_OK(ctx, ttp_predict_faith_comm(ctx, comm, m, d, comm->rank == 0 ? &k : NULL, o, p));
    if (comm->rank != 0) return;
    const ttp_faith *a = &p->faith, *b = &q->faith;
    CHECK(a->npoints == b->npoints && a->npoints == 3);
    CHECK(p->faith_trace == NULL);
    double worst = 0;
    for (int i = 0; i < a->npoints; i++) {
        CHECK(a->step[i] == b->step[i]);
        worst = fmax(worst, rel(a->loss_lin[i], b->loss_lin[i]));
        worst = fmax(worst, rel(a->loss_real[i], b->loss_real[i]));
        worst = fmax(worst, rel(a->out_gap[i], b->out_gap[i]));
        worst = fmax(worst, rel(a->loss_gap[i], b->loss_gap[i]));
        worst = fmax(worst, rel(a->dw_rel[i], b->dw_rel[i]));
        /* the kernel gap is a difference quotient: ~1e-10 absolute noise */
        worst = fmax(worst, fabs(a->kernel_gap[i] - b->kernel_gap[i]) / fmax(b->kernel_gap[i], 1e-3));
    }
    printf("  faith %-40s %d ranks: worst out gap %.4g (ref %.4g), worst relative difference %.2e\n", what,
           comm->size, a->worst_out_gap, b->worst_out_gap, worst);
    CHECK(worst < 1e-8);
    CHECK(p->valid == q->valid);
    CHECK(p->main.tt[0].lo == q->main.tt[0].lo && p->main.tt[0].hi == q->main.tt[0].hi);
    ttp_prediction_destroy(&p);
    ttp_prediction_destroy(&q);
}

int main(int argc, char **argv)
{
    ttp_ctx ctx;
    ttp_ctx_init(&ctx);
    if (ttp_mpi_init(&ctx, &argc, &argv) != TTP_OK) {
        fprintf(stderr, "MPI init failed: %s\n", ctx.msg);
        return 1;
    }
    MPI_Comm wc = MPI_COMM_WORLD;
    ttp_comm world;
    ttp_mpi_comm(&world, &wc);
    ttp_model *m = tiny_model(&ctx);
    ttp_data *d = tiny_data(&ctx);
    fixture *fx = calloc(1, sizeof *fx);
    if (!m || !d || !fx) return ttp_test_end("mpi_faith");
    make_fixture(&ctx, m, d, fx);
    const ttp_theta dense = {N, C, fx->theta, 0, NULL, NULL};
    const ttp_theta eig = {N, C, NULL, N * C, fx->vecs, fx->vals};

    const struct {
        const char *what;
        ttp_loss_kind loss;
        double lr, mom, wd;
        int nesterov;
        int64_t batch;
    } cases[] = {
        {"GD, CE", TTP_LOSS_CE, 0.3, 0, 0, 0, 0},
        {"SGD |B| 5, heavy ball 0.9, CE", TTP_LOSS_CE, 0.1, 0.9, 0, 0, 5},
        {"SGD |B| 4, Nesterov 0.7, MSE, wd", TTP_LOSS_MSE, 0.03, 0.7, 0.05, 1, 4},
        {"GD, heavy ball 0.5, MSE, wd", TTP_LOSS_MSE, 0.05, 0.5, 0.02, 0, 0},
    };
    if (world.rank == 0) printf("the dynamics' trace against a second simulation:\n");
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ttp_opt o;
        ttp_opt_default(&o);
        o.steps = 40, o.loss = cases[i].loss, o.lr = cases[i].lr, o.momentum = cases[i].mom;
        o.wd = cases[i].wd, o.nesterov = cases[i].nesterov, o.batch = cases[i].batch;
        if (world.rank == 0) {
            check_trace(&ctx, fx, d, &dense, &o, cases[i].what);
            check_trace(&ctx, fx, d, &eig, &o, cases[i].what);
        }
        ttp_predict_opts po;
        ttp_predict_opts_default(&po);
        po.opt = o;
        po.sim.ensemble = 4;
        po.time_reps = 0;
        check_comm(&ctx, &world, m, d, fx, &po, cases[i].what);
    }
    free(fx);
    ttp_model_destroy(&m);
    ttp_data_destroy(&d);
    int rc = ttp_test_end("mpi_faith");
    ttp_mpi_finalize();
    return rc;
}
