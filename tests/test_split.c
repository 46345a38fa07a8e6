/*
 * test_split.c — standardization and splits of datasets.
 *
 * Standardization: mean and scale against a direct computation (sums in
 * long double over hand-chosen values), a zero-variance feature (scale 1,
 * counted), applying another dataset's scaling, the errors, and the
 * input_mean / input_scale variables through a NetCDF write and read.
 * Splits: counts per class against hand-computed quotas, every part
 * disjoint and their union the input (each sample found once by its
 * values), relabelling and class names, random picks (a subset of the
 * right size, the same for the same seed, another for another seed), and
 * the errors naming the option.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ttp_data.h"
#include "ttp_test.h"

static char dir[256];

/* A labelled dataset: n samples of 2 features, x = (i, 10 i), label y[i]. */
static ttp_data *make(ttp_ctx *ctx, int n, const int *y, int K)
{
    ttp_data *d = NULL;
    int64_t shape[1] = {2};
    CHECK_OK(ctx, ttp_data_create(ctx, n, 1, shape, K, &d));
    if (d == NULL) exit(1);
    for (int i = 0; i < n; i++) {
        d->x[2 * i] = i;
        d->x[2 * i + 1] = 10.0 * i;
        if (K > 0) d->y[i] = y[i];
    }
    for (int k = 0; k < K; k++) {
        char b[16];
        snprintf(b, sizeof b, "c%d", k);
        free(d->class_names[k]);
        d->class_names[k] = strdup(b);
    }
    snprintf(d->history, TTP_ATTR_LEN, "made by the test");
    return d;
}

static void test_standardize(ttp_ctx *ctx)
{
    /* 4 samples x 3 features: feature 2 is constant (zero variance) */
    int64_t shape[1] = {3};
    const double raw[12] = {1, 100, 5, 2, 300, 5, 4, 200, 5, 9, 400, 5};
    ttp_data *d = NULL, *e = NULL, *r = NULL;
    CHECK_OK(ctx, ttp_data_create(ctx, 4, 1, shape, 0, &d));
    CHECK_OK(ctx, ttp_data_create(ctx, 2, 1, shape, 0, &e));
    if (!d || !e) return;
    memcpy(d->x, raw, sizeof raw);
    /* by hand: feature 0 mean 4, deviations -3,-2,0,5: var (9+4+0+25)/4 = 9.5;
     * feature 1 mean 250, deviations -150,50,-50,150: var 50000/4 = 12500 */
    const double mean[3] = {4, 250, 5}, scale[3] = {sqrt(9.5), sqrt(12500), 1};
    int64_t nconst = -1;
    unsigned char constant[3] = {9, 9, 9};
    CHECK_OK(ctx, ttp_data_standardize(ctx, d, constant, &nconst));
    CHECK(nconst == 1 && constant[0] == 0 && constant[1] == 0 && constant[2] == 1);
    CHECK(d->mean != NULL && d->scale != NULL);
    for (int j = 0; d->mean && j < 3; j++) {
        CHECK_CLOSE(d->mean[j], mean[j], 0, 1e-15);
        CHECK_CLOSE(d->scale[j], scale[j], 0, 1e-15);
    }
    for (int i = 0; i < 12; i++) CHECK_CLOSE(d->x[i], (raw[i] - mean[i % 3]) / scale[i % 3], 1e-15, 1e-14);
    /* the standardized features have mean 0 and deviation 1 (the constant: 0) */
    for (int j = 0; j < 2; j++) {
        long double s = 0, s2 = 0;
        for (int i = 0; i < 4; i++)
            s += d->x[3 * i + j], s2 += (long double)d->x[3 * i + j] * d->x[3 * i + j];
        CHECK_CLOSE((double)s, 0, 1e-14, 0);
        CHECK_CLOSE((double)(s2 / 4), 1, 0, 1e-14);
    }
    CHECK(d->x[2] == 0 && d->x[11] == 0);
    CHECK_FAILS(ctx, ttp_data_standardize(ctx, d, NULL, NULL), TTP_ERR_ARG, "already standardized");

    /* another dataset scaled like d */
    const double raw2[6] = {7, 0, 5, -1, 250, 6};
    memcpy(e->x, raw2, sizeof raw2);
    CHECK_OK(ctx, ttp_data_standardize_like(ctx, e, d, "ref.nc"));
    for (int i = 0; i < 6; i++) CHECK_CLOSE(e->x[i], (raw2[i] - mean[i % 3]) / scale[i % 3], 1e-15, 1e-14);
    CHECK(e->mean && e->mean[1] == d->mean[1] && e->scale[0] == d->scale[0]);
    CHECK_FAILS(ctx, ttp_data_standardize_like(ctx, e, d, "ref.nc"), TTP_ERR_ARG, "already standardized");

    /* errors: a reference without scaling, or of another width */
    ttp_data *plain = NULL, *wide = NULL;
    int64_t w4[1] = {4};
    CHECK_OK(ctx, ttp_data_create(ctx, 2, 1, shape, 0, &plain));
    CHECK_OK(ctx, ttp_data_create(ctx, 2, 1, w4, 0, &wide));
    CHECK_FAILS(ctx, ttp_data_standardize_like(ctx, plain, plain, "plain.nc"), TTP_ERR_ARG,
                "plain.nc is not standardized");
    CHECK_FAILS(ctx, ttp_data_standardize_like(ctx, wide, d, "ref.nc"), TTP_ERR_ARG,
                "ref.nc has 3 values per sample but this dataset 4");

    /* through a file */
    char path[512];
    snprintf(path, sizeof path, "%s/std.nc", dir);
    CHECK_OK(ctx, ttp_data_write(ctx, path, d));
    CHECK_OK(ctx, ttp_data_read(ctx, path, &r));
    if (r) {
        CHECK(r->mean && r->scale);
        for (int j = 0; r->mean && j < 3; j++) CHECK(r->mean[j] == d->mean[j] && r->scale[j] == d->scale[j]);
    }
    ttp_data_destroy(&r);
    /* a file without them reads as unstandardized */
    snprintf(path, sizeof path, "%s/plain.nc", dir);
    CHECK_OK(ctx, ttp_data_write(ctx, path, plain));
    CHECK_OK(ctx, ttp_data_read(ctx, path, &r));
    if (r) CHECK(r->mean == NULL && r->scale == NULL);
    ttp_data_destroy(&r);
    ttp_data_destroy(&d);
    ttp_data_destroy(&e);
    ttp_data_destroy(&plain);
    ttp_data_destroy(&wide);
}

/* Each sample of d is in exactly one part (found by its first value, the
 * sample index), with its label mapped through map (NULL: unchanged). */
static void check_partition(const ttp_data *d, ttp_data **parts, int np, const int *const *maps)
{
    int *seen = calloc((size_t)d->n, sizeof *seen);
    int64_t total = 0;
    for (int p = 0; p < np; p++) {
        if (!parts[p]) continue;
        total += parts[p]->n;
        int64_t last = -1;
        for (int64_t j = 0; j < parts[p]->n; j++) {
            int64_t i = (int64_t)parts[p]->x[2 * j];
            CHECK(i > last); /* file order kept */
            last = i;
            if (i < 0 || i >= d->n) continue;
            seen[i]++;
            CHECK(parts[p]->x[2 * j + 1] == d->x[2 * i + 1]);
            if (d->nclasses > 0) CHECK(parts[p]->y[j] == (maps && maps[p] ? maps[p][d->y[i]] : d->y[i]));
        }
    }
    CHECK(total == d->n);
    for (int64_t i = 0; i < d->n; i++) CHECK(seen[i] == 1);
    free(seen);
}

static int64_t count_of(const ttp_data *d, int k)
{
    int64_t c = 0;
    for (int64_t i = 0; i < d->n; i++) c += d->y[i] == k;
    return c;
}

static void test_split(ttp_ctx *ctx)
{
    /* 20 samples over 4 classes: 8 of class 0, 5 of 1, 4 of 2, 3 of 3 */
    const int y[20] = {0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 0, 1, 0, 0, 0};
    const int nk[4] = {8, 5, 4, 3};
    ttp_data *d = make(ctx, 20, y, 4), *parts[TTP_SPLIT_MAX_PARTS] = {NULL};
    d->mean = calloc(2, sizeof(double));
    d->scale = malloc(2 * sizeof(double));
    d->scale[0] = 2, d->scale[1] = 3;

    /* by class groups 0,2 / 3, and the rest (class 1), relabelled */
    const int g0[2] = {2, 0}, g1[1] = {3};
    const int *groups[2] = {g0, g1};
    const int glen[2] = {2, 1};
    ttp_split_opts o = {0};
    o.ngroups = 2, o.groups = groups, o.group_len = glen, o.rest = 1, o.relabel = 1;
    CHECK(ttp_split_nparts(&o) == 3);
    CHECK_OK(ctx, ttp_data_split(ctx, d, &o, "split by the test", parts));
    if (parts[0] && parts[1] && parts[2]) {
        CHECK(parts[0]->n == 12 && parts[1]->n == 3 && parts[2]->n == 5);
        /* relabelled in increasing order of the old labels: 0 -> 0, 2 -> 1 */
        CHECK(parts[0]->nclasses == 2 && strcmp(parts[0]->class_names[1], "c2") == 0);
        CHECK(parts[1]->nclasses == 1 && strcmp(parts[1]->class_names[0], "c3") == 0);
        CHECK(parts[2]->nclasses == 1 && strcmp(parts[2]->class_names[0], "c1") == 0);
        CHECK(count_of(parts[0], 0) == 8 && count_of(parts[0], 1) == 4);
        const int m0[4] = {0, -1, 1, -1}, m1[4] = {-1, -1, -1, 0}, m2[4] = {-1, 0, -1, -1};
        const int *maps[3] = {m0, m1, m2};
        check_partition(d, parts, 3, maps);
        /* provenance, standardization */
        CHECK(strstr(parts[1]->history, "made by the test; split by the test (part 2 of 3") != NULL);
        CHECK(parts[2]->scale && parts[2]->scale[1] == 3 && parts[2]->mean[0] == 0);
    }
    for (int p = 0; p < 3; p++) ttp_data_destroy(&parts[p]);
    /* without relabel: labels and K as in the input */
    o.relabel = 0;
    o.rest = 0;
    CHECK(ttp_split_nparts(&o) == 2);
    CHECK_OK(ctx, ttp_data_split(ctx, d, &o, NULL, parts));
    if (parts[0]) CHECK(parts[0]->nclasses == 4 && parts[0]->n == 12 && count_of(parts[0], 2) == 4);
    for (int p = 0; p < 2; p++) ttp_data_destroy(&parts[p]);

    /* stratified fraction 0.5: round(0.5 * N_k) = 4, 3 (2.5 rounds away from 0), 2, 2 */
    ttp_split_opts f = {0};
    f.fraction = 0.5;
    CHECK_OK(ctx, ttp_data_split(ctx, d, &f, "half", parts));
    if (parts[0] && parts[1]) {
        const int want[4] = {4, 3, 2, 2};
        for (int k = 0; k < 4; k++) {
            CHECK(count_of(parts[0], k) == want[k]);
            CHECK(count_of(parts[1], k) == nk[k] - want[k]);
        }
        check_partition(d, parts, 2, NULL);
        /* pick first: part 0 holds each class's first samples in file order */
        int seen[4] = {0};
        for (int i = 0; i < 20; i++) {
            int in0 = 0;
            for (int64_t j = 0; j < parts[0]->n; j++) in0 |= parts[0]->x[2 * j] == i;
            CHECK(in0 == (seen[y[i]] < want[y[i]]));
            seen[y[i]]++;
        }
    }
    for (int p = 0; p < 2; p++) ttp_data_destroy(&parts[p]);

    /* per class, random: 3 of each class; same seed same choice */
    ttp_split_opts r = {0};
    r.per_class = 3, r.pick = TTP_SPLIT_RANDOM, r.seed = 7;
    ttp_data *again[2] = {NULL, NULL}, *other[2] = {NULL, NULL};
    CHECK_OK(ctx, ttp_data_split(ctx, d, &r, NULL, parts));
    CHECK_OK(ctx, ttp_data_split(ctx, d, &r, NULL, again));
    r.seed = 8;
    CHECK_OK(ctx, ttp_data_split(ctx, d, &r, NULL, other));
    if (parts[0] && again[0] && other[0]) {
        for (int k = 0; k < 4; k++) CHECK(count_of(parts[0], k) == 3);
        CHECK(parts[0]->n == 12 && parts[1]->n == 8);
        check_partition(d, parts, 2, NULL);
        CHECK(again[0]->n == 12 && memcmp(again[0]->x, parts[0]->x, 24 * sizeof(double)) == 0);
        CHECK(memcmp(other[0]->x, parts[0]->x, 24 * sizeof(double)) != 0);
    }
    for (int p = 0; p < 2; p++) {
        ttp_data_destroy(&parts[p]);
        ttp_data_destroy(&again[p]);
        ttp_data_destroy(&other[p]);
    }
    /* per class within one group, relabelled (the fine-tuning set of a split) */
    const int g01[2] = {1, 0};
    const int *gg[1] = {g01};
    const int gl[1] = {2};
    ttp_split_opts q = {0};
    q.ngroups = 1, q.groups = gg, q.group_len = gl, q.per_class = 2, q.relabel = 1;
    CHECK_OK(ctx, ttp_data_split(ctx, d, &q, NULL, parts));
    if (parts[0] && parts[1]) {
        CHECK(parts[0]->n == 4 && parts[1]->n == 9 && parts[0]->nclasses == 2 && parts[1]->nclasses == 2);
        CHECK(count_of(parts[0], 0) == 2 && count_of(parts[0], 1) == 2);
        CHECK(count_of(parts[1], 0) == 6 && count_of(parts[1], 1) == 3);
    }
    for (int p = 0; p < 2; p++) ttp_data_destroy(&parts[p]);

    /* errors */
    r.per_class = 4; /* class 3 has only 3 */
    CHECK_FAILS(ctx, ttp_data_split(ctx, d, &r, NULL, parts), TTP_ERR_ARG, "class 3 ('c3') has only 3");
    CHECK(parts[0] == NULL && parts[1] == NULL);
    ttp_split_opts bad = {0};
    CHECK_FAILS(ctx, ttp_data_split(ctx, d, &bad, NULL, parts), TTP_ERR_ARG, "no way of splitting");
    bad.fraction = 0.01; /* rounds to 0 samples of every class */
    CHECK_FAILS(ctx, ttp_data_split(ctx, d, &bad, NULL, parts), TTP_ERR_ARG,
                "part 1 of 2 would hold no samples");
    bad.fraction = 1.5;
    CHECK_FAILS(ctx, ttp_data_split(ctx, d, &bad, NULL, parts), TTP_ERR_ARG, "option fraction: 1.5");
    const int dup[2] = {1, 1}, out4[1] = {4};
    const int *gd[1] = {dup}, *g4[1] = {out4};
    const int l2[1] = {2}, l1[1] = {1};
    ttp_split_opts c = {0};
    c.ngroups = 1, c.groups = gd, c.group_len = l2;
    CHECK_FAILS(ctx, ttp_data_split(ctx, d, &c, NULL, parts), TTP_ERR_ARG, "class 1 is in group 1 and again");
    c.groups = g4, c.group_len = l1;
    CHECK_FAILS(ctx, ttp_data_split(ctx, d, &c, NULL, parts), TTP_ERR_ARG,
                "class 4 (group 1) does not exist");
    ttp_data_destroy(&d);

    /* unlabelled: a fraction of all samples; classes refused */
    ttp_data *u = make(ctx, 5, NULL, 0);
    CHECK_OK(ctx, ttp_data_split(ctx, u, &f, NULL, parts));
    if (parts[0] && parts[1]) CHECK(parts[0]->n == 3 && parts[1]->n == 2 && parts[0]->x[4] == 2);
    for (int p = 0; p < 2; p++) ttp_data_destroy(&parts[p]);
    o.rest = 0;
    CHECK_FAILS(ctx, ttp_data_split(ctx, u, &o, NULL, parts), TTP_ERR_ARG, "no labels");
    ttp_data_destroy(&u);
}

int main(void)
{
    ttp_ctx ctx;
    ttp_ctx_init(&ctx);
    snprintf(dir, sizeof dir, "/tmp/ttp_test_split.XXXXXX");
    if (mkdtemp(dir) == NULL) {
        perror("mkdtemp");
        return 1;
    }
    test_standardize(&ctx);
    test_split(&ctx);
    char rm[512];
    snprintf(rm, sizeof rm, "rm -rf '%s'", dir);
    if (system(rm) != 0) fprintf(stderr, "note: %s left behind\n", dir);
    return ttp_test_end("test_split");
}
