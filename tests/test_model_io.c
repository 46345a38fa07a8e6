/*
 * test_model_io.c — the model file: a round trip keeps every attribute,
 * weight and statistic bit for bit; malformed files (written here with the
 * raw NetCDF API, independently of ttp_model_write) are rejected with a
 * message naming the problem and the layer; the input-shape, class-count and
 * option checks name what is wrong; head replacement and clone behave.
 */
#include <dirent.h>
#include <netcdf.h>
#include <string.h>
#include <unistd.h>

#include "ttp_train.h"
#include "ttp_test.h"

static char dir[256];

static void path_of(char *buf, size_t len, const char *name)
{
    snprintf(buf, len, "%s/%s", dir, name);
}

static void fill_random(ttp_model *m, uint64_t key)
{
    for (int64_t j = 0; j < m->nparams; j++) m->w[j] = ttp_rng_normal(key, (uint64_t)j);
    for (int64_t j = 0; j < m->nstate; j++) m->state[j] = 0.5 + ttp_rng_uniform(key + 1, (uint64_t)j);
}

static void check_same(const ttp_model *a, const ttp_model *b)
{
    CHECK(a->nlayers == b->nlayers && a->nout == b->nout && a->nparams == b->nparams &&
          a->nstate == b->nstate && a->ntrainable == b->ntrainable);
    for (int i = 0; i < 3; i++) CHECK(a->in_shape[i] == b->in_shape[i]);
    if (a->nlayers != b->nlayers || a->nparams != b->nparams || a->nstate != b->nstate) return;
    for (int i = 0; i < a->nlayers; i++) {
        const ttp_layer *x = &a->layers[i], *y = &b->layers[i];
        CHECK(x->kind == y->kind && strcmp(x->name, y->name) == 0 && x->input[0] == y->input[0] &&
              x->units == y->units && x->kernel == y->kernel && x->stride == y->stride && x->pad == y->pad &&
              x->eps == y->eps && x->trainable == y->trainable && x->woff == y->woff && x->nw == y->nw &&
              x->soff == y->soff);
        if (x->kind == TTP_LAYER_ADD) CHECK(x->input[1] == y->input[1]);
        if (x->kind == TTP_LAYER_LEAKYRELU) CHECK(x->alpha == y->alpha);
        for (int k = 0; k < 3; k++) CHECK(x->out_shape[k] == y->out_shape[k]);
    }
    CHECK(memcmp(a->w, b->w, (size_t)a->nparams * sizeof(double)) == 0);
    if (a->nstate) CHECK(memcmp(a->state, b->state, (size_t)a->nstate * sizeof(double)) == 0);
    CHECK(strcmp(a->title, b->title) == 0 && strcmp(a->source, b->source) == 0 &&
          strcmp(a->license, b->license) == 0 && strcmp(a->history, b->history) == 0);
    CHECK(ttp_model_fingerprint(a) == ttp_model_fingerprint(b));
}

static int no_temp_files(void)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int ok = 1;
    while (d && (e = readdir(d)) != NULL)
        if (strstr(e->d_name, ".tmp.")) ok = 0;
    if (d) closedir(d);
    return ok;
}

static void test_round_trip(ttp_ctx *ctx)
{
    char p[512];
    int64_t shape[3] = {1, 8, 8};
    ttp_model *m = NULL, *r = NULL;
    CHECK_OK(ctx, ttp_model_resnet_small(ctx, shape, 5, 11, &m));
    if (!m) return;
    fill_random(m, 99);
    m->layers[3].trainable = 0; /* a frozen layer survives too */
    m->layers[4].eps = 3.5e-4;
    CHECK_OK(ctx, ttp_model_build(ctx, m)); /* re-layout after the change */
    fill_random(m, 98);
    snprintf(m->title, sizeof m->title, "round trip");
    snprintf(m->source, sizeof m->source, "test_model_io");
    snprintf(m->license, sizeof m->license, "CC0");
    snprintf(m->history, sizeof m->history, "written; read");
    path_of(p, sizeof p, "rt.nc");
    CHECK_OK(ctx, ttp_model_write(ctx, p, m));
    CHECK(no_temp_files());
    CHECK_OK(ctx, ttp_model_read(ctx, p, &r));
    if (r) check_same(m, r);
    ttp_model_destroy(&r);

    /* a model without batch norm has no state and still round-trips */
    ttp_model *mlp = NULL;
    int64_t fs[3] = {6, 1, 1};
    CHECK_OK(ctx, ttp_model_create(ctx, fs, &mlp));
    ttp_layer L;
    memset(&L, 0, sizeof L);
    L.kind = TTP_LAYER_DENSE, L.input[0] = -1, L.input[1] = -1, L.units = 4, L.trainable = 1;
    CHECK_OK(ctx, ttp_model_add(ctx, mlp, &L, NULL));
    L.kind = TTP_LAYER_RELU, L.input[0] = 0;
    CHECK_OK(ctx, ttp_model_add(ctx, mlp, &L, NULL));
    L.kind = TTP_LAYER_DENSE, L.input[0] = 1, L.units = 3;
    CHECK_OK(ctx, ttp_model_add(ctx, mlp, &L, NULL));
    CHECK_OK(ctx, ttp_model_build(ctx, mlp));
    fill_random(mlp, 5);
    path_of(p, sizeof p, "mlp.nc");
    CHECK_OK(ctx, ttp_model_write(ctx, p, mlp));
    CHECK_OK(ctx, ttp_model_read(ctx, p, &r));
    if (r) check_same(mlp, r);
    CHECK(mlp->nstate == 0 && mlp->nparams == 6 * 4 + 4 + 4 * 3 + 3);
    ttp_model_destroy(&r);
    ttp_model_destroy(&mlp);

    /* the elementwise activations, leaky_relu's slope bit for bit */
    {
        const ttp_layer_kind acts[4] = {TTP_LAYER_SIGMOID, TTP_LAYER_TANH, TTP_LAYER_LEAKYRELU,
                                        TTP_LAYER_GELU};
        ttp_model *am = NULL;
        CHECK_OK(ctx, ttp_model_create(ctx, fs, &am));
        for (int q = 0; q < 4 && am; q++) {
            memset(&L, 0, sizeof L);
            L.kind = TTP_LAYER_DENSE, L.input[0] = 2 * q - 1, L.input[1] = -1, L.units = 5, L.trainable = 1;
            CHECK_OK(ctx, ttp_model_add(ctx, am, &L, NULL));
            memset(&L, 0, sizeof L);
            L.kind = acts[q], L.input[0] = 2 * q, L.input[1] = -1, L.alpha = q == 2 ? 0.3217 : 0.0;
            CHECK_OK(ctx, ttp_model_add(ctx, am, &L, NULL));
        }
        CHECK_OK(ctx, ttp_model_build(ctx, am));
        fill_random(am, 6);
        path_of(p, sizeof p, "acts.nc");
        CHECK_OK(ctx, ttp_model_write(ctx, p, am));
        CHECK_OK(ctx, ttp_model_read(ctx, p, &r));
        if (r) {
            check_same(am, r);
            CHECK(r->layers[5].alpha == 0.3217);
            for (int q = 0; q < 4; q++)
                CHECK(strcmp(ttp_layer_kind_str(r->layers[2 * q + 1].kind),
                             (const char *[]){"sigmoid", "tanh", "leaky_relu", "gelu"}[q]) == 0);
        }
        ttp_model_destroy(&r);
        /* the slope is part of the fingerprint (kernel files record it) */
        ttp_model *c2 = NULL;
        CHECK_OK(ctx, ttp_model_clone(ctx, am, &c2));
        if (c2) {
            c2->layers[5].alpha = 0.25;
            CHECK(ttp_model_fingerprint(c2) != ttp_model_fingerprint(am));
        }
        ttp_model_destroy(&c2);
        ttp_model_destroy(&am);
    }

    /* clone is deep; replace_head keeps the body and changes the head */
    ttp_model *c = NULL;
    CHECK_OK(ctx, ttp_model_clone(ctx, m, &c));
    if (c) {
        check_same(m, c);
        c->w[0] += 1.0;
        CHECK(m->w[0] != c->w[0]);
        CHECK(ttp_model_fingerprint(m) != ttp_model_fingerprint(c));
        c->w[0] -= 1.0;
        int head = c->nlayers - 1;
        int64_t body = c->layers[head].woff;
        CHECK_OK(ctx, ttp_model_replace_head(ctx, c, 3, 42));
        CHECK(c->nout == 3 && c->layers[head].units == 3 && c->layers[head].nw == 32 * 3 + 3);
        CHECK(c->nparams == body + 99);
        CHECK(memcmp(c->w, m->w, (size_t)body * sizeof(double)) == 0);
        CHECK(memcmp(c->state, m->state, (size_t)m->nstate * sizeof(double)) == 0);
        /* the fresh head has the default linear-layer variance 1/(3*32), zero bias */
        double s2 = 0.0, bias = 0.0;
        for (int64_t j = 0; j < 96; j++) s2 += c->w[body + j] * c->w[body + j];
        for (int64_t j = 96; j < 99; j++) bias += fabs(c->w[body + j]);
        CHECK(bias == 0.0);
        CHECK(s2 / 96 > 0.5 / (3.0 * 32) && s2 / 96 < 1.5 / (3.0 * 32));
        /* same seed, same head whatever happened before */
        ttp_model *c2 = NULL;
        CHECK_OK(ctx, ttp_model_clone(ctx, m, &c2));
        CHECK_OK(ctx, ttp_model_replace_head(ctx, c2, 3, 42));
        CHECK(c2 && memcmp(c2->w, c->w, (size_t)c->nparams * sizeof(double)) == 0);
        ttp_model_destroy(&c2);
    }
    ttp_model_destroy(&c);
    ttp_model_destroy(&m);
}

/* ---- raw writer for malformed files ---------------------------------------
 * A 3-layer model: conv(1→2, k3, pad1) on (1,4,4) → flatten → dense(32→3),
 * whose layer attributes and weight count the caller may spoil. */
typedef struct {
    int kind[3], in0[3], in1[3], units[3], kernel[3], stride[3], pad[3];
    int nweights[3];
    int with_nweights;
    int64_t nparams;
    const char *ttp_kind;
    int ishape[3];
    int spoil_var;  /* index of a layer variable to put on the wrong dimensions, or -1 */
    int spoil_kind; /* 1: on a dimension of 9 instead of layer; 2: on (layer, extra)   */
} raw;

static raw raw_good(void)
{
    raw r = {{TTP_LAYER_CONV2D, TTP_LAYER_FLATTEN, TTP_LAYER_DENSE},
             {-1, 0, 1},
             {-1, -1, -1},
             {2, 0, 3},
             {3, 0, 0},
             {1, 0, 0},
             {1, 0, 0},
             {20, 0, 99},
             1,
             119,
             "model",
             {1, 4, 4},
             -1,
             0};
    return r;
}

static int raw_write(const char *path, const raw *r)
{
    int nc, dl, dp, v;
    if (nc_create(path, NC_CLOBBER, &nc) != NC_NOERR) return 0;
    nc_def_dim(nc, "layer", 3, &dl);
    nc_def_dim(nc, "param", (size_t)r->nparams, &dp);
    const char *names[] = {"layer_kind",   "layer_input0", "layer_input1", "layer_units",
                           "layer_kernel", "layer_stride", "layer_pad",    "layer_nweights"};
    const int *vals[] = {r->kind, r->in0, r->in1, r->units, r->kernel, r->stride, r->pad, r->nweights};
    int vars[8], dx, d2[2];
    int nv = r->with_nweights ? 8 : 7;
    nc_def_dim(nc, "extra", 9, &dx);
    d2[0] = dl, d2[1] = dx;
    for (int i = 0; i < nv; i++) {
        if (i == r->spoil_var && r->spoil_kind == 1)
            nc_def_var(nc, names[i], NC_INT, 1, &dx, &vars[i]);
        else if (i == r->spoil_var)
            nc_def_var(nc, names[i], NC_INT, 2, d2, &vars[i]);
        else
            nc_def_var(nc, names[i], NC_INT, 1, &dl, &vars[i]);
    }
    nc_def_var(nc, "params", NC_DOUBLE, 1, &dp, &v);
    nc_put_att_text(nc, NC_GLOBAL, "ttp_kind", strlen(r->ttp_kind), r->ttp_kind);
    nc_put_att_int(nc, NC_GLOBAL, "input_shape", NC_INT, 3, r->ishape);
    nc_enddef(nc);
    int big[27] = {0}; /* a spoiled variable holds 9 or 3 × 9 values */
    for (int i = 0; i < nv; i++) {
        memcpy(big, vals[i], sizeof(int) * 3);
        nc_put_var_int(nc, vars[i], i == r->spoil_var ? big : vals[i]);
    }
    double *w = calloc((size_t)r->nparams, sizeof *w);
    for (int64_t j = 0; j < r->nparams; j++) w[j] = 0.01 * (double)j;
    nc_put_var_double(nc, v, w);
    free(w);
    return nc_close(nc) == NC_NOERR;
}

static void expect_bad(ttp_ctx *ctx, const raw *r, const char *needle, const char *needle2)
{
    char p[512];
    ttp_model *m = NULL;
    path_of(p, sizeof p, "bad.nc");
    CHECK(raw_write(p, r));
    ttp_status s = ttp_model_read(ctx, p, &m);
    int ok = s == TTP_ERR_FORMAT && strstr(ctx->msg, needle) && (!needle2 || strstr(ctx->msg, needle2));
    CHECK(ok);
    if (!ok)
        fprintf(stderr, "  expected '%s'/'%s', got %s: %s\n", needle, needle2 ? needle2 : "",
                ttp_status_str(s), ctx->msg);
    else
        printf("  rejected as expected: %s\n", ctx->msg);
    CHECK(m == NULL);
    ttp_error_clear(ctx);
}

static void test_bad_files(ttp_ctx *ctx)
{
    char p[512];
    ttp_model *m = NULL;
    raw r = raw_good();
    /* the good one reads, with the layout it declares */
    path_of(p, sizeof p, "good.nc");
    CHECK(raw_write(p, &r));
    CHECK_OK(ctx, ttp_model_read(ctx, p, &m));
    CHECK(m && m->nparams == 119 && m->nout == 3 && m->w[118] == 0.01 * 118);
    ttp_model_destroy(&m);
    /* a leaky_relu in a file without layer_alpha takes the default slope 0.01 */
    r.kind[1] = TTP_LAYER_LEAKYRELU;
    CHECK(raw_write(p, &r));
    CHECK_OK(ctx, ttp_model_read(ctx, p, &m));
    CHECK(m && m->layers[1].kind == TTP_LAYER_LEAKYRELU && m->layers[1].alpha == 0.01 && m->nout == 3);
    ttp_model_destroy(&m);

    r = raw_good(), r.nparams = 118; /* one weight short: the head is cut */
    expect_bad(ctx, &r, "layer 2", "'dense2'");
    r = raw_good(), r.nparams = 118, r.with_nweights = 0;
    expect_bad(ctx, &r, "weights count does not match", "dense2");
    r = raw_good(), r.nparams = 125, r.with_nweights = 0; /* extra values */
    expect_bad(ctx, &r, "more than the layers need", "dense2");
    r = raw_good(), r.nweights[0] = 18, r.nweights[2] = 101; /* total right, split wrong */
    expect_bad(ctx, &r, "layer 0 'conv2d0'", "stores 18 weights but its shapes need 20");
    r = raw_good(), r.units[0] = 3; /* shapes declare more weights than stored */
    expect_bad(ctx, &r, "conv2d0", "need 30");
    r = raw_good(), r.in0[1] = 1; /* reads itself */
    expect_bad(ctx, &r, "cycle", "layer 1");
    r = raw_good(), r.in0[1] = 2; /* reads a later layer */
    expect_bad(ctx, &r, "cycle", "layer 1");
    r = raw_good(), r.in0[2] = 7;
    expect_bad(ctx, &r, "dangling", "layer 2");
    r = raw_good(), r.in0[2] = -3;
    expect_bad(ctx, &r, "dangling", "layer 2");
    r = raw_good(), r.kernel[0] = 7, r.pad[0] = 1; /* 7x7 window on 4x4 (+2 padding) */
    expect_bad(ctx, &r, "does not fit", "conv2d0");
    r = raw_good(), r.kind[1] = TTP_LAYER_ADD, r.in0[1] = 0, r.in1[1] = -1; /* (2,4,4) + (1,4,4) */
    expect_bad(ctx, &r, "operand shapes differ", "layer 1");
    r = raw_good(), r.kind[0] = 42;
    expect_bad(ctx, &r, "unknown kind", "layer 0");
    r = raw_good(), r.ttp_kind = "dataset";
    expect_bad(ctx, &r, "not a ttpredict model file", NULL);
    /* per-layer variables on other dimensions than (layer): reading them into
     * buffers of L entries would overflow, so each is refused by name */
    r = raw_good(), r.spoil_var = 0, r.spoil_kind = 1;
    expect_bad(ctx, &r, "layer_kind lies on dimension 'extra'", "expected 'layer'");
    r = raw_good(), r.spoil_var = 3, r.spoil_kind = 2;
    expect_bad(ctx, &r, "layer_units has 2 dimension(s)", "expected 1");
    r = raw_good(), r.spoil_var = 7, r.spoil_kind = 1;
    expect_bad(ctx, &r, "layer_nweights lies on dimension 'extra'", NULL);
    CHECK_FAILS(ctx, ttp_model_read(ctx, "/nonexistent/model.nc", &m), TTP_ERR_NETCDF,
                "/nonexistent/model.nc");
    /* an unwritable destination fails cleanly and leaves nothing */
    int64_t shape[3] = {1, 8, 8};
    CHECK_OK(ctx, ttp_model_resnet_small(ctx, shape, 5, 1, &m));
    CHECK_FAILS(ctx, ttp_model_write(ctx, "/nonexistent/dir/m.nc", m), TTP_ERR_NETCDF, "creating");
    ttp_model_destroy(&m);
}

static void test_checks(ttp_ctx *ctx)
{
    int64_t shape[3] = {1, 8, 8};
    ttp_model *m = NULL;
    CHECK_OK(ctx, ttp_model_resnet_small(ctx, shape, 5, 1, &m));
    if (!m) return;
    int64_t ok3[3] = {1, 8, 8}, bad3[3] = {1, 8, 7}, f64[1] = {64};
    CHECK_OK(ctx, ttp_model_check_input(ctx, m, 3, ok3, "data.nc"));
    CHECK_FAILS(ctx, ttp_model_check_input(ctx, m, 3, bad3, "data.nc"), TTP_ERR_ARG,
                "accepts inputs of shape (1, 8, 8)");
    CHECK_FAILS(ctx, ttp_model_check_input(ctx, m, 1, f64, "data.nc"), TTP_ERR_ARG,
                "data.nc: samples of shape (64, 1, 1)");
    /* a vector-input model reads an image of the same size flattened */
    ttp_model *v = NULL;
    int64_t vs[3] = {64, 1, 1};
    CHECK_OK(ctx, ttp_model_create(ctx, vs, &v));
    ttp_layer L;
    memset(&L, 0, sizeof L);
    L.kind = TTP_LAYER_DENSE, L.input[0] = -1, L.units = 5, L.trainable = 1;
    CHECK_OK(ctx, ttp_model_add(ctx, v, &L, NULL));
    CHECK_OK(ctx, ttp_model_build(ctx, v));
    CHECK_OK(ctx, ttp_model_check_input(ctx, v, 3, ok3, "data.nc"));
    CHECK_OK(ctx, ttp_model_check_input(ctx, v, 1, f64, "data.nc"));
    ttp_model_destroy(&v);

    /* datasets built by hand (the struct is plain data) */
    enum { N = 6 };
    double x[N * 64] = {0};
    int y[N] = {0, 1, 2, 0, 1, 2};
    ttp_data d;
    memset(&d, 0, sizeof d);
    d.n = N, d.ndim = 3, d.shape[0] = 1, d.shape[1] = 8, d.shape[2] = 8, d.dim = 64, d.x = x;
    d.nclasses = 3, d.y = y;
    CHECK_FAILS(ctx, ttp_train_check(ctx, m, &d, TTP_LOSS_CE), TTP_ERR_ARG,
                "dataset has 3 classes but the model's head has 5 outputs");
    d.nclasses = 5;
    CHECK_OK(ctx, ttp_train_check(ctx, m, &d, TTP_LOSS_CE));
    d.shape[2] = 4, d.dim = 32;
    CHECK_FAILS(ctx, ttp_train_check(ctx, m, &d, TTP_LOSS_MSE), TTP_ERR_ARG, "accepts inputs");
    d.shape[2] = 8, d.dim = 64, d.nclasses = 0, d.y = NULL;
    CHECK_FAILS(ctx, ttp_train_check(ctx, m, &d, TTP_LOSS_MSE), TTP_ERR_ARG, "neither labels nor targets");
    double t[N * 5] = {0};
    d.ntargets = 5, d.targets = t;
    CHECK_OK(ctx, ttp_train_check(ctx, m, &d, TTP_LOSS_MSE));
    CHECK_FAILS(ctx, ttp_train_check(ctx, m, &d, TTP_LOSS_CE), TTP_ERR_ARG, "option loss");
    d.ntargets = 4;
    CHECK_FAILS(ctx, ttp_train_check(ctx, m, &d, TTP_LOSS_MSE), TTP_ERR_ARG, "4 targets");
    /* the training loop refuses a mismatched dataset before any work */
    d.ntargets = 0, d.targets = NULL, d.nclasses = 3, d.y = y;
    ttp_opt o;
    ttp_opt_default(&o);
    ttp_comm serial;
    ttp_comm_serial(&serial);
    ttp_train_result *res = NULL;
    CHECK_FAILS(ctx, ttp_train_run(ctx, &serial, m, &d, &o, &res), TTP_ERR_ARG,
                "3-output head: option new_head");
    CHECK(res == NULL);

    /* option validation names the option */
    ttp_opt_default(&o);
    CHECK(o.loss == TTP_LOSS_CE && o.lr == 0.01 && o.batch == 0 && o.steps == 150 && o.seed == 1);
    CHECK_OK(ctx, ttp_opt_validate(ctx, &o, 100));
    CHECK(ttp_opt_batch(&o, 100) == 100);
    o.batch = 100;
    CHECK(ttp_opt_batch(&o, 100) == 100);
    o.batch = 32;
    CHECK(ttp_opt_batch(&o, 100) == 32);
    o.nesterov = 1; /* without momentum: meaningless but accepted */
    CHECK_OK(ctx, ttp_opt_validate(ctx, &o, 100));
    o.lr = 0;
    CHECK_FAILS(ctx, ttp_opt_validate(ctx, &o, 100), TTP_ERR_ARG, "option lr");
    ttp_opt_default(&o), o.lr = -1;
    CHECK_FAILS(ctx, ttp_opt_validate(ctx, &o, 100), TTP_ERR_ARG, "option lr");
    ttp_opt_default(&o), o.batch = -1;
    CHECK_FAILS(ctx, ttp_opt_validate(ctx, &o, 100), TTP_ERR_ARG, "option batch");
    ttp_opt_default(&o), o.batch = 101;
    CHECK_FAILS(ctx, ttp_opt_validate(ctx, &o, 100), TTP_ERR_ARG, "option batch");
    ttp_opt_default(&o), o.steps = 0;
    CHECK_FAILS(ctx, ttp_opt_validate(ctx, &o, 100), TTP_ERR_ARG, "option steps");
    ttp_opt_default(&o), o.momentum = 1.0;
    CHECK_FAILS(ctx, ttp_opt_validate(ctx, &o, 100), TTP_ERR_ARG, "option momentum");
    ttp_opt_default(&o), o.momentum = -0.1;
    CHECK_FAILS(ctx, ttp_opt_validate(ctx, &o, 100), TTP_ERR_ARG, "option momentum");
    ttp_opt_default(&o), o.wd = -1e-4;
    CHECK_FAILS(ctx, ttp_opt_validate(ctx, &o, 100), TTP_ERR_ARG, "option wd");
    ttp_model_destroy(&m);
}

/* --train-layers as a library call: which layers, D, the fingerprint, and
 * the errors (each names option train_layers and what was expected). */
static void test_select_trainable(ttp_ctx *ctx)
{
    int64_t shape[3] = {1, 8, 8};
    ttp_model *m = NULL;
    char names[256];
    CHECK_OK(ctx, ttp_model_resnet_small(ctx, shape, 5, 3, &m));
    if (!m) return;
    const int64_t D = m->ntrainable;
    const uint64_t fp = ttp_model_fingerprint(m);
    ttp_model_trainable_names(m, names, sizeof names);
    CHECK(strcmp(names, "all") == 0);
    /* the head alone: 32·5 + 5 */
    CHECK_OK(ctx, ttp_model_select_trainable(ctx, m, "last:1"));
    CHECK(m->ntrainable == 165 && m->layers[m->nlayers - 1].trainable && !m->layers[0].trainable);
    ttp_model_trainable_names(m, names, sizeof names);
    CHECK(strcmp(names, "head") == 0);
    CHECK(ttp_model_fingerprint(m) != fp);
    /* last:2 skips the parameter-free relu between fc1 and the head */
    CHECK_OK(ctx, ttp_model_select_trainable(ctx, m, "last:2"));
    CHECK(m->ntrainable == 165 + m->layers[12].nw);
    ttp_model_trainable_names(m, names, sizeof names);
    CHECK(strcmp(names, "fc1,head") == 0);
    CHECK_OK(ctx, ttp_model_select_trainable(ctx, m, "stem_conv,head,stem_conv"));
    CHECK(m->ntrainable == m->layers[0].nw + 165);
    /* a D recomputed in place equals what a fresh layout gives */
    {
        int64_t d1 = m->ntrainable;
        ttp_model *c = NULL;
        CHECK_OK(ctx, ttp_model_clone(ctx, m, &c));
        CHECK_OK(ctx, ttp_model_build(ctx, c));
        CHECK(c && c->ntrainable == d1);
        ttp_model_destroy(&c);
    }
    /* "all" restores the model as it was, fingerprint included (the flags
     * of parameter-free layers are left alone) */
    CHECK_OK(ctx, ttp_model_select_trainable(ctx, m, "all"));
    CHECK(m->ntrainable == D && ttp_model_fingerprint(m) == fp);
    CHECK_OK(ctx, ttp_model_select_trainable(ctx, m, "last:8"));
    CHECK(m->ntrainable == D);
    /* errors leave the model unchanged */
    CHECK_FAILS(ctx, ttp_model_select_trainable(ctx, m, "nope"), TTP_ERR_ARG, "no layer named 'nope'");
    CHECK_FAILS(ctx, ttp_model_select_trainable(ctx, m, "head,nope"), TTP_ERR_ARG, "'stem_conv' (conv2d)");
    CHECK_FAILS(ctx, ttp_model_select_trainable(ctx, m, "stem_relu"), TTP_ERR_ARG, "has no parameters");
    CHECK_FAILS(ctx, ttp_model_select_trainable(ctx, m, "last:0"), TTP_ERR_ARG, "K an integer in 1..8");
    CHECK_FAILS(ctx, ttp_model_select_trainable(ctx, m, "last:9"), TTP_ERR_ARG, "option train_layers");
    CHECK_FAILS(ctx, ttp_model_select_trainable(ctx, m, "last:x"), TTP_ERR_ARG, "last:K");
    CHECK_FAILS(ctx, ttp_model_select_trainable(ctx, m, ""), TTP_ERR_ARG, "expected all, last:K");
    CHECK_FAILS(ctx, ttp_model_select_trainable(ctx, m, ",,"), TTP_ERR_ARG, "names no layer");
    CHECK(m->ntrainable == D && ttp_model_fingerprint(m) == fp);
    ttp_model_destroy(&m);
}

/* Building rejects bad graphs too (the library API, not only the reader). */
static void test_build_errors(ttp_ctx *ctx)
{
    int64_t shape[3] = {2, 5, 5};
    ttp_model *m = NULL;
    ttp_layer L;
    memset(&L, 0, sizeof L);
    CHECK_OK(ctx, ttp_model_create(ctx, shape, &m));
    L.kind = TTP_LAYER_MAXPOOL, L.input[0] = -1, L.kernel = 6, L.stride = 1;
    CHECK_OK(ctx, ttp_model_add(ctx, m, &L, NULL));
    CHECK_FAILS(ctx, ttp_model_build(ctx, m), TTP_ERR_FORMAT, "does not fit");
    m->layers[0].kernel = 2;
    m->layers[0].stride = 0;
    CHECK_FAILS(ctx, ttp_model_build(ctx, m), TTP_ERR_FORMAT, "stride");
    m->layers[0].kind = TTP_LAYER_BATCHNORM, m->layers[0].eps = 0;
    CHECK_FAILS(ctx, ttp_model_build(ctx, m), TTP_ERR_FORMAT, "eps");
    m->layers[0].kind = TTP_LAYER_LEAKYRELU, m->layers[0].alpha = NAN;
    CHECK_FAILS(ctx, ttp_model_build(ctx, m), TTP_ERR_FORMAT, "alpha");
    m->layers[0].kind = TTP_LAYER_DENSE, m->layers[0].units = 0;
    CHECK_FAILS(ctx, ttp_model_build(ctx, m), TTP_ERR_FORMAT, "units");
    m->layers[0].units = 3;
    CHECK_OK(ctx, ttp_model_build(ctx, m));
    CHECK(m->nparams == 3 * 50 + 3 && m->nout == 3);
    ttp_model_destroy(&m);
    CHECK(m == NULL);
    ttp_model_destroy(&m); /* NULL is fine */
    int64_t zero[3] = {0, 4, 4};
    CHECK_FAILS(ctx, ttp_model_create(ctx, zero, &m), TTP_ERR_ARG, "input shape");
}

int main(void)
{
    ttp_ctx ctx;
    ttp_ctx_init(&ctx);
    snprintf(dir, sizeof dir, "/tmp/ttp_test_model_io.%ld", (long)getpid());
    char cmd[600];
    snprintf(cmd, sizeof cmd, "mkdir -p %s", dir);
    if (system(cmd) != 0) return 1;
    test_round_trip(&ctx);
    test_bad_files(&ctx);
    test_checks(&ctx);
    test_build_errors(&ctx);
    test_select_trainable(&ctx);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
    return ttp_test_end("test_model_io");
}
