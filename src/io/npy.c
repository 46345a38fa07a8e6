/*
 * npy.c — NumPy .npy arrays into a dataset: the features array and an
 * optional labels array, as numpy.save writes them (format versions 1.0,
 * 2.0 and 3.0).
 *
 * A .npy file is the magic "\x93NUMPY", a major and minor version byte, the
 * header length (2 bytes little-endian in 1.0, 4 bytes in 2.0/3.0), then the
 * header: a Python dict literal such as
 *     {'descr': '<f4', 'fortran_order': False, 'shape': (150, 4), }
 * padded with spaces and a final newline, then the data.  The dict is parsed
 * strictly: exactly the three keys, each once, with values of the expected
 * kind; anything else is an error naming the field, so that a file from an
 * unexpected writer is refused rather than misread.  Only the header is read
 * first; the data size implied by descr and shape is checked against the
 * file size before the data is allocated or read.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ttp_data.h"

#define NPY_MAX_DIMS 8

typedef struct {
    char kind; /* 'f' float, 'i' signed, 'u' unsigned, 'b' bool        */
    int size;  /* bytes per value                                      */
    char descr[16];
    int fortran; /* fortran_order                                        */
    int nd;      /* number of dimensions                                  */
    int64_t shape[NPY_MAX_DIMS];
    int64_t count; /* product of shape                                    */
    size_t offset; /* where the data begins                               */
} npy_header;

/* A tiny cursor over the header text. */
typedef struct {
    const char *p, *end;
} cur;

static void skip_ws(cur *c)
{
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r')) c->p++;
}

static int eat(cur *c, char ch)
{
    skip_ws(c);
    if (c->p < c->end && *c->p == ch) {
        c->p++;
        return 1;
    }
    return 0;
}

/* A quoted string ('...' or "...") without escapes into buf. */
static int quoted(cur *c, char *buf, size_t cap)
{
    skip_ws(c);
    if (c->p >= c->end || (*c->p != '\'' && *c->p != '"')) return 0;
    char q = *c->p++;
    size_t n = 0;
    while (c->p < c->end && *c->p != q) {
        if (*c->p == '\\' || n + 1 >= cap) return 0;
        buf[n++] = *c->p++;
    }
    if (c->p >= c->end) return 0;
    c->p++;
    buf[n] = '\0';
    return 1;
}

static int word(cur *c, const char *w)
{
    skip_ws(c);
    size_t n = strlen(w);
    if ((size_t)(c->end - c->p) >= n && strncmp(c->p, w, n) == 0) {
        c->p += n;
        return 1;
    }
    return 0;
}

/* Parse and check the header of file `path`: buf holds its first `avail`
 * bytes (all of the header, or NPY_HEAD_MAX), len is the file's size. */
#define NPY_HEAD_MAX ((size_t)1 << 20)
static ttp_status parse_header(ttp_ctx *ctx, const char *path, const unsigned char *buf, size_t avail,
                               size_t len, npy_header *h)
{
    memset(h, 0, sizeof *h);
    if (len < 10 || memcmp(buf, "\x93NUMPY", 6) != 0)
        return TTP_ERR(ctx, TTP_ERR_FORMAT,
                       ".npy file '%s': no NumPy magic (\\x93NUMPY) at the start; expected a file written "
                       "by numpy.save (a .npz archive holds several arrays: save each with numpy.save)",
                       path);
    int major = buf[6];
    size_t hlen, pre;
    if (major == 1) {
        hlen = (size_t)buf[8] | (size_t)buf[9] << 8;
        pre = 10;
    } else if (major == 2 || major == 3) {
        if (len < 12)
            return TTP_ERR(ctx, TTP_ERR_FORMAT, ".npy file '%s': %zu bytes, too short for its header", path,
                           len);
        hlen = (size_t)buf[8] | (size_t)buf[9] << 8 | (size_t)buf[10] << 16 | (size_t)buf[11] << 24;
        pre = 12;
    } else {
        return TTP_ERR(ctx, TTP_ERR_FORMAT, ".npy file '%s': format version %d.%d; expected 1.0, 2.0 or 3.0",
                       path, major, buf[7]);
    }
    if (hlen > len - pre)
        return TTP_ERR(ctx, TTP_ERR_FORMAT,
                       ".npy file '%s': header length %zu runs past the end of the file (%zu bytes); the "
                       "file is truncated",
                       path, hlen, len);
    if (pre + hlen > avail)
        return TTP_ERR(ctx, TTP_ERR_FORMAT,
                       ".npy file '%s': header length %zu; expected at most %zu bytes (numpy writes a few "
                       "hundred)",
                       path, hlen, NPY_HEAD_MAX - pre);
    h->offset = pre + hlen;
    cur c = {(const char *)buf + pre, (const char *)buf + pre + hlen};
    int seen_descr = 0, seen_fortran = 0, seen_shape = 0;
    if (!eat(&c, '{'))
        return TTP_ERR(ctx, TTP_ERR_FORMAT,
                       ".npy file '%s': header is not a dict (no '{'); expected "
                       "{'descr': ..., 'fortran_order': ..., 'shape': (...)}",
                       path);
    for (;;) {
        if (eat(&c, '}')) break;
        char key[32];
        if (!quoted(&c, key, sizeof key) || !eat(&c, ':'))
            return TTP_ERR(ctx, TTP_ERR_FORMAT,
                           ".npy file '%s': header dict malformed near offset %zu; expected 'key': value",
                           path, (size_t)(c.p - (const char *)buf));
        if (strcmp(key, "descr") == 0) {
            if (seen_descr++)
                return TTP_ERR(ctx, TTP_ERR_FORMAT, ".npy file '%s': header field 'descr' given twice", path);
            if (!quoted(&c, h->descr, sizeof h->descr))
                return TTP_ERR(ctx, TTP_ERR_FORMAT,
                               ".npy file '%s': header field 'descr' is not a simple type string such as "
                               "'<f4' (structured arrays are not supported)",
                               path);
        } else if (strcmp(key, "fortran_order") == 0) {
            if (seen_fortran++)
                return TTP_ERR(ctx, TTP_ERR_FORMAT,
                               ".npy file '%s': header field 'fortran_order' given twice", path);
            if (word(&c, "False"))
                h->fortran = 0;
            else if (word(&c, "True"))
                h->fortran = 1;
            else
                return TTP_ERR(ctx, TTP_ERR_FORMAT,
                               ".npy file '%s': header field 'fortran_order' is neither True nor False",
                               path);
        } else if (strcmp(key, "shape") == 0) {
            if (seen_shape++)
                return TTP_ERR(ctx, TTP_ERR_FORMAT, ".npy file '%s': header field 'shape' given twice", path);
            if (!eat(&c, '('))
                return TTP_ERR(ctx, TTP_ERR_FORMAT,
                               ".npy file '%s': header field 'shape' is not a tuple such as (150, 4)", path);
            while (!eat(&c, ')')) {
                skip_ws(&c);
                char *e = NULL;
                errno = 0;
                long long v = c.p < c.end && *c.p >= '0' && *c.p <= '9' ? strtoll(c.p, &e, 10) : -1;
                if (v < 0 || e > c.end || errno == ERANGE)
                    return TTP_ERR(ctx, TTP_ERR_FORMAT,
                                   ".npy file '%s': header field 'shape' holds something other than "
                                   "non-negative integers",
                                   path);
                if (h->nd >= NPY_MAX_DIMS)
                    return TTP_ERR(ctx, TTP_ERR_FORMAT,
                                   ".npy file '%s': header field 'shape' has more than %d "
                                   "dimensions",
                                   path, NPY_MAX_DIMS);
                h->shape[h->nd++] = v;
                c.p = e;
                if (!eat(&c, ',')) {
                    if (!eat(&c, ')'))
                        return TTP_ERR(ctx, TTP_ERR_FORMAT,
                                       ".npy file '%s': header field 'shape' is not a tuple such as (150, 4)",
                                       path);
                    break;
                }
            }
        } else {
            return TTP_ERR(ctx, TTP_ERR_FORMAT,
                           ".npy file '%s': header has an unknown field '%s'; expected exactly descr, "
                           "fortran_order and shape",
                           path, key);
        }
        if (!eat(&c, ',')) {
            if (!eat(&c, '}'))
                return TTP_ERR(ctx, TTP_ERR_FORMAT,
                               ".npy file '%s': header dict malformed after field '%s'; expected ',' or '}'",
                               path, key);
            break;
        }
    }
    skip_ws(&c);
    if (c.p != c.end)
        return TTP_ERR(ctx, TTP_ERR_FORMAT,
                       ".npy file '%s': text after the header dict; expected only padding", path);
    const char *missing = !seen_descr     ? "descr"
                          : !seen_fortran ? "fortran_order"
                          : !seen_shape   ? "shape"
                                          : NULL;
    if (missing)
        return TTP_ERR(ctx, TTP_ERR_FORMAT, ".npy file '%s': header field '%s' is missing", path, missing);

    /* descr: byte order, kind, size ("<f8", "|u1") */
    const char *t = h->descr;
    if (t[0] == '>')
        return TTP_ERR(ctx, TTP_ERR_FORMAT,
                       ".npy file '%s': header field 'descr' is '%s', big-endian; expected little-endian "
                       "(re-save with numpy.save(f, a.astype(a.dtype.newbyteorder('<'))))",
                       path, t);
    if (t[0] != '<' && t[0] != '|' && t[0] != '=')
        return TTP_ERR(ctx, TTP_ERR_FORMAT,
                       ".npy file '%s': header field 'descr' is '%s'; expected a byte "
                       "order '<' or '|' then a type such as f4",
                       path, t);
    h->kind = t[1];
    char *e = NULL;
    long sz = strtol(t + 2, &e, 10);
    int ok = e && *e == '\0' &&
             ((h->kind == 'f' && (sz == 4 || sz == 8)) ||
              ((h->kind == 'i' || h->kind == 'u') && (sz == 1 || sz == 2 || sz == 4 || sz == 8)) ||
              (h->kind == 'b' && sz == 1));
    if (!ok)
        return TTP_ERR(ctx, TTP_ERR_FORMAT,
                       ".npy file '%s': header field 'descr' is '%s'; expected float32/float64 ('<f4', "
                       "'<f8'), an integer type ('<i4', '<i8', '|u1', ...) or bool ('|b1')",
                       path, t);
    h->size = (int)sz;
    if (h->fortran)
        return TTP_ERR(ctx, TTP_ERR_FORMAT,
                       ".npy file '%s': header field 'fortran_order' is True; expected C order (re-save "
                       "with numpy.save(f, numpy.ascontiguousarray(a)))",
                       path);

    /* the data size against the file size, before anything is read */
    int64_t count = 1;
    for (int i = 0; i < h->nd; i++) {
        if (h->shape[i] > 0 && count > ((int64_t)1 << 40) / h->shape[i])
            return TTP_ERR(ctx, TTP_ERR_FORMAT, ".npy file '%s': header field 'shape' is too large", path);
        count *= h->shape[i];
    }
    h->count = count;
    size_t want = h->offset + (size_t)count * (size_t)h->size;
    if (len != want)
        return TTP_ERR(ctx, TTP_ERR_FORMAT,
                       ".npy file '%s': %zu bytes, but its header (descr '%s', shape of %lld values) "
                       "implies %zu; the file is %s",
                       path, len, h->descr, (long long)count, want,
                       len < want ? "truncated" : "longer than its header says");
    return TTP_OK;
}

/* Value i of the array as a double (little-endian, any supported type). */
static double value_at(const npy_header *h, const unsigned char *data, int64_t i)
{
    const unsigned char *p = data + (size_t)i * (size_t)h->size;
    uint64_t u = 0;
    for (int b = h->size - 1; b >= 0; b--) u = u << 8 | p[b];
    switch (h->kind) {
    case 'f':
        if (h->size == 4) {
            uint32_t w = (uint32_t)u;
            float f;
            memcpy(&f, &w, 4);
            return f;
        } else {
            double v;
            memcpy(&v, &u, 8);
            return v;
        }
    case 'i':
        if (h->size < 8 && (u >> (8 * h->size - 1)) & 1) u |= ~(uint64_t)0 << (8 * h->size); /* sign */
        return (double)(int64_t)u;
    default: return (double)u;
    }
}

/* Open a .npy file, parse its header, check the data size its header implies
 * against the file's size, and only then read the data into *data (the
 * caller frees it). */
static ttp_status read_npy(ttp_ctx *ctx, const char *path, npy_header *h, unsigned char **data)
{
    ttp_status st = TTP_OK;
    unsigned char *head = NULL;
    *data = NULL;
    FILE *f = fopen(path, "rb");
    if (f == NULL) return TTP_ERR(ctx, TTP_ERR_IO, "cannot open .npy file '%s': %s", path, strerror(errno));
    long size = -1;
    if (fseek(f, 0, SEEK_END) == 0) size = ftell(f);
    if (size < 0 || fseek(f, 0, SEEK_SET) != 0) {
        st = TTP_ERR(ctx, TTP_ERR_IO, "cannot read the size of .npy file '%s': %s", path, strerror(errno));
        goto done;
    }
    size_t avail = (size_t)size < NPY_HEAD_MAX ? (size_t)size : NPY_HEAD_MAX;
    TTP_ALLOC(ctx, st, done, head, avail + 1, ".npy header");
    if (fread(head, 1, avail, f) != avail) {
        st = TTP_ERR(ctx, TTP_ERR_IO, "cannot read .npy file '%s': %s", path,
                     ferror(f) ? strerror(errno) : "short read");
        goto done;
    }
    TTP_CALL_GOTO(ctx, st, done, parse_header(ctx, path, head, avail, (size_t)size, h));
    size_t nbytes = (size_t)h->count * (size_t)h->size;
    TTP_ALLOC(ctx, st, done, *data, nbytes + 1, ".npy data");
    if (fseek(f, (long)h->offset, SEEK_SET) != 0 || fread(*data, 1, nbytes, f) != nbytes) {
        st = TTP_ERR(ctx, TTP_ERR_IO, "cannot read the data of .npy file '%s': %s", path,
                     ferror(f) ? strerror(errno) : "short read");
        free(*data);
        *data = NULL;
        goto done;
    }
done:
    free(head);
    fclose(f);
    return st;
}

ttp_status ttp_data_from_npy(ttp_ctx *ctx, const char *x_path, const char *y_path, ttp_data **out)
{
    ttp_status st = TTP_OK;
    unsigned char *xb = NULL, *yb = NULL; /* the arrays' data */
    ttp_data *d = NULL;
    npy_header hx, hy;
    if (out == NULL || x_path == NULL) return TTP_ERR(ctx, TTP_ERR_ARG, "ttp_data_from_npy: NULL argument");
    *out = NULL;
    TTP_CALL_GOTO(ctx, st, done, read_npy(ctx, x_path, &hx, &xb));
    if (hx.nd != 2 && hx.nd != 3 && hx.nd != 4) {
        st = TTP_ERR(ctx, TTP_ERR_FORMAT,
                     ".npy file '%s': header field 'shape' has %d dimensions; expected features of shape "
                     "(N, F), (N, H, W) or (N, C, H, W)",
                     x_path, hx.nd);
        goto done;
    }
    for (int i = 0; i < hx.nd; i++)
        if (hx.shape[i] < 1) {
            st = TTP_ERR(ctx, TTP_ERR_FORMAT,
                         ".npy file '%s': header field 'shape' has a zero in dimension %d; expected a "
                         "non-empty array",
                         x_path, i);
            goto done;
        }
    int64_t n = hx.shape[0], shape[3] = {1, 1, 1};
    int ndim = hx.nd == 2 ? 1 : 3;
    if (hx.nd == 2) shape[0] = hx.shape[1];
    if (hx.nd == 3) shape[1] = hx.shape[1], shape[2] = hx.shape[2];
    if (hx.nd == 4) shape[0] = hx.shape[1], shape[1] = hx.shape[2], shape[2] = hx.shape[3];

    int K = 0;
    if (y_path) {
        TTP_CALL_GOTO(ctx, st, done, read_npy(ctx, y_path, &hy, &yb));
        if (hy.kind != 'i' && hy.kind != 'u') {
            st = TTP_ERR(ctx, TTP_ERR_FORMAT,
                         ".npy file '%s': header field 'descr' is '%s'; labels must be of an integer type "
                         "(labels.astype(numpy.int64))",
                         y_path, hy.descr);
            goto done;
        }
        if (!(hy.nd == 1 || (hy.nd == 2 && hy.shape[1] == 1)) || hy.shape[0] != n) {
            st = TTP_ERR(ctx, TTP_ERR_FORMAT,
                         ".npy file '%s': header field 'shape' is (%lld%s%s); expected (%lld,) or (%lld, 1): "
                         "one label per sample of '%s'",
                         y_path, (long long)(hy.nd > 0 ? hy.shape[0] : 0), hy.nd > 1 ? ", ..." : "",
                         hy.nd == 1 ? "," : "", (long long)n, (long long)n, x_path);
            goto done;
        }
        for (int64_t i = 0; i < n; i++) {
            double v = value_at(&hy, yb, i);
            if (v < 0 || v >= TTP_DATA_MAX_CLASSES) {
                st = TTP_ERR(ctx, TTP_ERR_FORMAT,
                             ".npy file '%s': label %lld is %.0f; expected a class index in [0, %d)", y_path,
                             (long long)i, v, TTP_DATA_MAX_CLASSES);
                goto done;
            }
            if ((int)v + 1 > K) K = (int)v + 1;
        }
    }
    TTP_CALL_GOTO(ctx, st, done, ttp_data_create(ctx, n, ndim, shape, K, &d));
    for (int64_t i = 0; i < hx.count; i++) {
        double v = value_at(&hx, xb, i);
        if (!isfinite(v)) {
            st = TTP_ERR(ctx, TTP_ERR_NUMERIC,
                         ".npy file '%s': value %lld of sample %lld is %s; inputs must be finite", x_path,
                         (long long)(i % d->dim), (long long)(i / d->dim), isnan(v) ? "NaN" : "Inf");
            goto done;
        }
        d->x[i] = v;
    }
    for (int64_t i = 0; K > 0 && i < n; i++) d->y[i] = (int)value_at(&hy, yb, i);
    snprintf(d->history, TTP_ATTR_LEN, "converted from .npy '%s' (%s)%s%s%s", x_path, hx.descr,
             y_path ? " and labels '" : "", y_path ? y_path : "", y_path ? "'" : "");
    *out = d;
    d = NULL;
done:
    free(xb);
    free(yb);
    ttp_data_destroy(&d);
    return st;
}
