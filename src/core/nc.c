/*
 * nc.c — the NetCDF mechanisms that the dataset, model, kernel, training
 * and prediction files share (ttp_nc.h): text attributes, and writing a
 * file under a temporary name that is renamed into place when complete.
 */
#include "ttp_nc.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ttp_rng.h"

ttp_status ttp_nc_put_text(ttp_ctx *ctx, int nc, int var, const char *name, const char *val, const char *path)
{
    ttp_status st = TTP_OK;
    TTP_NC(ctx, st, done, nc_put_att_text(nc, var, name, strlen(val), val), "writing attribute '%s' of '%s'",
           name, path);
done:
    return st;
}

ttp_status ttp_nc_get_text(ttp_ctx *ctx, int nc, int var, const char *name, const char *path, char **out)
{
    ttp_status st = TTP_OK;
    nc_type type;
    size_t len = 0;
    char *s = NULL;
    *out = NULL;
    const int rc = nc_inq_att(nc, var, name, &type, &len);
    if (rc == NC_ENOTATT) return TTP_OK;
    TTP_NC(ctx, st, fail, rc, "attribute '%s' of '%s'", name, path);
    if (type == NC_STRING && len == 1) {
        TTP_NC(ctx, st, fail, nc_get_att_string(nc, var, name, &s), "reading attribute '%s' of '%s'", name,
               path);
        const size_t n = s ? strlen(s) : 0;
        *out = ttp_calloc(ctx, n + 1, 1, "attribute");
        if (*out != NULL && n > 0) memcpy(*out, s, n);
        nc_free_string(1, &s);
        return *out != NULL ? TTP_OK : TTP_ERR_NOMEM;
    }
    if (type != NC_CHAR)
        return TTP_ERR(ctx, TTP_ERR_FORMAT,
                       "%s: attribute '%s' is not text (NetCDF type %d), expected a string", path, name,
                       (int)type);
    *out = ttp_calloc(ctx, len + 1, 1, "attribute");
    if (*out == NULL) return TTP_ERR_NOMEM;
    TTP_NC(ctx, st, fail, nc_get_att_text(nc, var, name, *out), "reading attribute '%s' of '%s'", name, path);
    (*out)[len] = '\0';
    return TTP_OK;
fail:
    free(*out);
    *out = NULL;
    return st;
}

/* ---- content checksums --------------------------------------------------- */

/* Size in bytes of one value of an atomic type, or 0 for the types that are
 * not hashed (strings, user-defined types). */
static size_t atomic_size(int nc, nc_type t)
{
    size_t sz = 0;
    if (t == NC_STRING || t > NC_MAX_ATOMIC_TYPE || t <= NC_NAT) return 0;
    if (nc_inq_type(nc, t, NULL, &sz) != NC_NOERR) return 0;
    return sz;
}

/* Hash of variable v's whole content (its values in their own type, read
 * in chunks of rows so that memory stays bounded); NC error code or
 * NC_NOERR.  *hashed = 0 for variables that are not hashed. */
static int hash_var(int nc, int v, uint64_t *out, int *hashed)
{
    nc_type t;
    int nd, dims[NC_MAX_VAR_DIMS];
    size_t len[NC_MAX_VAR_DIMS], total = 1;
    *hashed = 0;
    int rc = nc_inq_var(nc, v, NULL, &t, &nd, dims, NULL);
    if (rc != NC_NOERR) return rc;
    const size_t sz = atomic_size(nc, t);
    if (sz == 0 || nd > NC_MAX_VAR_DIMS) return NC_NOERR;
    for (int i = 0; i < nd; i++) {
        if ((rc = nc_inq_dimlen(nc, dims[i], &len[i])) != NC_NOERR) return rc;
        if (len[i] != 0 && total > SIZE_MAX / len[i]) return NC_EDIMSIZE;
        total *= len[i];
    }
    if (total > SIZE_MAX / sz) return NC_EDIMSIZE;
    /* chunk along the first dimension: `row` values per slab */
    const size_t row = (nd == 0 || len[0] == 0) ? total : total / len[0];
    const size_t nrows = nd == 0 ? 1 : len[0];
    size_t per = row == 0 ? nrows : ((size_t)1 << 22) / (row * sz + 1);
    if (per == 0) per = 1;
    uint64_t h = 0x7474706368656b31ULL ^ (uint64_t)t;
    unsigned char *buf = NULL;
    if (total > 0) {
        buf = malloc((per < nrows ? per : nrows) * row * sz);
        if (buf == NULL) return NC_ENOMEM;
    }
    for (size_t r0 = 0; total > 0 && r0 < nrows; r0 += per) {
        size_t start[NC_MAX_VAR_DIMS] = {0}, count[NC_MAX_VAR_DIMS];
        const size_t nr = nrows - r0 < per ? nrows - r0 : per;
        for (int i = 0; i < nd; i++) count[i] = len[i];
        if (nd > 0) {
            start[0] = r0;
            count[0] = nr;
        }
        if ((rc = nc_get_vara(nc, v, start, count, buf)) != NC_NOERR) {
            free(buf);
            return rc;
        }
        const size_t nb = nr * row * sz;
        size_t i = 0;
        for (; i + 8 <= nb; i += 8) {
            uint64_t w;
            memcpy(&w, buf + i, 8);
            h = ttp_mix64(h ^ w) + 0x9e3779b97f4a7c15ULL;
        }
        for (; i < nb; i++) h = ttp_mix64(h ^ buf[i]) + 0x9e3779b97f4a7c15ULL;
    }
    free(buf);
    h = ttp_mix64(h ^ (uint64_t)total);
    *out = h;
    *hashed = 1;
    return NC_NOERR;
}

/* Hash of the attributes of var (NC_GLOBAL: the file's own), in their
 * order, less the checksum attributes themselves: each one's name, its
 * type (NC_CHAR and a scalar NC_STRING count as the same text) and its
 * values.  NC error code or NC_NOERR. */
static int hash_atts(int nc, int var, uint64_t *out)
{
    int natts = 0, rc;
    uint64_t h = 0x7474706174747321ULL, counted = 0; /* "ttpatts!" */
    if ((rc = nc_inq_varnatts(nc, var, &natts)) != NC_NOERR) return rc;
    for (int a = 0; a < natts; a++) {
        char name[NC_MAX_NAME + 1];
        nc_type t;
        size_t len = 0;
        if ((rc = nc_inq_attname(nc, var, a, name)) != NC_NOERR) return rc;
        if (strcmp(name, TTP_NC_CHECKSUM_ATT) == 0 || strcmp(name, TTP_NC_ATT_CHECKSUM_ATT) == 0) continue;
        if ((rc = nc_inq_att(nc, var, name, &t, &len)) != NC_NOERR) return rc;
        counted++;
        for (const char *c = name; *c; c++) h = ttp_mix64(h ^ (unsigned char)*c) + 0x9e3779b97f4a7c15ULL;
        unsigned char *buf = NULL;
        size_t nb = 0;
        if (t == NC_STRING) {
            char **sv = calloc(len ? len : 1, sizeof *sv);
            if (sv == NULL) return NC_ENOMEM;
            if ((rc = nc_get_att_string(nc, var, name, sv)) != NC_NOERR) {
                free(sv);
                return rc;
            }
            for (size_t i = 0; i < len; i++) nb += (sv[i] ? strlen(sv[i]) : 0) + (i + 1 < len);
            buf = malloc(nb + 1);
            size_t u = 0;
            for (size_t i = 0; buf && i < len; i++) {
                const size_t l = sv[i] ? strlen(sv[i]) : 0;
                memcpy(buf + u, sv[i] ? sv[i] : "", l);
                u += l;
                if (i + 1 < len) buf[u++] = 0;
            }
            nc_free_string(len, sv);
            free(sv);
            if (buf == NULL) return NC_ENOMEM;
            t = NC_CHAR;
        } else {
            const size_t sz = atomic_size(nc, t);
            if (sz == 0) { /* a user-defined type: its name and length only */
                h = ttp_mix64(h ^ (uint64_t)t ^ ((uint64_t)len << 32));
                continue;
            }
            if (len > SIZE_MAX / sz) return NC_EDIMSIZE;
            nb = len * sz;
            buf = malloc(nb ? nb : 1);
            if (buf == NULL) return NC_ENOMEM;
            if (nb > 0 && (rc = nc_get_att(nc, var, name, buf)) != NC_NOERR) {
                free(buf);
                return rc;
            }
        }
        h = ttp_mix64(h ^ (uint64_t)t ^ ((uint64_t)nb << 8));
        size_t i = 0;
        for (; i + 8 <= nb; i += 8) {
            uint64_t w;
            memcpy(&w, buf + i, 8);
            h = ttp_mix64(h ^ w) + 0x9e3779b97f4a7c15ULL;
        }
        for (; i < nb; i++) h = ttp_mix64(h ^ buf[i]) + 0x9e3779b97f4a7c15ULL;
        free(buf);
    }
    *out = ttp_mix64(h ^ counted);
    return NC_NOERR;
}

/* Put a checksum on every variable of the open file (in data mode). */
static ttp_status checksum_all(ttp_ctx *ctx, int nc, const char *path)
{
    ttp_status st = TTP_OK;
    int nvars = 0;
    uint64_t *h = NULL;
    int *ok = NULL;
    TTP_NC(ctx, st, done, nc_inq_nvars(nc, &nvars), "counting the variables of '%s'", path);
    TTP_ALLOC(ctx, st, done, h, 2 * (size_t)nvars + 1, "checksums");
    TTP_ALLOC(ctx, st, done, ok, nvars, "checksums");
    for (int v = 0; v < nvars; v++)
        TTP_NC(ctx, st, done, hash_var(nc, v, &h[v], &ok[v]), "hashing variable %d of '%s'", v, path);
    /* the attributes too (loss, projection, seed, shapes, class names...):
     * slot nvars + 1 + v for variable v, slot nvars for the file's own */
    for (int v = -1; v < nvars; v++)
        TTP_NC(ctx, st, done, hash_atts(nc, v, &h[nvars + 1 + v]), "hashing the attributes of '%s'", path);
    TTP_NC(ctx, st, done, nc_redef(nc), "adding checksums to '%s'", path);
    for (int v = -1; v < nvars; v++) {
        char hex[17];
        if (v >= 0 && ok[v]) {
            snprintf(hex, sizeof hex, "%016llx", (unsigned long long)h[v]);
            TTP_CALL_GOTO(ctx, st, done, ttp_nc_put_text(ctx, nc, v, TTP_NC_CHECKSUM_ATT, hex, path));
        }
        snprintf(hex, sizeof hex, "%016llx", (unsigned long long)h[nvars + 1 + v]);
        TTP_CALL_GOTO(ctx, st, done,
                      ttp_nc_put_text(ctx, nc, v < 0 ? NC_GLOBAL : v, TTP_NC_ATT_CHECKSUM_ATT, hex, path));
    }
    TTP_NC(ctx, st, done, nc_enddef(nc), "adding checksums to '%s'", path);
done:
    free(h);
    free(ok);
    return st;
}

/* Bytes of a name in a classic header: length word + padded characters. */
static int64_t hdr_name(const char *s, int64_t w)
{
    return w + (((int64_t)strlen(s) + 3) & ~(int64_t)3);
}

/* Attribute list of var (NC_GLOBAL) in a classic header. */
static int64_t hdr_atts(int nc, int var, int64_t w)
{
    int natts = 0;
    int64_t b = 4 + w;
    if (nc_inq_varnatts(nc, var, &natts) != NC_NOERR) return -1;
    for (int a = 0; a < natts; a++) {
        char name[NC_MAX_NAME + 1];
        nc_type t;
        size_t len;
        if (nc_inq_attname(nc, var, a, name) != NC_NOERR || nc_inq_att(nc, var, name, &t, &len) != NC_NOERR)
            return -1;
        const int64_t sz = (int64_t)atomic_size(nc, t);
        b += hdr_name(name, w) + 4 + w + (((int64_t)len * sz + 3) & ~(int64_t)3);
    }
    return b;
}

/* For classic, 64-bit-offset and CDF5 files: the least size the header
 * implies (the header's own bytes plus every variable's data, without the
 * alignment padding a writer may add), compared with the file's size. */
static ttp_status check_classic_size(ttp_ctx *ctx, int nc, const char *path)
{
    int fmt = 0, ndims = 0, nvars = 0, unlim = -1;
    if (nc_inq_format(nc, &fmt) != NC_NOERR) return TTP_OK;
    if (fmt != NC_FORMAT_CLASSIC && fmt != NC_FORMAT_64BIT_OFFSET && fmt != NC_FORMAT_CDF5) return TTP_OK;
    const int64_t w = fmt == NC_FORMAT_CDF5 ? 8 : 4;      /* length words */
    const int64_t off = fmt == NC_FORMAT_CLASSIC ? 4 : 8; /* begin field */
    if (nc_inq(nc, &ndims, &nvars, NULL, &unlim) != NC_NOERR) return TTP_OK;
    int64_t hdr = 4 + w;
    double data = 0.0; /* a hostile header may claim more than int64 holds */
    size_t nrec = 0;
    if (unlim >= 0) nc_inq_dimlen(nc, unlim, &nrec);
    hdr += 4 + w;
    for (int d = 0; d < ndims; d++) {
        char name[NC_MAX_NAME + 1];
        if (nc_inq_dimname(nc, d, name) != NC_NOERR) return TTP_OK;
        hdr += hdr_name(name, w) + w;
    }
    /* an attribute NetCDF cannot describe counts as empty: the sum stays a
     * lower bound (found by fuzz_dataset: a damaged attribute made this
     * check give up, and 4·10^9 samples were claimed by a 2 KB file) */
    int64_t ga = hdr_atts(nc, NC_GLOBAL, w);
    if (ga < 0) ga = 0;
    hdr += ga + 4 + w;
    for (int v = 0; v < nvars; v++) {
        char name[NC_MAX_NAME + 1];
        nc_type t;
        int nd, dims[NC_MAX_VAR_DIMS];
        if (nc_inq_var(nc, v, name, &t, &nd, dims, NULL) != NC_NOERR) continue;
        int64_t va = hdr_atts(nc, v, w);
        if (va < 0) va = 0;
        hdr += hdr_name(name, w) + w + nd * w + va + 4 + w + off;
        double vs = (double)atomic_size(nc, t);
        for (int i = 0; i < nd; i++) {
            size_t len = 0;
            if (dims[i] == unlim) continue;
            nc_inq_dimlen(nc, dims[i], &len);
            vs *= (double)len;
        }
        if (nd > 0 && dims[0] == unlim) vs *= (double)nrec;
        data += vs;
    }
    struct stat sb;
    if (stat(path, &sb) != 0) return TTP_OK;
    if ((double)sb.st_size < (double)hdr + data)
        return TTP_ERR(ctx, TTP_ERR_FORMAT,
                       "%s is truncated: its header describes at least %.0f bytes (header %lld, data %.0f) "
                       "but the file has %lld",
                       path, (double)hdr + data, (long long)hdr, data, (long long)sb.st_size);
    return TTP_OK;
}

ttp_status ttp_nc_verify_atts(ttp_ctx *ctx, int nc, const char *path)
{
    ttp_status st = TTP_OK;
    int nvars = 0;
    TTP_NC(ctx, st, done, nc_inq_nvars(nc, &nvars), "counting the variables of '%s'", path);
    for (int v = -1; v < nvars; v++) {
        char *want = NULL, name[NC_MAX_NAME + 1] = "?";
        uint64_t h = 0;
        const int var = v < 0 ? NC_GLOBAL : v;
        if (v >= 0) nc_inq_varname(nc, v, name);
        TTP_CALL_GOTO(ctx, st, done, ttp_nc_get_text(ctx, nc, var, TTP_NC_ATT_CHECKSUM_ATT, path, &want));
        if (want == NULL) continue; /* written before attribute checksums, or by another tool */
        const int rc = hash_atts(nc, var, &h);
        char got[17];
        snprintf(got, sizeof got, "%016llx", (unsigned long long)h);
        if (rc != NC_NOERR)
            st = TTP_ERR(ctx, TTP_ERR_FORMAT,
                         "%s: the attributes of %s%s%s cannot be read (%s): the file is damaged", path,
                         v < 0 ? "the file" : "variable '", v < 0 ? "" : name, v < 0 ? "" : "'",
                         nc_strerror(rc));
        else if (strcmp(want, got) != 0)
            st = TTP_ERR(ctx, TTP_ERR_FORMAT,
                         "%s: the attributes of %s%s%s are corrupted (their checksum %.20s was recorded when "
                         "the file was written, they now hash to %s): an attribute was altered, added or "
                         "removed",
                         path, v < 0 ? "the file (global attributes)" : "variable '", v < 0 ? "" : name,
                         v < 0 ? "" : "'", want, got);
        free(want);
        if (st != TTP_OK) goto done;
    }
done:
    return st;
}

ttp_status ttp_nc_verify(ttp_ctx *ctx, int nc, const char *path, int *unchecked)
{
    ttp_status st = TTP_OK;
    int nvars = 0, nun = 0;
    if (unchecked) *unchecked = 0;
    TTP_CALL(ctx, check_classic_size(ctx, nc, path));
    TTP_CALL(ctx, ttp_nc_verify_atts(ctx, nc, path));
    TTP_NC(ctx, st, done, nc_inq_nvars(nc, &nvars), "counting the variables of '%s'", path);
    for (int v = 0; v < nvars; v++) {
        char *want = NULL, name[NC_MAX_NAME + 1] = "?";
        uint64_t h = 0;
        int hashed = 0;
        nc_inq_varname(nc, v, name);
        TTP_CALL_GOTO(ctx, st, done, ttp_nc_get_text(ctx, nc, v, TTP_NC_CHECKSUM_ATT, path, &want));
        if (want == NULL) {
            nun++;
            continue;
        }
        const int rc = hash_var(nc, v, &h, &hashed);
        char got[17];
        snprintf(got, sizeof got, "%016llx", (unsigned long long)h);
        if (rc != NC_NOERR)
            st = TTP_ERR(ctx, TTP_ERR_FORMAT,
                         "%s: variable '%s' cannot be read (%s): the file is truncated or "
                         "damaged",
                         path, name, nc_strerror(rc));
        else if (hashed && strcmp(want, got) != 0)
            st =
                TTP_ERR(ctx, TTP_ERR_FORMAT,
                        "%s: variable '%s' is corrupted (its checksum %.20s was recorded "
                        "when the file was written, its content now hashes to %s): the file was truncated or "
                        "altered",
                        path, name, want, got);
        free(want);
        if (st != TTP_OK) goto done;
    }
    if (unchecked) *unchecked = nun;
done:
    return st;
}

/* ---- classic header walk -------------------------------------------------- */

typedef struct {
    const unsigned char *b;
    size_t len, pos;
    int v; /* 1 classic, 2 64-bit offset, 5 CDF5 */
    const char *err;
} hdr_walk;

static int hw_take(hdr_walk *h, size_t n, uint64_t *out)
{
    if (h->len - h->pos < n) {
        h->err = "the header ends early";
        return 0;
    }
    uint64_t x = 0;
    for (size_t i = 0; i < n; i++) x = x << 8 | h->b[h->pos + i];
    h->pos += n;
    if (out) *out = x;
    return 1;
}
/* A count or length: 4 bytes, 8 in CDF5. */
static int hw_count(hdr_walk *h, uint64_t *out)
{
    return hw_take(h, h->v == 5 ? 8 : 4, out);
}
/* Skip n items of `each` bytes (padded to 4) that must lie in the file. */
static int hw_skip(hdr_walk *h, uint64_t n, uint64_t each, const char *what)
{
    if (each != 0 && n > (h->len - h->pos) / each) {
        h->err = what;
        return 0;
    }
    const uint64_t bytes = (n * each + 3) & ~(uint64_t)3;
    if (bytes > h->len - h->pos) {
        h->err = what;
        return 0;
    }
    h->pos += (size_t)bytes;
    return 1;
}
/* A name: NetCDF's classic reader takes any length, but nc_inq_attname and
 * its kin then copy the whole name into the caller's NC_MAX_NAME + 1 bytes
 * (found by fuzz_model: a 1,024-character attribute name overflowed the
 * stack in the size check), so a longer one is refused here. */
#define HW_STR(x) #x
#define HW_XSTR(x) HW_STR(x)
static int hw_name(hdr_walk *h)
{
    uint64_t n;
    if (!hw_count(h, &n)) return 0;
    if (n > NC_MAX_NAME) {
        h->err = "a name is longer than NetCDF's limit of " HW_XSTR(NC_MAX_NAME) " characters";
        return 0;
    }
    return hw_skip(h, n, 1, "a name is longer than the file");
}
static size_t hw_type_size(uint64_t t)
{
    static const size_t sz[] = {0, 1, 1, 2, 4, 4, 8, 1, 2, 4, 8, 8};
    return t < sizeof sz / sizeof sz[0] ? sz[t] : 0;
}
/* A list: tag (or ABSENT = zero tag and zero count) and its count. */
static int hw_list(hdr_walk *h, uint64_t want_tag, uint64_t *n)
{
    uint64_t tag;
    if (!hw_take(h, 4, &tag) || !hw_count(h, n)) return 0;
    if (tag == 0 && *n == 0) return 1;
    if (tag != want_tag) {
        h->err = "a list has the wrong tag";
        return 0;
    }
    if (*n > (h->len - h->pos) / 4) {
        h->err = "a list counts more entries than the file holds";
        return 0;
    }
    return 1;
}
static int hw_atts(hdr_walk *h)
{
    uint64_t n;
    if (!hw_list(h, 0x0C, &n)) return 0;
    for (uint64_t i = 0; i < n; i++) {
        uint64_t t, cnt;
        if (!hw_name(h) || !hw_take(h, 4, &t) || !hw_count(h, &cnt)) return 0;
        const size_t sz = hw_type_size(t);
        if (sz == 0 || (h->v != 5 && t > 6)) {
            h->err = "an attribute has an unknown type";
            return 0;
        }
        if (!hw_skip(h, cnt, sz, "an attribute holds more values than the file")) return 0;
    }
    return 1;
}

/* Walk the whole classic header; 0 with h->err set at the first damage. */
static int walk_header(hdr_walk *h)
{
    uint64_t ndims = 0, nvars = 0, n;
    int ok = hw_count(h, NULL) && hw_list(h, 0x0A, &ndims);
    for (uint64_t i = 0; ok && i < ndims; i++) ok = hw_name(h) && hw_count(h, NULL);
    ok = ok && hw_atts(h) && hw_list(h, 0x0B, &nvars);
    for (uint64_t i = 0; ok && i < nvars; i++) {
        uint64_t t;
        ok = hw_name(h) && hw_count(h, &n);
        if (ok && n > NC_MAX_VAR_DIMS) ok = 0, h->err = "a variable has too many dimensions";
        for (uint64_t j = 0; ok && j < n; j++) {
            uint64_t id;
            ok = hw_count(h, &id);
            if (ok && id >= ndims) ok = 0, h->err = "a variable names a dimension that does not exist";
        }
        ok =
            ok && hw_atts(h) && hw_take(h, 4, &t) && hw_count(h, NULL) && hw_take(h, h->v == 1 ? 4 : 8, NULL);
        if (ok && (hw_type_size(t) == 0 || (h->v != 5 && t > 6)))
            ok = 0, h->err = "a variable has an unknown type";
    }
    return ok;
}

/* ---- NetCDF-4 (HDF5) files ------------------------------------------------ */

static uint64_t le(const unsigned char *b, int n)
{
    uint64_t x = 0;
    for (int i = n - 1; i >= 0; i--) x = x << 8 | b[i];
    return x;
}

/* The HDF5 superblock at the start of the file: its version, the size of
 * its addresses, and the end-of-file and root-group addresses against the
 * file's size (a cut file, or a superblock that points outside the file). */
static ttp_status check_hdf5_superblock(ttp_ctx *ctx, const char *path, const unsigned char *b, size_t n,
                                        int64_t fsize)
{
    const unsigned ver = n > 8 ? b[8] : 255;
    unsigned so = 0;
    uint64_t base = 0, eof = 0, root = 0;
    if (ver == 2 || ver == 3) {
        so = n > 9 ? b[9] : 0;
        if ((so == 2 || so == 4 || so == 8) && n >= 12 + 4 * (size_t)so) {
            base = le(b + 12, (int)so);
            eof = le(b + 12 + 2 * so, (int)so);
            root = le(b + 12 + 3 * so, (int)so);
        } else
            so = 0;
    } else if (ver == 0 || ver == 1) {
        so = n > 13 ? b[13] : 0;
        const size_t at = ver == 0 ? 24 : 28; /* base address; then free space, EOF, driver */
        if ((so == 2 || so == 4 || so == 8) && n >= at + 4 * (size_t)so + 8 + (size_t)so) {
            base = le(b + at, (int)so);
            eof = le(b + at + 2 * so, (int)so);
            root = le(b + at + 4 * so + so, (int)so); /* root symbol table entry: link name, header */
        } else
            so = 0;
    } else
        return TTP_ERR(ctx, TTP_ERR_FORMAT,
                       "%s: the HDF5 superblock has version %u (expected 0 to 3): the NetCDF-4 file is "
                       "damaged",
                       path, ver);
    if (so == 0)
        return TTP_ERR(ctx, TTP_ERR_FORMAT,
                       "%s: the HDF5 superblock (version %u) is damaged: its size of addresses is %u, "
                       "expected 2, 4 or 8",
                       path, ver, n > 13 ? (ver >= 2 ? b[9] : b[13]) : 0);
    if (base != 0 || eof > (uint64_t)fsize || eof < 48)
        return TTP_ERR(ctx, TTP_ERR_FORMAT,
                       "%s is truncated or damaged: its HDF5 superblock records an end of file at byte "
                       "%llu (base address %llu) but the file has %lld bytes",
                       path, (unsigned long long)eof, (unsigned long long)base, (long long)fsize);
    if (root >= eof)
        return TTP_ERR(ctx, TTP_ERR_FORMAT,
                       "%s: the HDF5 superblock's root group address %llu lies beyond its end of file %llu: "
                       "the NetCDF-4 file is damaged",
                       path, (unsigned long long)root, (unsigned long long)eof);
    return TTP_OK;
}

/* The probe's walk, in the child: every group's variables' metadata and
 * attributes, and the values of those that fit in the *data bytes left;
 * NC error code, with what it was reading in err. */
static int probe_walk_group(int g, double *data, char *err, size_t cap)
{
    int nv = 0, ng = 0, rc;
    uint64_t h;
    int hashed;
    if ((rc = nc_inq_nvars(g, &nv)) != NC_NOERR) return snprintf(err, cap, "counting variables"), rc;
    if ((rc = hash_atts(g, NC_GLOBAL, &h)) != NC_NOERR) return snprintf(err, cap, "global attributes"), rc;
    for (int v = 0; v < nv; v++) {
        char name[NC_MAX_NAME + 1] = "?";
        nc_inq_varname(g, v, name);
        if ((rc = hash_atts(g, v, &h)) != NC_NOERR)
            return snprintf(err, cap, "the attributes of variable '%s'", name), rc;
        /* values within the budget only: a NetCDF-4 file may declare far
         * more than it stores (unwritten chunks read as fill values), and
         * the reader refuses such sizes before it reads anything */
        nc_type t;
        int nd, dims[NC_MAX_VAR_DIMS];
        if ((rc = nc_inq_var(g, v, NULL, &t, &nd, dims, NULL)) != NC_NOERR)
            return snprintf(err, cap, "variable '%s'", name), rc;
        double bytes = (double)atomic_size(g, t);
        for (int i = 0; i < nd; i++) {
            size_t len = 0;
            if ((rc = nc_inq_dimlen(g, dims[i], &len)) != NC_NOERR)
                return snprintf(err, cap, "the dimensions of variable '%s'", name), rc;
            bytes *= (double)len;
        }
        if (bytes > *data) continue;
        *data -= bytes;
        if ((rc = hash_var(g, v, &h, &hashed)) != NC_NOERR)
            return snprintf(err, cap, "variable '%s'", name), rc;
    }
    if ((rc = nc_inq_grps(g, &ng, NULL)) != NC_NOERR) return snprintf(err, cap, "listing groups"), rc;
    if (ng > 0 && ng < 4096) {
        int ids[4096];
        if ((rc = nc_inq_grps(g, &ng, ids)) != NC_NOERR) return snprintf(err, cap, "listing groups"), rc;
        for (int i = 0; i < ng; i++)
            if ((rc = probe_walk_group(ids[i], data, err, cap)) != NC_NOERR) return rc;
    }
    return NC_NOERR;
}

/* libhdf5 trusts the file's B-trees, heaps and object headers: on some
 * damaged ones it crashes (SEGV in H5G__dense_iterate, H5HG_read), frees
 * twice, or loops, inside nc_open or nc_get_att, where no check of
 * ttpredict's can step in.  So the whole of the file's metadata (and its
 * data, up to TTP_NC_PROBE_DATA bytes) is walked first in a child process
 * under a time limit; the reader opens the file itself only when the walk
 * ended cleanly.  The child does nothing but the walk and _exit (no MPI,
 * no CUDA, no atexit handlers), with its stderr silenced. */
/* The probe's time limit: TTP_NC_PROBE_SECONDS, plus a second for every
 * 16 MiB of values it reads. */
static unsigned probe_seconds(int64_t fsize)
{
    const int64_t data = fsize <= TTP_NC_PROBE_DATA ? fsize : 0;
    return (unsigned)(TTP_NC_PROBE_SECONDS + data / ((int64_t)16 << 20));
}

static ttp_status probe_hdf5(ttp_ctx *ctx, const char *path, int64_t fsize)
{
    int fd[2];
    if (pipe(fd) != 0) return TTP_OK; /* cannot probe: the reader goes ahead as before */
    fflush(NULL);
    const pid_t pid = fork();
    if (pid < 0) {
        close(fd[0]);
        close(fd[1]);
        return TTP_OK;
    }
    if (pid == 0) {
        char err[512] = "";
        int nc = -1, rc;
        close(fd[0]);
        const int dn = open("/dev/null", O_WRONLY);
        if (dn >= 0) dup2(dn, 2);
        signal(SIGALRM, SIG_DFL);
        alarm(probe_seconds(fsize));
        rc = nc_open(path, NC_NOWRITE, &nc);
        if (rc != NC_NOERR)
            snprintf(err, sizeof err, "opening it");
        else {
            double budget = fsize <= TTP_NC_PROBE_DATA ? (double)TTP_NC_PROBE_DATA : 0.0;
            rc = probe_walk_group(nc, &budget, err, sizeof err);
        }
        if (rc == NC_NOERR && (rc = nc_close(nc)) != NC_NOERR) snprintf(err, sizeof err, "closing it");
        if (rc != NC_NOERR) {
            char msg[700];
            const int len = snprintf(msg, sizeof msg, "%s (%s)", nc_strerror(rc), err);
            if (write(fd[1], msg, (size_t)len) < 0) _exit(3);
            _exit(1);
        }
        _exit(0);
    }
    close(fd[1]);
    char msg[701];
    size_t got = 0;
    for (;;) {
        const ssize_t r = read(fd[0], msg + got, sizeof msg - 1 - got);
        if (r > 0 && got + (size_t)r < sizeof msg - 1) {
            got += (size_t)r;
            continue;
        }
        if (r > 0) got += (size_t)r;
        if (r < 0 && errno == EINTR) continue;
        break;
    }
    msg[got] = '\0';
    close(fd[0]);
    int status = 0;
    pid_t w;
    while ((w = waitpid(pid, &status, 0)) < 0 && errno == EINTR) {
    }
    if (w != pid) return TTP_OK;
    if (WIFSIGNALED(status) && WTERMSIG(status) == SIGALRM)
        return TTP_ERR(ctx, TTP_ERR_FORMAT,
                       "%s: the HDF5 library did not finish reading this NetCDF-4 file's structures within "
                       "%u s (a damaged B-tree or heap makes it loop): the file is damaged",
                       path, probe_seconds(fsize));
    if (WIFSIGNALED(status))
        return TTP_ERR(ctx, TTP_ERR_FORMAT,
                       "%s: the HDF5 library crashes on this NetCDF-4 file's structures (signal %d while "
                       "reading them in a separate process): the file is damaged",
                       path, WTERMSIG(status));
    if (WIFEXITED(status) && WEXITSTATUS(status) == 1)
        return TTP_ERR(ctx, TTP_ERR_FORMAT, "%s: this NetCDF-4 file is damaged: %s", path, msg);
    return TTP_OK;
}

ttp_status ttp_nc_precheck(ttp_ctx *ctx, const char *path)
{
    ttp_status st = TTP_OK;
    unsigned char *buf = NULL;
    FILE *f = fopen(path, "rb");
    if (f == NULL) return TTP_OK; /* the reader says why it cannot open it */
    unsigned char magic[96] = {0};
    const size_t nmagic = fread(magic, 1, sizeof magic, f);
    struct stat sb;
    if (fstat(fileno(f), &sb) != 0) {
        fclose(f);
        return TTP_OK;
    }
    if (nmagic >= 8 && memcmp(magic, "\x89HDF\r\n\x1a\n", 8) == 0) {
        fclose(f);
        TTP_CALL(ctx, check_hdf5_superblock(ctx, path, magic, nmagic, (int64_t)sb.st_size));
        /* TTP_NC4_PROBE=off: no child process, for MPI transports that do
         * not tolerate fork (the superblock check above still runs). */
        const char *probe = getenv("TTP_NC4_PROBE");
        if (probe != NULL && strcmp(probe, "off") == 0) return TTP_OK;
        return probe_hdf5(ctx, path, (int64_t)sb.st_size);
    }
    if (nmagic < 4 || memcmp(magic, "CDF", 3) != 0 || (magic[3] != 1 && magic[3] != 2 && magic[3] != 5)) {
        fclose(f);
        return TTP_OK;
    }
    /* The header is read from the start: 1 MiB first (every header
     * ttpredict writes is a few KiB), then up to 64 MiB when the walk runs
     * off the end of a larger file.  A header longer than that is left to
     * NetCDF. */
    hdr_walk h = {NULL, 0, 4, magic[3], NULL};
    int ok = 0;
    size_t len = 0;
    for (size_t cap = (size_t)1 << 20;; cap = (size_t)64 << 20) {
        len = (size_t)sb.st_size < cap ? (size_t)sb.st_size : cap;
        free(buf);
        buf = ttp_calloc(ctx, len, 1, "NetCDF header");
        if (buf == NULL) {
            fclose(f);
            return TTP_ERR_NOMEM;
        }
        rewind(f);
        len = fread(buf, 1, len, f);
        h = (hdr_walk){buf, len, 4, magic[3], NULL};
        ok = walk_header(&h);
        if (ok || len >= (size_t)sb.st_size || cap == ((size_t)64 << 20)) break;
    }
    fclose(f);
    /* ran off the end of a partial read: not evidence of damage */
    if (!ok && len < (size_t)sb.st_size && h.pos + 65536 > len) ok = 1;
    if (!ok)
        st = TTP_ERR(ctx, TTP_ERR_FORMAT, "%s: the NetCDF header is damaged (%s, at byte %zu of %lld)", path,
                     h.err ? h.err : "unreadable", h.pos, (long long)sb.st_size);
    free(buf);
    return st;
}

ttp_status ttp_nc_out_create(ttp_ctx *ctx, ttp_nc_out *f, const char *path, int mode)
{
    ttp_status st = TTP_OK;
    f->id = -1;
    f->created = 0;
    f->path = path;
    f->tmp = NULL;
    TTP_CALL(ctx, ttp_tmpname(ctx, path, &f->tmp));
    TTP_NC(ctx, st, done, nc_create(f->tmp, mode, &f->id), "creating '%.400s'", f->tmp);
    f->created = 1;
done:
    return st;
}

/* NetCDF reports a full disk as an HDF5 error (-101): say it in words when
 * the destination's file system has no room left. */
static ttp_status close_error(ttp_ctx *ctx, int rc, const ttp_nc_out *f)
{
    struct statvfs sv;
    const char *slash = strrchr(f->tmp, '/');
    char dir[4096] = ".";
    if (slash && (size_t)(slash - f->tmp) < sizeof dir) {
        memcpy(dir, f->tmp, (size_t)(slash - f->tmp));
        dir[slash - f->tmp] = '\0';
        if (dir[0] == '\0') dir[0] = '/', dir[1] = '\0';
    }
    if (statvfs(dir, &sv) == 0 && (double)sv.f_bavail * (double)sv.f_frsize < 1048576.0)
        return TTP_ERR(ctx, TTP_ERR_IO, "cannot write '%.400s': %s (NetCDF: %s)", f->path, strerror(ENOSPC),
                       nc_strerror(rc));
    return TTP_ERR(ctx, TTP_ERR_NETCDF, "closing '%.400s': %s (code %d)", f->tmp, nc_strerror(rc), rc);
}

ttp_status ttp_nc_out_commit(ttp_ctx *ctx, ttp_nc_out *f)
{
    /* the checksums describe the content as written: computed last */
    const ttp_status cs = checksum_all(ctx, f->id, f->path);
    if (cs != TTP_OK) {
        ttp_error_trace(ctx, __FILE__, __LINE__, __func__);
        return cs;
    }
    const int rc = nc_close(f->id);
    f->id = -1;
    if (rc != NC_NOERR) return close_error(ctx, rc, f);
    const ttp_status st = ttp_commit_file(ctx, f->tmp, f->path);
    f->created = 0; /* committed, or removed by ttp_commit_file */
    free(f->tmp);
    f->tmp = NULL;
    if (st != TTP_OK) ttp_error_trace(ctx, __FILE__, __LINE__, __func__);
    return st;
}

void ttp_nc_out_discard(ttp_nc_out *f)
{
    /* nc_abort, not nc_close: the file is thrown away, nothing to flush */
    if (f->id >= 0) nc_abort(f->id);
    f->id = -1;
    if (f->created && f->tmp) remove(f->tmp);
    f->created = 0;
    free(f->tmp);
    f->tmp = NULL;
}
