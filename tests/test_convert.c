/*
 * test_convert.c — the IDX and CSV converters: small files written here
 * byte by byte (big-endian IDX headers, CSV text with and without a header),
 * converted, and every value compared with what was written; and the bad
 * inputs (wrong magic, truncated file, label count mismatch, ragged rows,
 * non-numeric cells) each reported with the file, line and column.
 * The CSV header rule on wine- and breast-cancer-shaped files (a numeric
 * first line of another width, a textual header, an id column, M/B labels);
 * .npy arrays written byte by byte here (every dtype, both header versions,
 * and each malformed header field) and, when /usr/bin/python3 has numpy, by
 * numpy.save itself.
 */
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

static void write_bytes(const char *path, const unsigned char *b, size_t n)
{
    FILE *f = fopen(path, "wb");
    fwrite(b, 1, n, f);
    fclose(f);
}

static void write_text(const char *path, const char *s)
{
    write_bytes(path, (const unsigned char *)s, strlen(s));
}

static void put_be32(unsigned char *p, unsigned v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

/* ------------------------------------------------------------------------ */

static void test_idx(ttp_ctx *ctx)
{
    /* 3 images of 2 x 5 (H x W) and their labels. */
    enum { N = 3, H = 2, W = 5 };
    unsigned char img[16 + N * H * W], lab[8 + N];
    put_be32(img, 0x00000803);
    put_be32(img + 4, N);
    put_be32(img + 8, H);
    put_be32(img + 12, W);
    for (int i = 0; i < N * H * W; i++) img[16 + i] = (unsigned char)((i * 37 + 11) % 256);
    img[16] = 0;
    img[17] = 255;
    put_be32(lab, 0x00000801);
    put_be32(lab + 4, N);
    lab[8] = 7, lab[9] = 0, lab[10] = 3;
    const char *pi = in_dir("img.idx"), *pl = in_dir("lab.idx");
    write_bytes(pi, img, sizeof img);
    write_bytes(pl, lab, sizeof lab);

    ttp_data *d = NULL;
    CHECK_OK(ctx, ttp_data_from_idx(ctx, pi, pl, &d));
    if (d) {
        CHECK(d->n == N && d->ndim == 3 && d->shape[0] == 1 && d->shape[1] == H && d->shape[2] == W);
        for (int i = 0; i < N * H * W; i++) CHECK_CLOSE(d->x[i], img[16 + i] / 255.0, 0, 1e-15);
        CHECK(d->x[0] == 0.0 && d->x[1] == 1.0);
        /* image 1, row 1, column 3 = byte 16 + 10 + 5 + 3 */
        CHECK_CLOSE(d->x[1 * H * W + 1 * W + 3], ((18 * 37 + 11) % 256) / 255.0, 0, 1e-15);
        CHECK(d->nclasses == 8); /* max label 7 + 1 */
        CHECK(d->y[0] == 7 && d->y[1] == 0 && d->y[2] == 3);
        /* and through the NetCDF file */
        ttp_data *r = NULL;
        CHECK_OK(ctx, ttp_data_write(ctx, in_dir("idx.nc"), d));
        CHECK_OK(ctx, ttp_data_read(ctx, in_dir("idx.nc"), &r));
        if (r) {
            CHECK(r->n == N && r->dim == H * W && r->shape[1] == H && r->nclasses == 8);
            for (int i = 0; i < N * H * W; i++) CHECK(r->x[i] == d->x[i]);
            for (int i = 0; i < N; i++) CHECK(r->y[i] == lab[8 + i]);
        }
        ttp_data_destroy(&r);
    }
    ttp_data_destroy(&d);

    /* images only */
    CHECK_OK(ctx, ttp_data_from_idx(ctx, pi, NULL, &d));
    if (d) CHECK(d->n == N && d->nclasses == 0 && d->y == NULL);
    ttp_data_destroy(&d);

    /* a labels file given as images: wrong magic */
    EXPECT_FAIL(ctx, ttp_data_from_idx(ctx, pl, NULL, &d), TTP_ERR_FORMAT, pl,
                "magic number 0x00000801, expected 0x00000803");
    /* truncated images */
    const char *pt = in_dir("trunc.idx");
    write_bytes(pt, img, sizeof img - 1);
    EXPECT_FAIL(ctx, ttp_data_from_idx(ctx, pt, NULL, &d), TTP_ERR_FORMAT, pt, "truncated");
    write_bytes(pt, img, 10);
    EXPECT_FAIL(ctx, ttp_data_from_idx(ctx, pt, NULL, &d), TTP_ERR_FORMAT, pt, "too short");
    /* 2 labels for 3 images */
    put_be32(lab + 4, 2);
    const char *p2 = in_dir("lab2.idx");
    write_bytes(p2, lab, 10);
    EXPECT_FAIL(ctx, ttp_data_from_idx(ctx, pi, p2, &d), TTP_ERR_FORMAT, p2, "has 2 labels but images file");
    const char *pm = in_dir("none.idx");
    EXPECT_FAIL(ctx, ttp_data_from_idx(ctx, pm, NULL, &d), TTP_ERR_IO, pm, "No such file");
    CHECK(d == NULL);
}

/* ------------------------------------------------------------------------ */

static void test_csv(ttp_ctx *ctx)
{
    ttp_data *d = NULL;
    const char *p = in_dir("h.csv");

    /* header, label last (column index 2), CRLF endings, trailing blank line */
    write_text(p, "width, height ,label\r\n1,2,0\r\n3.5 , -4e-2,2\r\n\r\n");
    CHECK_OK(ctx, ttp_data_from_csv(ctx, p, 2, &d));
    if (d) {
        const double x[4] = {1, 2, 3.5, -4e-2};
        CHECK(d->n == 2 && d->ndim == 1 && d->shape[0] == 2 && d->dim == 2);
        for (int i = 0; i < 4; i++) CHECK(d->x[i] == x[i]);
        CHECK(d->nclasses == 3 && d->y[0] == 0 && d->y[1] == 2);
        CHECK(strcmp(d->class_names[2], "2") == 0);
    }
    ttp_data_destroy(&d);

    /* no header, label first */
    p = in_dir("n.csv");
    write_text(p, "1, 0.25, 7\n0,1e-3,-8\n1,0,0");
    CHECK_OK(ctx, ttp_data_from_csv(ctx, p, 0, &d));
    if (d) {
        const double x[6] = {0.25, 7, 1e-3, -8, 0, 0};
        CHECK(d->n == 3 && d->dim == 2 && d->nclasses == 2);
        for (int i = 0; i < 6; i++) CHECK(d->x[i] == x[i]);
        CHECK(d->y[0] == 1 && d->y[1] == 0 && d->y[2] == 1);
    }
    ttp_data_destroy(&d);

    /* no labels: every column a feature */
    CHECK_OK(ctx, ttp_data_from_csv(ctx, p, -1, &d));
    if (d) {
        CHECK(d->n == 3 && d->dim == 3 && d->nclasses == 0 && d->y == NULL);
        CHECK(d->x[0] == 1 && d->x[5] == -8 && d->x[8] == 0);
    }
    ttp_data_destroy(&d);

    /* errors, each naming line and column (1-based) */
    p = in_dir("ragged.csv");
    write_text(p, "a,b,c\n1,2,3\n4,5\n");
    EXPECT_FAIL(ctx, ttp_data_from_csv(ctx, p, -1, &d), TTP_ERR_FORMAT, p, "line 3: 2 columns, expected 3");
    p = in_dir("ragged2.csv");
    write_text(p, "1,2,3\n\n4,5,6,7\n");
    EXPECT_FAIL(ctx, ttp_data_from_csv(ctx, p, -1, &d), TTP_ERR_FORMAT, p, "line 3: 4 columns, expected 3");
    p = in_dir("text.csv");
    write_text(p, "1,2,3\n4,x,6\n");
    EXPECT_FAIL(ctx, ttp_data_from_csv(ctx, p, 0, &d), TTP_ERR_FORMAT, p,
                "line 2, column 2: 'x' is not a finite number");
    p = in_dir("text2.csv");
    write_text(p, "a,b\n1,2\n3,\n");
    EXPECT_FAIL(ctx, ttp_data_from_csv(ctx, p, -1, &d), TTP_ERR_FORMAT, p, "line 3, column 2: empty cell");
    p = in_dir("nan.csv");
    write_text(p, "1,nan\n");
    EXPECT_FAIL(ctx, ttp_data_from_csv(ctx, p, -1, &d), TTP_ERR_FORMAT, p,
                "line 1, column 2: 'nan' is not a finite");
    p = in_dir("lab.csv");
    write_text(p, "1,2.5\n");
    EXPECT_FAIL(ctx, ttp_data_from_csv(ctx, p, 1, &d), TTP_ERR_FORMAT, p, "line 1, column 2 (the label)");
    write_text(p, "1,-1\n");
    EXPECT_FAIL(ctx, ttp_data_from_csv(ctx, p, 1, &d), TTP_ERR_FORMAT, p, "'-1' is not a class index");
    EXPECT_FAIL(ctx, ttp_data_from_csv(ctx, p, 2, &d), TTP_ERR_ARG, p,
                "label column 3 (1-based) does not exist");
    p = in_dir("only.csv");
    write_text(p, "x,y\n");
    EXPECT_FAIL(ctx, ttp_data_from_csv(ctx, p, -1, &d), TTP_ERR_FORMAT, p, "no data lines");
    p = in_dir("empty.csv");
    write_text(p, "\n\n");
    EXPECT_FAIL(ctx, ttp_data_from_csv(ctx, p, -1, &d), TTP_ERR_FORMAT, p, "empty");
    p = in_dir("absent.csv");
    EXPECT_FAIL(ctx, ttp_data_from_csv(ctx, p, -1, &d), TTP_ERR_IO, p, "No such file");
    CHECK(d == NULL);
}

/* ------------------------------------------------------------------------ */
/* CSV: header rule, text labels, dropped columns                            */

/* wine-shaped: 3 samples, label then 13 features */
static const char *wine_rows = "1,14.23,1.71,2.43,15.6,127,2.8,3.06,.28,2.29,5.64,1.04,3.92,1065\n"
                               "0,13.2,1.78,2.14,11.2,100,2.65,2.76,.26,1.28,4.38,1.05,3.4,1050\n"
                               "2,12.37,.94,1.36,10.6,88,1.98,.57,.28,.42,1.95,1.05,1.82,520\n";

/* the features are the same whichever end the label is at */
static void check_wine(ttp_data *d)
{
    CHECK(d->n == 3 && d->dim == 13 && d->nclasses == 3);
    CHECK(d->y[0] == 1 && d->y[1] == 0 && d->y[2] == 2);
    CHECK(d->x[0] == 14.23);
    CHECK(d->x[13 + 12] == 1050);
    CHECK(d->x[2 * 13 + 1] == .94);
}

static void test_csv_header(ttp_ctx *ctx)
{
    ttp_data *d = NULL;
    char text[4096];
    /* a first line "178,13,3" of another width: a header, label in column 1 */
    const char *p = in_dir("wine1.csv");
    snprintf(text, sizeof text, "178,13,3\n%s", wine_rows);
    write_text(p, text);
    CHECK_OK(ctx, ttp_data_from_csv(ctx, p, 0, &d));
    if (d) {
        check_wine(d);
        CHECK(strstr(d->history, "cell count differs") != NULL);
    }
    ttp_data_destroy(&d);
    /* the column count comes from the data lines: column 14 exists */
    CHECK_OK(ctx, ttp_data_from_csv(ctx, p, 13, &d));
    if (d) CHECK(d->n == 3 && d->dim == 13 && d->nclasses == 1066 && d->y[0] == 1065);
    ttp_data_destroy(&d);
    /* ... and column 15 does not, said with the data's width */
    EXPECT_FAIL(ctx, ttp_data_from_csv(ctx, p, 14, &d), TTP_ERR_ARG,
                "label column 15 (1-based) does not exist", "have 14 columns");

    /* wine-shaped with the label last (column 14) and a textual header */
    p = in_dir("wine2.csv");
    char *q = text;
    q += sprintf(q,
                 "Alcohol,Malic,Ash,Alcalinity,Mg,Phenols,Flav,Nonflav,Proanth,Color,Hue,OD,Proline,Class\n");
    const char *r = wine_rows;
    while (*r) { /* move each row's first cell to its end */
        const char *comma = strchr(r, ','), *nl = strchr(r, '\n');
        q += sprintf(q, "%.*s,%.*s\n", (int)(nl - comma - 1), comma + 1, (int)(comma - r), r);
        r = nl + 1;
    }
    write_text(p, text);
    CHECK_OK(ctx, ttp_data_from_csv(ctx, p, 13, &d));
    if (d) check_wine(d);
    ttp_data_destroy(&d);
    /* scikit-learn's copy: a first line "178,13,class_0,class_1,class_2" of
     * another width, with text in it */
    p = in_dir("wine3.csv");
    q = text + sprintf(text, "178,13,class_0,class_1,class_2\n");
    r = wine_rows;
    while (*r) {
        const char *comma = strchr(r, ','), *nl = strchr(r, '\n');
        q += sprintf(q, "%.*s,%.*s\n", (int)(nl - comma - 1), comma + 1, (int)(comma - r), r);
        r = nl + 1;
    }
    write_text(p, text);
    CHECK_OK(ctx, ttp_data_from_csv(ctx, p, 13, &d));
    if (d) check_wine(d);
    ttp_data_destroy(&d);
    /* the label column by its header name */
    p = in_dir("wine2.csv");
    ttp_csv_opts o = {-1, "Class", NULL, 0, -1};
    CHECK_OK(ctx, ttp_data_from_csv_opts(ctx, p, &o, &d));
    if (d) check_wine(d);
    ttp_data_destroy(&d);
    o.label_name = "Klasse";
    EXPECT_FAIL(ctx, ttp_data_from_csv_opts(ctx, p, &o, &d), TTP_ERR_ARG, p, "is 'Klasse'");

    /* breast-cancer-shaped: textual header, an id column, M/B labels */
    p = in_dir("bc.csv");
    write_text(p, "id,diagnosis,radius_mean,texture_mean\n"
                  "842302,M,17.99,10.38\n"
                  "842517, B ,20.57,17.77\n"
                  "84300903,M,19.69,21.25\n"
                  "8510426,B,13.54,14.36\n");
    int drop1[1] = {0};
    ttp_csv_opts b = {1, NULL, drop1, 1, -1};
    CHECK_OK(ctx, ttp_data_from_csv_opts(ctx, p, &b, &d));
    if (d) {
        /* sorted unique strings: B = 0, M = 1 */
        CHECK(d->n == 4 && d->dim == 2 && d->nclasses == 2);
        CHECK(strcmp(d->class_names[0], "B") == 0 && strcmp(d->class_names[1], "M") == 0);
        CHECK(d->y[0] == 1 && d->y[1] == 0 && d->y[2] == 1 && d->y[3] == 0);
        CHECK(d->x[0] == 17.99 && d->x[1] == 10.38 && d->x[7] == 14.36);
    }
    ttp_data_destroy(&d);
    /* without dropping the id column it is a feature */
    CHECK_OK(ctx, ttp_data_from_csv(ctx, p, 1, &d));
    if (d) CHECK(d->dim == 3 && d->x[0] == 842302 && d->x[3] == 842517 && d->nclasses == 2);
    ttp_data_destroy(&d);

    /* an all-numeric first line of the data's width is data ... */
    p = in_dir("num.csv");
    write_text(p, "5,6,1\n7,8,0\n");
    CHECK_OK(ctx, ttp_data_from_csv(ctx, p, 2, &d));
    if (d) CHECK(d->n == 2 && d->x[0] == 5 && d->y[0] == 1);
    ttp_data_destroy(&d);
    /* ... unless a header is asked for */
    ttp_csv_opts h = {2, NULL, NULL, 0, 1};
    CHECK_OK(ctx, ttp_data_from_csv_opts(ctx, p, &h, &d));
    if (d) CHECK(d->n == 1 && d->x[0] == 7 && d->y[0] == 0);
    ttp_data_destroy(&d);
    /* header = 0: a first line of another width is then an error on line 1 */
    h.header = 0;
    p = in_dir("wine1.csv");
    EXPECT_FAIL(ctx, ttp_data_from_csv_opts(ctx, p, &h, &d), TTP_ERR_FORMAT, "line 2: 14 columns, expected 3",
                "as on line 1");
    /* a text label in the header's label column alone does not make a header
     * when the label column holds text anyway, but a text feature cell does */
    p = in_dir("bc2.csv");
    write_text(p, "0,x,1\n1,M,2\n2,B,3\n");
    CHECK_OK(ctx, ttp_data_from_csv(ctx, p, 1, &d));
    if (d) CHECK(d->n == 3 && d->nclasses == 3 && strcmp(d->class_names[2], "x") == 0);
    ttp_data_destroy(&d);

    /* bad input */
    p = in_dir("semi.csv");
    write_text(p, "1,a;b\n2,c\n");
    EXPECT_FAIL(ctx, ttp_data_from_csv(ctx, p, 1, &d), TTP_ERR_FORMAT, p, "label 'a;b' contains ';'");
    p = in_dir("emptylab.csv");
    write_text(p, "1,M\n2,\n");
    EXPECT_FAIL(ctx, ttp_data_from_csv(ctx, p, 1, &d), TTP_ERR_FORMAT, p,
                "line 2, column 2 (the label): empty cell");
    p = in_dir("trail.csv");
    write_text(p, "a,b,\n1,2,\n3,4,\n");
    EXPECT_FAIL(ctx, ttp_data_from_csv(ctx, p, -1, &d), TTP_ERR_FORMAT, "line 2, column 3: empty cell",
                "drop this last column");
    int drop3[1] = {2}, drop9[1] = {8};
    ttp_csv_opts t = {-1, NULL, drop3, 1, -1};
    CHECK_OK(ctx, ttp_data_from_csv_opts(ctx, p, &t, &d));
    if (d) CHECK(d->n == 2 && d->dim == 2 && d->x[3] == 4);
    ttp_data_destroy(&d);
    t.drop = drop9;
    EXPECT_FAIL(ctx, ttp_data_from_csv_opts(ctx, p, &t, &d), TTP_ERR_ARG, "dropped column 9",
                "have 3 columns");
    t.drop = drop3;
    t.label_col = 2;
    EXPECT_FAIL(ctx, ttp_data_from_csv_opts(ctx, p, &t, &d), TTP_ERR_ARG, "column 3 is both the label", p);
    CHECK(d == NULL);
}

/* ------------------------------------------------------------------------ */
/* NumPy .npy                                                                */

/* Write a .npy file: the header dict text as given (padded so that the data
 * starts at a multiple of 64, as numpy does), then nbytes of data. */
static void write_npy(const char *path, int major, const char *dict, const void *data, size_t nbytes)
{
    unsigned char head[1024];
    size_t pre = major == 1 ? 10 : 12, dl = strlen(dict);
    size_t total = (pre + dl + 1 + 63) / 64 * 64, hlen = total - pre;
    memcpy(head, "\x93NUMPY", 6);
    head[6] = (unsigned char)major;
    head[7] = 0;
    for (size_t i = 0; i < pre - 8; i++) head[8 + i] = (unsigned char)(hlen >> (8 * i));
    memcpy(head + pre, dict, dl);
    memset(head + pre + dl, ' ', hlen - dl - 1);
    head[total - 1] = '\n';
    FILE *f = fopen(path, "wb");
    fwrite(head, 1, total, f);
    if (nbytes) fwrite(data, 1, nbytes, f);
    fclose(f);
}

static void test_npy(ttp_ctx *ctx)
{
    ttp_data *d = NULL;
    /* (3, 2) float64, version 1.0 */
    const double x8[6] = {0.5, -1, 2.25, 3, 1e-300, -7};
    const char *px = in_dir("x8.npy"), *py = in_dir("y.npy");
    write_npy(px, 1, "{'descr': '<f8', 'fortran_order': False, 'shape': (3, 2), }", x8, sizeof x8);
    const int64_t y8[3] = {2, 0, 1};
    write_npy(py, 1, "{'descr': '<i8', 'fortran_order': False, 'shape': (3,), }", y8, sizeof y8);
    CHECK_OK(ctx, ttp_data_from_npy(ctx, px, py, &d));
    if (d) {
        CHECK(d->n == 3 && d->ndim == 1 && d->dim == 2 && d->nclasses == 3);
        for (int i = 0; i < 6; i++) CHECK(d->x[i] == x8[i]);
        CHECK(d->y[0] == 2 && d->y[1] == 0 && d->y[2] == 1);
    }
    ttp_data_destroy(&d);
    /* (2, 1, 2, 3) float32, version 2.0, labels uint8 of shape (2, 1) */
    const float x4[12] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 0.1f};
    const char *p4 = in_dir("x4.npy"), *pu = in_dir("yu.npy");
    write_npy(p4, 2, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 1, 2, 3), }", x4, sizeof x4);
    const unsigned char yu[2] = {4, 1};
    write_npy(pu, 1, "{'descr': '|u1', 'fortran_order': False, 'shape': (2, 1), }", yu, 2);
    CHECK_OK(ctx, ttp_data_from_npy(ctx, p4, pu, &d));
    if (d) {
        CHECK(d->n == 2 && d->ndim == 3 && d->shape[0] == 1 && d->shape[1] == 2 && d->shape[2] == 3);
        for (int i = 0; i < 12; i++) CHECK(d->x[i] == (double)x4[i]);
        CHECK(d->nclasses == 5 && d->y[0] == 4 && d->y[1] == 1);
    }
    ttp_data_destroy(&d);
    /* (2, 2, 2) int16 images (negative values), no labels: shape (1, 2, 2) */
    const int16_t xi[8] = {-3, 0, 32767, -32768, 1, 2, 3, 4};
    const char *pi = in_dir("xi.npy");
    write_npy(pi, 1, "{'descr': '<i2', 'fortran_order': False, 'shape': (2, 2, 2), }", xi, sizeof xi);
    CHECK_OK(ctx, ttp_data_from_npy(ctx, pi, NULL, &d));
    if (d) {
        CHECK(d->ndim == 3 && d->shape[0] == 1 && d->shape[1] == 2 && d->nclasses == 0);
        for (int i = 0; i < 8; i++) CHECK(d->x[i] == xi[i]);
    }
    ttp_data_destroy(&d);
    /* int32 labels */
    const int32_t y4[2] = {0, 3};
    const char *p32 = in_dir("y32.npy");
    write_npy(p32, 1, "{'descr': '<i4', 'fortran_order': False, 'shape': (2,), }", y4, sizeof y4);
    CHECK_OK(ctx, ttp_data_from_npy(ctx, p4, p32, &d));
    if (d) CHECK(d->nclasses == 4 && d->y[1] == 3);
    ttp_data_destroy(&d);

    /* bad input, each naming the file and the header field */
    const char *pb = in_dir("bad.npy");
    write_npy(pb, 1, "{'descr': '>f8', 'fortran_order': False, 'shape': (3, 2), }", x8, sizeof x8);
    EXPECT_FAIL(ctx, ttp_data_from_npy(ctx, pb, NULL, &d), TTP_ERR_FORMAT, "'descr' is '>f8', big-endian",
                pb);
    write_npy(pb, 1, "{'descr': '<f8', 'fortran_order': True, 'shape': (3, 2), }", x8, sizeof x8);
    EXPECT_FAIL(ctx, ttp_data_from_npy(ctx, pb, NULL, &d), TTP_ERR_FORMAT, "'fortran_order' is True", pb);
    write_npy(pb, 1, "{'descr': '<c16', 'fortran_order': False, 'shape': (3,), }", x8, 48);
    EXPECT_FAIL(ctx, ttp_data_from_npy(ctx, pb, NULL, &d), TTP_ERR_FORMAT, "'descr' is '<c16'", pb);
    write_npy(pb, 1, "{'descr': '<f8', 'fortran_order': False, 'shape': (3, 2), }", x8, sizeof x8 - 8);
    EXPECT_FAIL(ctx, ttp_data_from_npy(ctx, pb, NULL, &d), TTP_ERR_FORMAT, "truncated", pb);
    write_npy(pb, 1, "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 2), }", x8, sizeof x8);
    EXPECT_FAIL(ctx, ttp_data_from_npy(ctx, pb, NULL, &d), TTP_ERR_FORMAT, "longer than its header says", pb);
    write_npy(pb, 1, "{'descr': '<f8', 'shape': (3, 2), }", x8, sizeof x8);
    EXPECT_FAIL(ctx, ttp_data_from_npy(ctx, pb, NULL, &d), TTP_ERR_FORMAT, "'fortran_order' is missing", pb);
    write_npy(pb, 1, "{'descr': '<f8', 'fortran_order': False, 'shape': (3, 2), 'x': 1}", x8, sizeof x8);
    EXPECT_FAIL(ctx, ttp_data_from_npy(ctx, pb, NULL, &d), TTP_ERR_FORMAT, "unknown field 'x'", pb);
    write_npy(pb, 1, "{'descr': '<f8', 'descr': '<f8', 'fortran_order': False, 'shape': (6,)}", x8,
              sizeof x8);
    EXPECT_FAIL(ctx, ttp_data_from_npy(ctx, pb, NULL, &d), TTP_ERR_FORMAT, "'descr' given twice", pb);
    write_npy(pb, 1, "{'descr': '<f8', 'fortran_order': False, 'shape': (6,), }", x8, sizeof x8);
    EXPECT_FAIL(ctx, ttp_data_from_npy(ctx, pb, NULL, &d), TTP_ERR_FORMAT, "'shape' has 1 dimensions", pb);
    write_npy(pb, 1, "{'descr': '<f8', 'fortran_order': False, 'shape': [3, 2], }", x8, sizeof x8);
    EXPECT_FAIL(ctx, ttp_data_from_npy(ctx, pb, NULL, &d), TTP_ERR_FORMAT, "'shape' is not a tuple", pb);
    const double nanv[2] = {1, NAN};
    write_npy(pb, 1, "{'descr': '<f8', 'fortran_order': False, 'shape': (1, 2), }", nanv, sizeof nanv);
    EXPECT_FAIL(ctx, ttp_data_from_npy(ctx, pb, NULL, &d), TTP_ERR_NUMERIC, "value 1 of sample 0 is NaN", pb);
    /* labels: float dtype, wrong count, negative */
    write_npy(pb, 1, "{'descr': '<f8', 'fortran_order': False, 'shape': (3,), }", x8, 24);
    EXPECT_FAIL(ctx, ttp_data_from_npy(ctx, px, pb, &d), TTP_ERR_FORMAT, "labels must be of an integer type",
                pb);
    write_npy(pb, 1, "{'descr': '<i8', 'fortran_order': False, 'shape': (2,), }", y8, 16);
    EXPECT_FAIL(ctx, ttp_data_from_npy(ctx, px, pb, &d), TTP_ERR_FORMAT, "expected (3,) or (3, 1)", pb);
    const int64_t neg[3] = {0, -1, 2};
    write_npy(pb, 1, "{'descr': '<i8', 'fortran_order': False, 'shape': (3,), }", neg, sizeof neg);
    EXPECT_FAIL(ctx, ttp_data_from_npy(ctx, px, pb, &d), TTP_ERR_FORMAT, "label 1 is -1", pb);
    write_text(pb, "x,y\n1,2\n");
    EXPECT_FAIL(ctx, ttp_data_from_npy(ctx, pb, NULL, &d), TTP_ERR_FORMAT, "no NumPy magic", pb);
    EXPECT_FAIL(ctx, ttp_data_from_npy(ctx, in_dir("absent.npy"), NULL, &d), TTP_ERR_IO, "absent.npy",
                "No such file");
    CHECK(d == NULL);

    /* numpy.save's own files, every dtype and shape the reader takes */
    char cmd[2048];
    snprintf(cmd, sizeof cmd,
             "/usr/bin/python3 -c \"import numpy as np, sys\n"
             "d = sys.argv[1]\n"
             "x = (np.arange(24).reshape(4, 6) * 0.25 - 2)\n"
             "for t in ['<f4', '<f8', '<i1', '<i2', '<i4', '<i8', '|u1', '<u2', '<u4', '<u8']:\n"
             "    np.save(d + '/np_%%s.npy' %% t.strip('<|'), (np.abs(x) * 4 if t[1] == 'u' else x * 4 if "
             "t[1] == 'i' else x).astype(t))\n"
             "np.save(d + '/np_img.npy', x.reshape(4, 1, 2, 3).astype(np.float32))\n"
             "np.save(d + '/np_y.npy', np.array([3, 0, 1, 2], dtype=np.int64))\n"
             "\" %s 2>/dev/null",
             dir);
    if (system(cmd) != 0) {
        printf("note: /usr/bin/python3 with numpy not available; numpy.save cross-check skipped\n");
        return;
    }
    static const char *types[] = {"f4", "f8", "i1", "i2", "i4", "i8", "u1", "u2", "u4", "u8"};
    for (int t = 0; t < 10; t++) {
        char name[32];
        snprintf(name, sizeof name, "np_%s.npy", types[t]);
        CHECK_OK(ctx, ttp_data_from_npy(ctx, in_dir(name), in_dir("np_y.npy"), &d));
        if (!d) continue;
        CHECK(d->n == 4 && d->dim == 6 && d->nclasses == 4 && d->y[0] == 3 && d->y[3] == 2);
        for (int i = 0; i < 24; i++) {
            double v = i * 0.25 - 2, want = types[t][0] == 'u' ? fabs(v) * 4 : types[t][0] == 'i' ? v * 4 : v;
            CHECK(d->x[i] == want);
        }
        ttp_data_destroy(&d);
    }
    CHECK_OK(ctx, ttp_data_from_npy(ctx, in_dir("np_img.npy"), NULL, &d));
    if (d)
        CHECK(d->ndim == 3 && d->shape[0] == 1 && d->shape[1] == 2 && d->shape[2] == 3 && d->x[23] == 3.75);
    ttp_data_destroy(&d);
}

int main(void)
{
    ttp_ctx ctx;
    ttp_ctx_init(&ctx);
    snprintf(dir, sizeof dir, "/tmp/ttp_test_convert.XXXXXX");
    if (mkdtemp(dir) == NULL) {
        perror("mkdtemp");
        return 1;
    }
    test_idx(&ctx);
    test_csv(&ctx);
    test_csv_header(&ctx);
    test_npy(&ctx);
    char rm[512];
    snprintf(rm, sizeof rm, "rm -rf '%s'", dir);
    if (system(rm) != 0) fprintf(stderr, "note: %s left behind\n", dir);
    return ttp_test_end("test_convert");
}
