/*
 * test_convert.c — the IDX and CSV converters: small files written here
 * byte by byte (big-endian IDX headers, CSV text with and without a header),
 * converted, and every value compared with what was written; and the bad
 * inputs (wrong magic, truncated file, label count mismatch, ragged rows,
 * non-numeric cells) each reported with the file, line and column.
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
    static const char *files[] = {"img.idx",   "lab.idx", "idx.nc",     "trunc.idx",   "lab2.idx",
                                  "h.csv",     "n.csv",   "ragged.csv", "ragged2.csv", "text.csv",
                                  "text2.csv", "nan.csv", "lab.csv",    "only.csv",    "empty.csv"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) remove(in_dir(files[i]));
    if (rmdir(dir) != 0) fprintf(stderr, "note: %s left behind\n", dir);
    return ttp_test_end("test_convert");
}
