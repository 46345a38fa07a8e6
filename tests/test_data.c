/*
 * test_data.c — the dataset layer: NetCDF round trip (every element, the
 * labels, class names and attributes; the file's layout checked through the
 * NetCDF C API itself, not our reader), class selection and stratified
 * prefixes against hand-computed answers, and every bad-file case giving its
 * status and a message that names the file and the problem.  Fixtures are
 * made with the NetCDF C API in a mkdtemp directory.
 */
#include <netcdf.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ttp_data.h"
#include "ttp_test.h"

static char dir[256];

static const char *in_dir(const char *name)
{
    static char buf[8][512];
    static int slot = 0;
    slot = (slot + 1) % 8;
    snprintf(buf[slot], sizeof buf[slot], "%s/%s", dir, name);
    return buf[slot];
}

/* A failing call must return `code` and its message must contain both
 * needles (typically the file name and the thing that is wrong). */
static void expect_fail(ttp_ctx *ctx, ttp_status got, ttp_status code, const char *n1, const char *n2,
                        int line)
{
    ttp_test_checks++;
    if (got != code || strstr(ctx->msg, n1) == NULL || (n2 && strstr(ctx->msg, n2) == NULL)) {
        ttp_test_failures++;
        fprintf(stderr, "FAIL %s:%d: got %s '%s', expected %s naming '%s' and '%s'\n", __FILE__, line,
                ttp_status_str(got), ctx->msg, ttp_status_str(code), n1, n2 ? n2 : "");
    }
    ttp_error_clear(ctx);
}
#define EXPECT_FAIL(ctx, expr, code, n1, n2) expect_fail((ctx), (expr), (code), (n1), (n2), __LINE__)

/* ------------------------------------------------------------------------ */

static void test_round_trip(ttp_ctx *ctx)
{
    ttp_data *d = NULL, *r = NULL;
    int64_t shape[3] = {2, 3, 4};
    CHECK_OK(ctx, ttp_data_create(ctx, 7, 3, shape, 3, &d));
    if (!d) return;
    CHECK(d->dim == 24 && d->n == 7 && d->nclasses == 3);
    CHECK(d->class_names && strcmp(d->class_names[2], "2") == 0); /* default names */
    /* Values that need all 53 bits, plus extremes, so any conversion shows. */
    for (int64_t i = 0; i < d->n * d->dim; i++) d->x[i] = sin((double)i) * 1e3 + 1e-300 * (double)(i % 3);
    d->x[5] = -0.0;
    d->x[6] = 1.7976931348623157e308;
    for (int64_t i = 0; i < d->n; i++) d->y[i] = (int)((i * 5) % 3);
    const char *names[3] = {"cat", "dog", "bird with spaces"};
    for (int k = 0; k < 3; k++) {
        free(d->class_names[k]);
        d->class_names[k] = strdup(names[k]);
    }
    d->ntargets = 2;
    d->targets = calloc(14, sizeof(double));
    for (int i = 0; i < 14; i++) d->targets[i] = 0.1 * i - 0.35;
    snprintf(d->title, TTP_ATTR_LEN, "round trip");
    snprintf(d->source, TTP_ATTR_LEN, "test_data.c");
    snprintf(d->license, TTP_ATTR_LEN, "CC0");
    snprintf(d->history, TTP_ATTR_LEN, "made by a test; \"quoted\"");

    const char *p = in_dir("rt.nc");
    CHECK_OK(ctx, ttp_data_write(ctx, p, d));
    char tmpname[64];
    snprintf(tmpname, sizeof tmpname, "rt.nc.tmp.%ld", (long)getpid());
    CHECK(access(in_dir(tmpname), F_OK) != 0); /* renamed, not left behind */
    CHECK_OK(ctx, ttp_data_read(ctx, p, &r));
    if (r) {
        CHECK(r->n == 7 && r->ndim == 3 && r->shape[0] == 2 && r->shape[1] == 3 && r->shape[2] == 4 &&
              r->dim == 24);
        int same = 1;
        for (int64_t i = 0; i < d->n * d->dim; i++)
            same &= memcmp(&r->x[i], &d->x[i], sizeof(double)) == 0; /* bit for bit */
        CHECK(same);
        CHECK(r->nclasses == 3);
        for (int64_t i = 0; i < d->n; i++) CHECK(r->y[i] == d->y[i]);
        for (int k = 0; k < 3; k++) CHECK(strcmp(r->class_names[k], names[k]) == 0);
        CHECK(r->ntargets == 2);
        for (int i = 0; i < 14 && r->targets; i++) CHECK(r->targets[i] == d->targets[i]);
        CHECK(strcmp(r->title, d->title) == 0);
        CHECK(strcmp(r->source, d->source) == 0);
        CHECK(strcmp(r->license, d->license) == 0);
        CHECK(strcmp(r->history, d->history) == 0);
    }

    /* The layout on disk, through the NetCDF API: the documented names. */
    int ncid, v, nd, dims[4];
    size_t len;
    char name[NC_MAX_NAME + 1], text[64] = "";
    CHECK(nc_open(p, NC_NOWRITE, &ncid) == NC_NOERR);
    CHECK(nc_inq_varid(ncid, "inputs", &v) == NC_NOERR);
    nc_type t;
    CHECK(nc_inq_var(ncid, v, NULL, &t, &nd, dims, NULL) == NC_NOERR && nd == 4 && t == NC_DOUBLE);
    static const char *want[4] = {"sample", "channel", "height", "width"};
    size_t wlen[4] = {7, 2, 3, 4};
    for (int i = 0; i < 4 && nd == 4; i++) {
        nc_inq_dim(ncid, dims[i], name, &len);
        CHECK(strcmp(name, want[i]) == 0 && len == wlen[i]);
    }
    double x17;
    size_t at[4] = {0, 1, 1, 1}; /* 17 = 1·12 + 1·4 + 1: flat (N, C, H, W) order */
    CHECK(nc_get_var1_double(ncid, v, at, &x17) == NC_NOERR && x17 == d->x[17]);
    CHECK(nc_inq_varid(ncid, "labels", &v) == NC_NOERR);
    int y6;
    size_t at6 = 6;
    CHECK(nc_get_var1_int(ncid, v, &at6, &y6) == NC_NOERR && y6 == d->y[6]);
    int dc;
    CHECK(nc_inq_dimid(ncid, "class", &dc) == NC_NOERR && nc_inq_dimlen(ncid, dc, &len) == NC_NOERR &&
          len == 3);
    CHECK(nc_inq_attlen(ncid, NC_GLOBAL, "ttp_kind", &len) == NC_NOERR && len == 7);
    nc_get_att_text(ncid, NC_GLOBAL, "ttp_kind", text);
    CHECK(strncmp(text, "dataset", 7) == 0);
    char cn[64] = "";
    CHECK(nc_get_att_text(ncid, NC_GLOBAL, "class_names", cn) == NC_NOERR);
    CHECK(strcmp(cn, "cat;dog;bird with spaces") == 0);
    nc_close(ncid);
    ttp_data_destroy(&r);

    /* A failed write leaves an existing file as it was: NaN is refused
     * before anything is written, and an unwritable directory fails. */
    d->x[3] = NAN;
    EXPECT_FAIL(ctx, ttp_data_write(ctx, p, d), TTP_ERR_NUMERIC, p, "NaN");
    CHECK_OK(ctx, ttp_data_read(ctx, p, &r));
    if (r) CHECK(r->x[3] == sin(3.0) * 1e3 + 1e-300 * 0.0);
    ttp_data_destroy(&r);
    d->x[3] = 1;
    EXPECT_FAIL(ctx, ttp_data_write(ctx, in_dir("no/such/dir/x.nc"), d), TTP_ERR_NETCDF, "x.nc", NULL);

    /* Features, unlabelled. */
    ttp_data *f = NULL;
    int64_t fs[1] = {5};
    CHECK_OK(ctx, ttp_data_create(ctx, 3, 1, fs, 0, &f));
    if (f) {
        for (int i = 0; i < 15; i++) f->x[i] = i * 0.25 - 1;
        CHECK_OK(ctx, ttp_data_write(ctx, in_dir("feat.nc"), f));
        CHECK_OK(ctx, ttp_data_read(ctx, in_dir("feat.nc"), &r));
        if (r) {
            CHECK(r->ndim == 1 && r->shape[0] == 5 && r->dim == 5 && r->n == 3);
            CHECK(r->nclasses == 0 && r->y == NULL && r->class_names == NULL && r->targets == NULL);
            for (int i = 0; i < 15; i++) CHECK(r->x[i] == i * 0.25 - 1);
        }
        ttp_data_destroy(&r);
    }
    ttp_data_destroy(&f);
    CHECK(f == NULL);
    ttp_data_destroy(&d);
    ttp_data_destroy(&d); /* NULL is accepted */
}

/* ------------------------------------------------------------------------ */

/* Ten samples of one feature x = i, labels as below, names c0, c1, c2. */
static ttp_data *ten(ttp_ctx *ctx)
{
    static const int lab[10] = {2, 0, 1, 2, 2, 0, 1, 2, 0, 2};
    ttp_data *d = NULL;
    int64_t s[1] = {1};
    if (ttp_data_create(ctx, 10, 1, s, 3, &d) != TTP_OK) return NULL;
    for (int i = 0; i < 10; i++) {
        d->x[i] = i;
        d->y[i] = lab[i];
    }
    for (int k = 0; k < 3; k++) snprintf(d->class_names[k], 2, "%c", 'a' + k); /* "a","b","c" */
    return d;
}

static void test_subsets(ttp_ctx *ctx)
{
    ttp_data *d = ten(ctx), *o = NULL;
    CHECK(d != NULL);
    if (!d) return;

    /* classes {2, 0}, two each: file order 0(2) 1(0) 3(2) 5(0). */
    int sel[2] = {2, 0};
    CHECK_OK(ctx, ttp_data_select_classes(ctx, d, sel, 2, 2, &o));
    if (o) {
        const double x[4] = {0, 1, 3, 5};
        const int y[4] = {0, 1, 0, 1};
        CHECK(o->n == 4 && o->nclasses == 2);
        for (int i = 0; i < 4 && o->n == 4; i++) CHECK(o->x[i] == x[i] && o->y[i] == y[i]);
        CHECK(strcmp(o->class_names[0], "c") == 0 && strcmp(o->class_names[1], "a") == 0);
    }
    ttp_data_destroy(&o);
    /* all of them */
    CHECK_OK(ctx, ttp_data_select_classes(ctx, d, sel, 2, 0, &o));
    if (o) {
        const double x[8] = {0, 1, 3, 4, 5, 7, 8, 9};
        const int y[8] = {0, 1, 0, 0, 1, 0, 1, 0};
        CHECK(o->n == 8);
        for (int i = 0; i < 8 && o->n == 8; i++) CHECK(o->x[i] == x[i] && o->y[i] == y[i]);
    }
    ttp_data_destroy(&o);
    int bad[2] = {1, 3}, dup[2] = {1, 1};
    EXPECT_FAIL(ctx, ttp_data_select_classes(ctx, d, bad, 2, 0, &o), TTP_ERR_ARG, "class 3", "[0, 3)");
    EXPECT_FAIL(ctx, ttp_data_select_classes(ctx, d, dup, 2, 0, &o), TTP_ERR_ARG, "class 1", "twice");
    CHECK(o == NULL);

    /* take 5 of 10 with class counts a:3 b:2 c:5 — exact shares 1.5, 1, 2.5;
     * floors 1, 1, 2; the one left over goes to the largest remainder, a
     * tie between a and c broken toward a: quotas 2, 1, 2.  First of each
     * in file order: a at 1, 5; b at 2; c at 0, 3. */
    CHECK_OK(ctx, ttp_data_take(ctx, d, 5, &o));
    if (o) {
        const double x[5] = {0, 1, 2, 3, 5};
        const int y[5] = {2, 0, 1, 2, 0};
        CHECK(o->n == 5 && o->nclasses == 3);
        for (int i = 0; i < 5 && o->n == 5; i++) CHECK(o->x[i] == x[i] && o->y[i] == y[i]);
        CHECK(strcmp(o->class_names[2], "c") == 0);
    }
    ttp_data_destroy(&o);
    /* take 4: shares 1.2, 0.8, 2 -> floors 1, 0, 2, remainder to b (0.8). */
    CHECK_OK(ctx, ttp_data_take(ctx, d, 4, &o));
    if (o) {
        const double x[4] = {0, 1, 2, 3};
        CHECK(o->n == 4);
        for (int i = 0; i < 4 && o->n == 4; i++) CHECK(o->x[i] == x[i]);
    }
    ttp_data_destroy(&o);
    CHECK_OK(ctx, ttp_data_take(ctx, d, 10, &o));
    if (o)
        for (int i = 0; i < 10; i++) CHECK(o->x[i] == i && o->y[i] == d->y[i]);
    ttp_data_destroy(&o);
    EXPECT_FAIL(ctx, ttp_data_take(ctx, d, 11, &o), TTP_ERR_ARG, "11", "1..10");
    EXPECT_FAIL(ctx, ttp_data_take(ctx, d, 0, &o), TTP_ERR_ARG, "0 samples", NULL);
    ttp_data_destroy(&d);
}

/* ------------------------------------------------------------------------ */
/* Bad files, made with the NetCDF C API.                                     */

typedef struct {
    const char *kind;        /* ttp_kind, NULL: absent                   */
    int inputs;              /* 0: no inputs variable                    */
    int xnd;                 /* dimensions of inputs (2 normally)        */
    int nlabels;             /* length of labels; 0: no labels variable  */
    int nclass;              /* class dimension; 0: none                 */
    const char *class_names; /* NULL: absent                             */
    int bad_label;           /* label value written into sample 1        */
    int nan_at;              /* index of a NaN in inputs, -1: none        */
} fixture;

/* N = 4 samples, 3 features. */
static void make_file(const char *path, const fixture *fx)
{
    int ncid, ds, df, dl, dc, dx, v;
    nc_create(path, NC_NETCDF4 | NC_CLOBBER, &ncid);
    nc_def_dim(ncid, "sample", 4, &ds);
    nc_def_dim(ncid, "feature", 3, &df);
    nc_def_dim(ncid, "extra", 2, &dx);
    if (fx->kind) nc_put_att_text(ncid, NC_GLOBAL, "ttp_kind", strlen(fx->kind), fx->kind);
    if (fx->class_names)
        nc_put_att_text(ncid, NC_GLOBAL, "class_names", strlen(fx->class_names), fx->class_names);
    if (fx->nclass) nc_def_dim(ncid, "class", (size_t)fx->nclass, &dc);
    int vx = -1, vy = -1;
    if (fx->inputs) {
        int dims[3] = {ds, df, dx};
        nc_def_var(ncid, "inputs", NC_DOUBLE, fx->xnd, dims, &vx);
    }
    if (fx->nlabels) {
        if (fx->nlabels == 4)
            dl = ds;
        else
            nc_def_dim(ncid, "other", (size_t)fx->nlabels, &dl);
        nc_def_var(ncid, "labels", NC_INT, 1, &dl, &vy);
    }
    nc_enddef(ncid);
    if (vx >= 0) {
        double x[24];
        for (int i = 0; i < 24; i++) x[i] = i;
        if (fx->nan_at >= 0) x[fx->nan_at] = NAN;
        nc_put_var_double(ncid, vx, x);
    }
    if (vy >= 0) {
        int y[8] = {0, fx->bad_label, 1, 0, 0, 0, 0, 0};
        nc_put_var_int(ncid, vy, y);
    }
    nc_close(ncid);
    (void)v;
}

static void test_bad_files(ttp_ctx *ctx)
{
    ttp_data *d = NULL;
    const fixture good = {"dataset", 1, 2, 4, 2, "no;yes", 1, -1};

    /* The fixture maker itself makes a readable file. */
    const char *p = in_dir("good.nc");
    make_file(p, &good);
    CHECK_OK(ctx, ttp_data_read(ctx, p, &d));
    if (d)
        CHECK(d->n == 4 && d->dim == 3 && d->nclasses == 2 && d->y[1] == 1 && d->x[11] == 11 &&
              strcmp(d->class_names[1], "yes") == 0);
    ttp_data_destroy(&d);

    p = in_dir("missing.nc");
    EXPECT_FAIL(ctx, ttp_data_read(ctx, p, &d), TTP_ERR_IO, p, "No such file");
    CHECK(d == NULL);

    p = in_dir("text.nc");
    FILE *f = fopen(p, "w");
    fputs("this is not a NetCDF file\n", f);
    fclose(f);
    EXPECT_FAIL(ctx, ttp_data_read(ctx, p, &d), TTP_ERR_FORMAT, p, "not a NetCDF file");

    fixture fx = good;
    fx.inputs = 0;
    p = in_dir("noinputs.nc");
    make_file(p, &fx);
    EXPECT_FAIL(ctx, ttp_data_read(ctx, p, &d), TTP_ERR_FORMAT, p, "no variable 'inputs'");

    fx = good;
    fx.xnd = 3;
    p = in_dir("inputs3d.nc");
    make_file(p, &fx);
    EXPECT_FAIL(ctx, ttp_data_read(ctx, p, &d), TTP_ERR_FORMAT, p, "'inputs' has 3 dimensions");

    fx = good;
    fx.nlabels = 3;
    p = in_dir("labels3.nc");
    make_file(p, &fx);
    EXPECT_FAIL(ctx, ttp_data_read(ctx, p, &d), TTP_ERR_FORMAT, p,
                "'labels' has 3 entries but 'inputs' has 4 samples");

    fx = good;
    fx.bad_label = 2;
    p = in_dir("label2.nc");
    make_file(p, &fx);
    EXPECT_FAIL(ctx, ttp_data_read(ctx, p, &d), TTP_ERR_FORMAT, p,
                "sample 1 has label 2; expected a value in [0, 2)");
    fx.bad_label = -1;
    make_file(p, &fx);
    EXPECT_FAIL(ctx, ttp_data_read(ctx, p, &d), TTP_ERR_FORMAT, p, "sample 1 has label -1");

    fx = good;
    fx.class_names = "a;b;c";
    p = in_dir("names3.nc");
    make_file(p, &fx);
    EXPECT_FAIL(ctx, ttp_data_read(ctx, p, &d), TTP_ERR_FORMAT, p, "class_names lists 3 names");

    fx = good;
    fx.nan_at = 7;
    p = in_dir("nan.nc");
    make_file(p, &fx);
    EXPECT_FAIL(ctx, ttp_data_read(ctx, p, &d), TTP_ERR_NUMERIC, p, "sample 2 (value 1 of 3) is NaN");

    fx = good;
    fx.kind = "model";
    p = in_dir("model.nc");
    make_file(p, &fx);
    EXPECT_FAIL(ctx, ttp_data_read(ctx, p, &d), TTP_ERR_FORMAT, p,
                "ttp_kind is \"model\", expected \"dataset\"");

    fx = good;
    fx.kind = NULL;
    p = in_dir("nokind.nc");
    make_file(p, &fx);
    EXPECT_FAIL(ctx, ttp_data_read(ctx, p, &d), TTP_ERR_FORMAT, p, "'ttp_kind' is missing");

    /* No class dimension and no names: K = max label + 1. */
    fx = good;
    fx.nclass = 0;
    fx.class_names = NULL;
    fx.bad_label = 4;
    p = in_dir("nok.nc");
    make_file(p, &fx);
    CHECK_OK(ctx, ttp_data_read(ctx, p, &d));
    if (d) CHECK(d->nclasses == 5 && strcmp(d->class_names[4], "4") == 0);
    ttp_data_destroy(&d);
    CHECK(d == NULL);

    /* validate on memory */
    d = ten(ctx);
    if (d) {
        d->y[9] = 3;
        EXPECT_FAIL(ctx, ttp_data_validate(ctx, d, "here"), TTP_ERR_FORMAT, "here", "sample 9 is 3");
        d->y[9] = 0;
        d->x[4] = INFINITY;
        EXPECT_FAIL(ctx, ttp_data_validate(ctx, d, "here"), TTP_ERR_NUMERIC, "sample 4", "Inf");
    }
    ttp_data_destroy(&d);
    int64_t s0[1] = {0};
    EXPECT_FAIL(ctx, ttp_data_create(ctx, 3, 1, s0, 0, &d), TTP_ERR_ARG, "shape[0] = 0", NULL);
    EXPECT_FAIL(ctx, ttp_data_create(ctx, 3, 2, s0, 0, &d), TTP_ERR_ARG, "ndim 2", NULL);
}

/* The bundled files (data/, made by tools/make_digits.py): sizes, class
 * counts and names, pixel grid k/16, and default-data.nc equal to selecting
 * digits 5..9, 150 each, from digits.nc with the library. */
static void test_bundled(ttp_ctx *ctx)
{
    const char *dd = getenv("TTP_DATA_DIR");
    char p[3][1024];
    if (dd == NULL) {
        printf("note: TTP_DATA_DIR unset, bundled data not checked\n");
        return;
    }
    snprintf(p[0], sizeof p[0], "%s/digits.nc", dd);
    snprintf(p[1], sizeof p[1], "%s/pretrain-data.nc", dd);
    snprintf(p[2], sizeof p[2], "%s/default-data.nc", dd);
    ttp_data *all = NULL, *pre = NULL, *def = NULL, *sel = NULL;
    CHECK_OK(ctx, ttp_data_read(ctx, p[0], &all));
    CHECK_OK(ctx, ttp_data_read(ctx, p[1], &pre));
    CHECK_OK(ctx, ttp_data_read(ctx, p[2], &def));
    if (!all || !pre || !def) goto done;
    CHECK(all->n == 1797 && pre->n == 901 && def->n == 750);
    ttp_data *ds[3] = {all, pre, def};
    for (int j = 0; j < 3; j++) {
        ttp_data *d = ds[j];
        CHECK(d->ndim == 3 && d->shape[0] == 1 && d->shape[1] == 8 && d->shape[2] == 8);
        int grid = 1;
        for (int64_t i = 0; i < d->n * d->dim; i++)
            grid &= d->x[i] >= 0 && d->x[i] <= 1 && d->x[i] * 16 == floor(d->x[i] * 16);
        CHECK(grid);
        CHECK(strstr(d->source, "UCI") && strstr(d->license, "CC BY 4.0") && strstr(d->license, "BSD"));
    }
    CHECK(all->nclasses == 10 && pre->nclasses == 5 && def->nclasses == 5);
    int count[10] = {0};
    for (int64_t i = 0; i < def->n; i++) count[def->y[i]]++;
    for (int k = 0; k < 5; k++) {
        CHECK(count[k] == 150);
        char want[2] = {(char)('5' + k), 0};
        CHECK(strcmp(def->class_names[k], want) == 0);
    }
    int classes[5] = {5, 6, 7, 8, 9};
    CHECK_OK(ctx, ttp_data_select_classes(ctx, all, classes, 5, 150, &sel));
    if (sel && sel->n == def->n) {
        CHECK(memcmp(sel->x, def->x, (size_t)(def->n * def->dim) * sizeof(double)) == 0);
        CHECK(memcmp(sel->y, def->y, (size_t)def->n * sizeof(int)) == 0);
    }
    ttp_data_destroy(&sel);
    int first5[5] = {0, 1, 2, 3, 4};
    CHECK_OK(ctx, ttp_data_select_classes(ctx, all, first5, 5, 0, &sel));
    if (sel && sel->n == pre->n) {
        CHECK(memcmp(sel->x, pre->x, (size_t)(pre->n * pre->dim) * sizeof(double)) == 0);
        CHECK(memcmp(sel->y, pre->y, (size_t)pre->n * sizeof(int)) == 0);
    }
done:
    ttp_data_destroy(&sel);
    ttp_data_destroy(&all);
    ttp_data_destroy(&pre);
    ttp_data_destroy(&def);
}

static void cleanup(void)
{
    static const char *files[] = {"rt.nc",       "feat.nc",    "good.nc",   "text.nc",   "noinputs.nc",
                                  "inputs3d.nc", "labels3.nc", "label2.nc", "names3.nc", "nan.nc",
                                  "model.nc",    "nokind.nc",  "nok.nc"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) remove(in_dir(files[i]));
    if (rmdir(dir) != 0) fprintf(stderr, "note: %s left behind (unexpected files in it)\n", dir);
}

int main(void)
{
    ttp_ctx ctx;
    ttp_ctx_init(&ctx);
    snprintf(dir, sizeof dir, "/tmp/ttp_test_data.XXXXXX");
    if (mkdtemp(dir) == NULL) {
        perror("mkdtemp");
        return 1;
    }
    test_round_trip(&ctx);
    test_subsets(&ctx);
    test_bad_files(&ctx);
    test_bundled(&ctx);
    cleanup();
    return ttp_test_end("test_data");
}
