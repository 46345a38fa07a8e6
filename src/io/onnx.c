/*
 * onnx.c — the ONNX reader (ttp_onnx.h): protobuf-c bindings generated at
 * build time from onnx.proto, a bounded pre-walk of the bytes, a
 * topological sort of the node list, and a symbolic evaluation of the nodes
 * that the output needs, in which every tensor is either a constant, a
 * computed tensor (the output of a layer, or the network input), or a step
 * of a recognised multi-node pattern (MatMul awaiting its bias, the GELU
 * subgraph).  Layers are appended as computed tensors appear, so the layer
 * list is in topological order and every input index is an earlier layer.
 *
 * Also ttp_model_load, the format dispatch by magic bytes.
 */
#include "ttp_onnx.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int ttp_model_file_is_onnx(const char *path)
{
    unsigned char mg[4] = {0, 0, 0, 0};
    FILE *f = fopen(path, "rb");
    if (f == NULL) return 0;
    size_t got = fread(mg, 1, 4, f);
    fclose(f);
    int netcdf = got == 4 && ((memcmp(mg, "CDF", 3) == 0 && (mg[3] == 1 || mg[3] == 2 || mg[3] == 5)) ||
                              memcmp(mg, "\x89HDF", 4) == 0);
    return !netcdf;
}

ttp_status ttp_model_load(ttp_ctx *ctx, const char *path, ttp_model **out)
{
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (f == NULL) return TTP_ERR(ctx, TTP_ERR_IO, "cannot open model file '%s': %s", path, strerror(errno));
    fclose(f);
    if (ttp_model_file_is_onnx(path))
        TTP_CALL(ctx, ttp_onnx_read(ctx, path, out));
    else
        TTP_CALL(ctx, ttp_model_read(ctx, path, out));
    return TTP_OK;
}

#if !TTP_HAVE_ONNX

int ttp_onnx_available(void)
{
    return 0;
}

ttp_status ttp_onnx_read(ttp_ctx *ctx, const char *path, ttp_model **out)
{
    *out = NULL;
    return TTP_ERR(ctx, TTP_ERR_UNSUPPORTED,
                   "model file '%s' is not NetCDF (it does not start with CDF or \\x89HDF), and this "
                   "ttpredict was built without ONNX support (install protobuf-c-compiler, "
                   "libprotobuf-c-dev and libonnx-dev, then rebuild)",
                   path);
}

#else

#include "onnx.pb-c.h"

int ttp_onnx_available(void)
{
    return 1;
}

/* The file is read whole; protobuf's own limit on a message is 2 GiB. */
#define MAX_FILE ((long)2147483647)
/* Nesting of messages inside messages: the models this reader accepts need
 * 7 levels (model, graph, value info, type, tensor type, shape, dimension);
 * the bound keeps a hostile file from recursing protobuf-c's unpacker off
 * the stack. */
#define MAX_DEPTH 32
#define MAX_NAME 200

static const char supported_ops[] =
    "Gemm, MatMul (+ Add bias), Conv, BatchNormalization, MaxPool, AveragePool, GlobalAveragePool, "
    "Flatten, Reshape (flattening; its shape constant or from Shape/Gather/Unsqueeze/Concat), Pad (all "
    "zero),  Add (residual), Relu, Sigmoid, Tanh, LeakyRelu, Gelu "
    "(and its "
    "Div/Erf/Add/Mul form), Identity, Dropout, Constant";

/* ---- values: what a tensor of the graph is ---------------------------- */

typedef enum {
    V_NONE = 0,  /* not (yet) produced                                     */
    V_CONST,     /* a constant: initializer or Constant node                */
    V_ACT,       /* computed from the network input: layer output or input  */
    V_MATMUL,    /* MatMul by a constant, awaiting an optional Add bias     */
    V_GELU_DIV,  /* x / √2                                                  */
    V_GELU_ERF,  /* erf(x / √2)                                             */
    V_GELU_ERF1, /* 1 + erf(x / √2)                                         */
    V_GELU_X2,   /* x · (1 + erf(x / √2)), i.e. 2·gelu(x)                   */
    V_GELU_HALF, /* x / 2                                                   */
    V_SHAPE,     /* Shape(x): x's dimensions, the batch one symbolic         */
    V_BATCH,     /* Gather(Shape(x), 0): the batch size, a scalar           */
    V_BATCH1,    /* Unsqueeze of it: the 1-D tensor [N]                      */
    V_FLATSPEC   /* Concat([N], [s]): the shape (N, s) for a Reshape        */
} vkind;

typedef struct value {
    vkind kind;
    /* V_ACT and the patterns (the tensor x they are built on) */
    int layer;        /* producer layer, -1 = network input  */
    int rank;         /* ONNX rank with the batch: 2 or 4    */
    int64_t shape[3]; /* per-sample (C, H, W); (F, 1, 1)    */
    /* V_CONST */
    int ndims;
    int64_t dims[8];
    int64_t n;
    const double *data; /* owned by the reader's pool */
    /* V_MATMUL: the constant (K × N) */
    const double *mm;
    int64_t mm_k, mm_n;
    const char *mm_name; /* node name, for the layer */
    int64_t spec;        /* V_FLATSPEC: s */
} value;

typedef struct pend_layer {
    ttp_layer L;
    double *w, *s; /* parameters (nw) and state (ns) in slab layout */
    int64_t nw, ns;
} pend_layer;

typedef struct reader {
    ttp_ctx *ctx;
    const char *path;
    Onnx__ModelProto *mp;
    Onnx__GraphProto *g;
    int opset;
    /* tensor names: open-addressing hash over all names */
    size_t ncap;
    const char **names; /* slot -> name (borrowed from mp)    */
    int *ids;           /* slot -> tensor id                  */
    int ntensors;
    value *vals;   /* per tensor id                      */
    int *producer; /* per tensor id: node index, or -1   */
    /* constant data and layers */
    double **pool;
    int npool, cappool;
    pend_layer *layers;
    int nlayers, caplayers;
} reader;

static ttp_status oerr(reader *r, ttp_status code, const char *file, int line, const char *func,
                       const char *fmt, ...) __attribute__((format(printf, 6, 7)));
static ttp_status oerr(reader *r, ttp_status code, const char *file, int line, const char *func,
                       const char *fmt, ...)
{
    char m[TTP_MSG_LEN];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(m, sizeof m, fmt, ap);
    va_end(ap);
    return ttp_error_set(r->ctx, code, file, line, func, "ONNX model '%s': %s", r->path, m);
}
#define OERR(r, code, ...) oerr((r), (code), __FILE__, __LINE__, __func__, __VA_ARGS__)

/* "node 12 'conv1' (Conv)" for messages; names are clipped to stay short. */
typedef struct {
    char s[MAX_NAME + 64];
} nodestr;
static nodestr node_str(const Onnx__NodeProto *n, int idx)
{
    nodestr o;
    const char *nm = n->name && n->name[0] ? n->name : "";
    const char *op = n->op_type ? n->op_type : "";
    if (nm[0])
        snprintf(o.s, sizeof o.s, "node %d '%.*s' (%.60s)", idx, MAX_NAME / 2, nm, op);
    else
        snprintf(o.s, sizeof o.s, "node %d (%.60s, unnamed)", idx, op);
    return o;
}

/* ---- a bounded walk of the wire format ------------------------------- */

static int read_varint(const uint8_t *p, size_t len, size_t *pos, uint64_t *v)
{
    uint64_t x = 0;
    for (int sh = 0; sh < 64; sh += 7) {
        if (*pos >= len) return -1;
        uint8_t b = p[(*pos)++];
        x |= (uint64_t)(b & 0x7f) << sh;
        if (!(b & 0x80)) {
            *v = x;
            return 0;
        }
    }
    return -1;
}

/*
 * Check that the bytes are well-formed protobuf for descriptor d, recursing
 * only into fields the schema declares as messages, at most MAX_DEPTH deep.
 * Returns 0, or -1 (malformed: *why says how) / -2 (too deep).
 */
static int walk(const ProtobufCMessageDescriptor *d, const uint8_t *p, size_t len, int depth, size_t base,
                size_t *bad)
{
    if (depth > MAX_DEPTH) {
        *bad = base;
        return -2;
    }
    size_t pos = 0;
    while (pos < len) {
        size_t at = pos;
        uint64_t key, v;
        if (read_varint(p, len, &pos, &key)) goto malformed;
        uint32_t field = (uint32_t)(key >> 3), wt = (uint32_t)(key & 7);
        if (field == 0) goto malformed;
        switch (wt) {
        case 0:
            if (read_varint(p, len, &pos, &v)) goto malformed;
            break;
        case 1:
            if (len - pos < 8) goto malformed;
            pos += 8;
            break;
        case 5:
            if (len - pos < 4) goto malformed;
            pos += 4;
            break;
        case 2: {
            if (read_varint(p, len, &pos, &v)) goto malformed;
            if (v > len - pos) goto malformed;
            const ProtobufCFieldDescriptor *fd = protobuf_c_message_descriptor_get_field(d, field);
            if (fd && fd->type == PROTOBUF_C_TYPE_MESSAGE) {
                int rc = walk((const ProtobufCMessageDescriptor *)fd->descriptor, p + pos, (size_t)v,
                              depth + 1, base + pos, bad);
                if (rc) return rc;
            }
            pos += (size_t)v;
            break;
        }
        default: goto malformed; /* groups (3, 4) are not used by ONNX */
        }
        continue;
    malformed:
        *bad = base + at;
        return -1;
    }
    return 0;
}

/* ---- names ------------------------------------------------------------ */

static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++) h = (h ^ (uint8_t)*s) * 1099511628211ull;
    return h;
}

/* Slot of name: either holding it, or the empty slot where it belongs. */
static size_t slot_of(const reader *r, const char *name)
{
    size_t i = (size_t)(hash_str(name) & (r->ncap - 1));
    while (r->names[i] && strcmp(r->names[i], name) != 0) i = (i + 1) & (r->ncap - 1);
    return i;
}

static int find_id(const reader *r, const char *name)
{
    size_t i = slot_of(r, name);
    return r->names[i] ? r->ids[i] : -1;
}

/* Register a name (new id), or return the existing id in *existing. */
static int add_name(reader *r, const char *name, int *existing)
{
    size_t i = slot_of(r, name);
    if (r->names[i]) {
        *existing = r->ids[i];
        return r->ids[i];
    }
    *existing = -1;
    r->names[i] = name;
    r->ids[i] = r->ntensors;
    return r->ntensors++;
}

/* ---- constants -------------------------------------------------------- */

static ttp_status pool_alloc(reader *r, int64_t n, double **out)
{
    if (r->npool == r->cappool) {
        int cap = r->cappool ? 2 * r->cappool : 64;
        double **np = realloc(r->pool, (size_t)cap * sizeof *np);
        if (np == NULL) return OERR(r, TTP_ERR_NOMEM, "cannot grow the constant pool");
        r->pool = np, r->cappool = cap;
    }
    double *d = ttp_calloc(r->ctx, (size_t)(n > 0 ? n : 1), sizeof *d, "ONNX constant");
    if (d == NULL) return TTP_ERR_NOMEM;
    r->pool[r->npool++] = d;
    *out = d;
    return TTP_OK;
}

static double le_f32(const uint8_t *b)
{
    uint32_t u = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static uint64_t le_u64(const uint8_t *b)
{
    uint64_t u = 0;
    for (int k = 7; k >= 0; k--) u = u << 8 | b[k];
    return u;
}

/* A TensorProto as a constant value: float, double, int64 or int32, raw
 * (little-endian) or typed; the element count is checked against the bytes
 * present before the double array is allocated. */
static ttp_status tensor_value(reader *r, const Onnx__TensorProto *t, const char *what, value *v)
{
    memset(v, 0, sizeof *v);
    int dt = t->has_data_type ? t->data_type : 0;
    if ((t->has_data_location && t->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL) ||
        t->n_external_data > 0)
        return OERR(r, TTP_ERR_FORMAT,
                    "%s keeps its data in an external file, which this reader does not follow (save the "
                    "model with its weights inside, e.g. onnx.save(..., save_as_external_data=False))",
                    what);
    if (t->segment)
        return OERR(r, TTP_ERR_FORMAT, "%s is a segment of a tensor, which is not supported", what);
    size_t esz;
    switch (dt) {
    case ONNX__TENSOR_PROTO__DATA_TYPE__BOOL: esz = 1; break;
    case ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT:
    case ONNX__TENSOR_PROTO__DATA_TYPE__INT32: esz = 4; break;
    case ONNX__TENSOR_PROTO__DATA_TYPE__DOUBLE:
    case ONNX__TENSOR_PROTO__DATA_TYPE__INT64: esz = 8; break;
    default:
        return OERR(r, TTP_ERR_FORMAT,
                    "%s has element type %d; supported are float32 (1), float64 (11), int64 (7), "
                    "int32 (6) and bool (9)",
                    what, dt);
    }
    if (t->n_dims > 8)
        return OERR(r, TTP_ERR_FORMAT, "%s has %zu dimensions, at most 8 are supported", what, t->n_dims);
    int64_t n = 1;
    for (size_t k = 0; k < t->n_dims; k++) {
        if (t->dims[k] < 0)
            return OERR(r, TTP_ERR_FORMAT, "%s: dimension %zu is %lld, expected >= 0", what, k,
                        (long long)t->dims[k]);
        TTP_CALL(r->ctx, ttp_size_mul(r->ctx, n, t->dims[k], TTP_SIZE_INT, &n,
                                      "ONNX model '%s': %s: element count", r->path, what));
        v->dims[k] = t->dims[k];
    }
    v->ndims = (int)t->n_dims;
    size_t have;
    if (t->has_raw_data) {
        have = t->raw_data.len;
        if (have != (size_t)n * esz)
            return OERR(r, TTP_ERR_FORMAT, "%s: raw_data holds %zu bytes, its shape needs %lld x %zu", what,
                        have, (long long)n, esz);
    } else {
        have = dt == ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT    ? t->n_float_data
               : dt == ONNX__TENSOR_PROTO__DATA_TYPE__DOUBLE ? t->n_double_data
               : dt == ONNX__TENSOR_PROTO__DATA_TYPE__INT64  ? t->n_int64_data
                                                             : t->n_int32_data;
        if (have != (size_t)n)
            return OERR(r, TTP_ERR_FORMAT, "%s: holds %zu values, its shape needs %lld", what, have,
                        (long long)n);
    }
    double *d = NULL;
    TTP_CALL(r->ctx, pool_alloc(r, n, &d));
    for (int64_t i = 0; i < n; i++) {
        double x;
        if (t->has_raw_data) {
            const uint8_t *b = t->raw_data.data + (size_t)i * esz;
            if (dt == ONNX__TENSOR_PROTO__DATA_TYPE__BOOL)
                x = b[0] != 0;
            else if (dt == ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT)
                x = le_f32(b);
            else if (dt == ONNX__TENSOR_PROTO__DATA_TYPE__INT32)
                x = (double)(int32_t)((uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 |
                                      (uint32_t)b[3] << 24);
            else if (dt == ONNX__TENSOR_PROTO__DATA_TYPE__INT64)
                x = (double)(int64_t)le_u64(b);
            else {
                uint64_t u = le_u64(b);
                memcpy(&x, &u, 8);
            }
        } else {
            x = dt == ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT    ? (double)t->float_data[i]
                : dt == ONNX__TENSOR_PROTO__DATA_TYPE__DOUBLE ? t->double_data[i]
                : dt == ONNX__TENSOR_PROTO__DATA_TYPE__INT64  ? (double)t->int64_data[i]
                                                              : (double)t->int32_data[i]; /* int32, bool */
        }
        if (!isfinite(x))
            return OERR(r, TTP_ERR_FORMAT, "%s: element %lld is %g, expected a finite value", what,
                        (long long)i, x);
        d[i] = x;
    }
    v->kind = V_CONST;
    v->n = n;
    v->data = d;
    return TTP_OK;
}

/* ---- attributes ------------------------------------------------------- */

static const Onnx__AttributeProto *attr(const Onnx__NodeProto *n, const char *name)
{
    for (size_t k = 0; k < n->n_attribute; k++)
        if (n->attribute[k]->name && strcmp(n->attribute[k]->name, name) == 0) return n->attribute[k];
    return NULL;
}

/* Every attribute of the node must be one the reader understands. */
static ttp_status check_attrs(reader *r, const Onnx__NodeProto *n, int idx, const char *const *known)
{
    for (size_t k = 0; k < n->n_attribute; k++) {
        const char *an = n->attribute[k]->name ? n->attribute[k]->name : "";
        int ok = 0;
        for (const char *const *q = known; *q; q++) ok |= strcmp(*q, an) == 0;
        if (!ok)
            return OERR(r, TTP_ERR_FORMAT, "%s: attribute '%.60s' is not supported for this operator",
                        node_str(n, idx).s, an);
    }
    return TTP_OK;
}

static int64_t attr_int(const Onnx__NodeProto *n, const char *name, int64_t dflt)
{
    const Onnx__AttributeProto *a = attr(n, name);
    return a && a->has_i ? a->i : dflt;
}

static double attr_float(const Onnx__NodeProto *n, const char *name, double dflt)
{
    const Onnx__AttributeProto *a = attr(n, name);
    return a && a->has_f ? (double)a->f : dflt;
}

/* ints attribute of exactly `want` entries (or absent: all `dflt`). */
static ttp_status attr_ints(reader *r, const Onnx__NodeProto *n, int idx, const char *name, size_t want,
                            int64_t dflt, int64_t *out)
{
    const Onnx__AttributeProto *a = attr(n, name);
    for (size_t k = 0; k < want; k++) out[k] = dflt;
    if (a == NULL) return TTP_OK;
    if (a->n_ints != want)
        return OERR(r, TTP_ERR_FORMAT, "%s: attribute %s has %zu values, expected %zu (2-D operators only)",
                    node_str(n, idx).s, name, a->n_ints, want);
    memcpy(out, a->ints, want * sizeof *out);
    return TTP_OK;
}

static ttp_status check_auto_pad(reader *r, const Onnx__NodeProto *n, int idx)
{
    const Onnx__AttributeProto *a = attr(n, "auto_pad");
    if (a == NULL || !a->has_s) return TTP_OK;
    if (a->s.len == 6 && memcmp(a->s.data, "NOTSET", 6) == 0) return TTP_OK;
    return OERR(r, TTP_ERR_FORMAT,
                "%s: attribute auto_pad = '%.*s' is not supported (only NOTSET, with explicit pads)",
                node_str(n, idx).s, (int)(a->s.len > 20 ? 20 : a->s.len), (const char *)a->s.data);
}

/* Square window, equal strides, symmetric pads (same on both axes), unit
 * dilations: the window of the engine's conv2d and pooling layers. */
static ttp_status window(reader *r, const Onnx__NodeProto *n, int idx, int64_t kh, int64_t kw, ttp_layer *L,
                         int allow_pad)
{
    int64_t ks[2], st[2], pd[4], dl[2];
    nodestr nsb = node_str(n, idx);
    const char *ns = nsb.s;
    TTP_CALL(r->ctx, check_auto_pad(r, n, idx));
    TTP_CALL(r->ctx, attr_ints(r, n, idx, "kernel_shape", 2, -1, ks));
    if (ks[0] < 0) ks[0] = kh, ks[1] = kw;
    if (kh >= 0 && (ks[0] != kh || ks[1] != kw))
        return OERR(r, TTP_ERR_FORMAT,
                    "%s: attribute kernel_shape (%lld, %lld) differs from the weights' (%lld, %lld)", ns,
                    (long long)ks[0], (long long)ks[1], (long long)kh, (long long)kw);
    if (ks[0] != ks[1] || ks[0] < 1 || ks[0] > 65536)
        return OERR(r, TTP_ERR_FORMAT,
                    "%s: attribute kernel_shape (%lld, %lld): only square kernels of 1..65536 are supported",
                    ns, (long long)ks[0], (long long)ks[1]);
    TTP_CALL(r->ctx, attr_ints(r, n, idx, "strides", 2, 1, st));
    if (st[0] != st[1] || st[0] < 1 || st[0] > 65536)
        return OERR(r, TTP_ERR_FORMAT,
                    "%s: attribute strides (%lld, %lld): only equal strides of 1..65536 are supported", ns,
                    (long long)st[0], (long long)st[1]);
    TTP_CALL(r->ctx, attr_ints(r, n, idx, "pads", 4, 0, pd));
    if (pd[0] != pd[1] || pd[0] != pd[2] || pd[0] != pd[3] || pd[0] < 0 || pd[0] > 65536)
        return OERR(
            r, TTP_ERR_FORMAT,
            "%s: attribute pads (%lld, %lld, %lld, %lld): only symmetric padding, equal on all sides, "
            "is supported",
            ns, (long long)pd[0], (long long)pd[1], (long long)pd[2], (long long)pd[3]);
    if (!allow_pad && pd[0] != 0)
        return OERR(r, TTP_ERR_FORMAT, "%s: attribute pads = %lld: pooling with padding is not supported", ns,
                    (long long)pd[0]);
    TTP_CALL(r->ctx, attr_ints(r, n, idx, "dilations", 2, 1, dl));
    if (dl[0] != 1 || dl[1] != 1)
        return OERR(r, TTP_ERR_FORMAT, "%s: attribute dilations (%lld, %lld): only dilation 1 is supported",
                    ns, (long long)dl[0], (long long)dl[1]);
    if (attr_int(n, "ceil_mode", 0) != 0)
        return OERR(r, TTP_ERR_FORMAT, "%s: attribute ceil_mode = 1 is not supported (floor only)", ns);
    L->kernel = (int)ks[0];
    L->stride = (int)st[0];
    L->pad = (int)pd[0];
    return TTP_OK;
}

/* ---- layers ----------------------------------------------------------- */

/* Append a layer reading `in` (and `in2` for add) with parameters w (nw,
 * taken over) and state s (ns, taken over); the value *out becomes its
 * output (shape inferred later by ttp_model_build, mirrored here). */
static ttp_status push_layer(reader *r, ttp_layer *L, double *w, int64_t nw, double *s, int64_t ns,
                             value *out)
{
    if (r->nlayers == r->caplayers) {
        int cap = r->caplayers ? 2 * r->caplayers : 32;
        pend_layer *nl = realloc(r->layers, (size_t)cap * sizeof *nl);
        if (nl == NULL) {
            free(w), free(s);
            return OERR(r, TTP_ERR_NOMEM, "cannot grow the layer list");
        }
        r->layers = nl, r->caplayers = cap;
    }
    L->trainable = 1;
    pend_layer *p = &r->layers[r->nlayers];
    memset(p, 0, sizeof *p);
    p->L = *L;
    p->w = w, p->nw = nw, p->s = s, p->ns = ns;
    out->layer = r->nlayers++;
    out->kind = V_ACT;
    return TTP_OK;
}

static void layer_init(ttp_layer *L, ttp_layer_kind kind, const value *in, const Onnx__NodeProto *n, int idx)
{
    memset(L, 0, sizeof *L);
    L->kind = kind;
    L->input[0] = in->layer;
    L->input[1] = -1;
    if (n && n->name && n->name[0])
        snprintf(L->name, sizeof L->name, "%.63s", n->name);
    else
        snprintf(L->name, sizeof L->name, "%s_%d", n && n->op_type ? n->op_type : "node", idx);
}

static ttp_status alloc_d(reader *r, int64_t n, double **p)
{
    *p = ttp_calloc(r->ctx, (size_t)(n > 0 ? n : 1), sizeof **p, "layer parameters");
    return *p ? TTP_OK : TTP_ERR_NOMEM;
}

/* Dense layer from W (out × in, row-major) and an optional bias. */
static ttp_status make_dense(reader *r, const value *in, const Onnx__NodeProto *n, int idx, const double *W,
                             int64_t nout, int64_t nin, int transposed, double alpha, const double *b,
                             double beta, value *out)
{
    ttp_layer L;
    double *w = NULL;
    int64_t nw = 0;
    TTP_CALL(r->ctx, ttp_size_mul(r->ctx, nout, nin + 1, TTP_SIZE_INT, &nw,
                                  "ONNX model '%s': %s: dense weights", r->path, node_str(n, idx).s));
    TTP_CALL(r->ctx, alloc_d(r, nw, &w));
    for (int64_t o = 0; o < nout; o++)
        for (int64_t i = 0; i < nin; i++)
            w[o * nin + i] = alpha * (transposed ? W[i * nout + o] : W[o * nin + i]);
    for (int64_t o = 0; o < nout; o++) w[nout * nin + o] = b ? beta * b[o] : 0.0;
    for (int64_t k = 0; k < nw; k++)
        if (!isfinite(w[k])) {
            free(w);
            return OERR(r, TTP_ERR_FORMAT, "%s: alpha or beta times the weights is not finite",
                        node_str(n, idx).s);
        }
    layer_init(&L, TTP_LAYER_DENSE, in, n, idx);
    L.units = (int)nout;
    *out = *in;
    out->rank = 2;
    out->shape[0] = nout, out->shape[1] = 1, out->shape[2] = 1;
    return push_layer(r, &L, w, nw, NULL, 0, out);
}

static ttp_status elementwise(reader *r, ttp_layer_kind kind, const value *in, const Onnx__NodeProto *n,
                              int idx, value *out)
{
    ttp_layer L;
    layer_init(&L, kind, in, n, idx);
    *out = *in;
    return push_layer(r, &L, NULL, 0, NULL, 0, out);
}

/* ---- node evaluation -------------------------------------------------- */

static const char *kind_what(vkind k)
{
    switch (k) {
    case V_NONE: return "not produced by any supported node (e.g. an unused second output)";
    case V_CONST: return "a constant";
    case V_ACT: return "a computed tensor";
    case V_MATMUL: return "a MatMul product";
    case V_SHAPE:
    case V_BATCH:
    case V_BATCH1:
    case V_FLATSPEC:
        return "a step of computing a shape (Shape, Gather, Unsqueeze, Concat) for a flattening Reshape";
    default: return "a step of the GELU pattern (x/sqrt(2), erf, +1, *x, *0.5)";
    }
}

/* Input k of node n, or NULL when absent or named "". */
static value *input_val(reader *r, const Onnx__NodeProto *n, size_t k)
{
    if (k >= n->n_input || n->input[k] == NULL || n->input[k][0] == '\0') return NULL;
    int id = find_id(r, n->input[k]);
    return id < 0 ? NULL : &r->vals[id];
}

/* A MatMul product consumed as a tensor becomes a dense layer without bias. */
static ttp_status materialize(reader *r, value *v, const Onnx__NodeProto *n, int idx)
{
    if (v->kind != V_MATMUL) return TTP_OK;
    value in = *v, out;
    in.kind = V_ACT;
    TTP_CALL(r->ctx, make_dense(r, &in, n, idx, v->mm, v->mm_n, v->mm_k, 1, 1.0, NULL, 0.0, &out));
    *v = out;
    return TTP_OK;
}

/* Input k must be a computed tensor (rank `rank`, or any when 0). */
static ttp_status need_act(reader *r, const Onnx__NodeProto *n, int idx, size_t k, int rank, value **pv)
{
    value *v = input_val(r, n, k);
    if (v == NULL) return OERR(r, TTP_ERR_FORMAT, "%s: input %zu is missing", node_str(n, idx).s, k);
    TTP_CALL(r->ctx, materialize(r, v, n, idx));
    if (v->kind != V_ACT)
        return OERR(r, TTP_ERR_FORMAT,
                    "%s: input %zu '%.*s' is %s, where a tensor computed from the network input is expected",
                    node_str(n, idx).s, k, MAX_NAME, n->input[k], kind_what(v->kind));
    if (rank && v->rank != rank)
        return OERR(r, TTP_ERR_FORMAT, "%s: input %zu '%.*s' has rank %d, expected %d", node_str(n, idx).s, k,
                    MAX_NAME, n->input[k], v->rank, rank);
    *pv = v;
    return TTP_OK;
}

static ttp_status need_const(reader *r, const Onnx__NodeProto *n, int idx, size_t k, value **pv)
{
    value *v = input_val(r, n, k);
    if (v == NULL) return OERR(r, TTP_ERR_FORMAT, "%s: input %zu is missing", node_str(n, idx).s, k);
    if (v->kind != V_CONST)
        return OERR(r, TTP_ERR_FORMAT,
                    "%s: input %zu '%.*s' is %s, where a constant (an initializer) is expected",
                    node_str(n, idx).s, k, MAX_NAME, n->input[k], kind_what(v->kind));
    *pv = v;
    return TTP_OK;
}

static int is_scalar(const value *v, double want)
{
    return v && v->kind == V_CONST && v->n == 1 && fabs(v->data[0] - want) <= 1e-6 * fabs(want);
}

static int same_x(const value *a, const value *b)
{
    return a->layer == b->layer && a->rank == b->rank;
}

static ttp_status const_vec(reader *r, const Onnx__NodeProto *n, int idx, size_t k, int64_t len,
                            const double **d)
{
    value *v = NULL;
    TTP_CALL(r->ctx, need_const(r, n, idx, k, &v));
    if (v->n != len)
        return OERR(r, TTP_ERR_FORMAT, "%s: input %zu '%.*s' has %lld values, expected %lld",
                    node_str(n, idx).s, k, MAX_NAME, n->input[k], (long long)v->n, (long long)len);
    *d = v->data;
    return TTP_OK;
}

static ttp_status op_constant(reader *r, const Onnx__NodeProto *n, int idx, value *out)
{
    static const char *const known[] = {"value",     "value_float", "value_floats",
                                        "value_int", "value_ints",  NULL};
    TTP_CALL(r->ctx, check_attrs(r, n, idx, known));
    if (n->n_attribute != 1)
        return OERR(r, TTP_ERR_FORMAT, "%s: expected exactly one value attribute", node_str(n, idx).s);
    const Onnx__AttributeProto *a = n->attribute[0];
    char what[MAX_NAME + 96];
    snprintf(what, sizeof what, "%s: attribute %s", node_str(n, idx).s, a->name);
    if (strcmp(a->name, "value") == 0) {
        if (a->t == NULL) return OERR(r, TTP_ERR_FORMAT, "%s holds no tensor", what);
        return tensor_value(r, a->t, what, out);
    }
    int64_t cnt = strcmp(a->name, "value_floats") == 0 ? (int64_t)a->n_floats
                  : strcmp(a->name, "value_ints") == 0 ? (int64_t)a->n_ints
                                                       : 1;
    double *d = NULL;
    TTP_CALL(r->ctx, pool_alloc(r, cnt, &d));
    for (int64_t i = 0; i < cnt; i++)
        d[i] = strcmp(a->name, "value_float") == 0    ? (double)a->f
               : strcmp(a->name, "value_int") == 0    ? (double)a->i
               : strcmp(a->name, "value_floats") == 0 ? (double)a->floats[i]
                                                      : (double)a->ints[i];
    memset(out, 0, sizeof *out);
    out->kind = V_CONST;
    out->n = cnt;
    out->data = d;
    out->ndims = (strcmp(a->name, "value_floats") == 0 || strcmp(a->name, "value_ints") == 0) ? 1 : 0;
    out->dims[0] = cnt;
    return TTP_OK;
}

static ttp_status op_conv(reader *r, const Onnx__NodeProto *n, int idx, value *out)
{
    static const char *const known[] = {"auto_pad", "dilations", "group", "kernel_shape",
                                        "pads",     "strides",   NULL};
    nodestr nsb = node_str(n, idx);
    const char *ns = nsb.s;
    value *x = NULL, *W = NULL;
    TTP_CALL(r->ctx, check_attrs(r, n, idx, known));
    if (attr_int(n, "group", 1) != 1)
        return OERR(r, TTP_ERR_FORMAT,
                    "%s: attribute group = %lld: grouped (and depthwise) convolution is not supported", ns,
                    (long long)attr_int(n, "group", 1));
    TTP_CALL(r->ctx, need_act(r, n, idx, 0, 4, &x));
    TTP_CALL(r->ctx, need_const(r, n, idx, 1, &W));
    if (W->ndims != 4 || W->dims[1] != x->shape[0])
        return OERR(r, TTP_ERR_FORMAT,
                    "%s: weights '%.*s' have %d dimensions (%lld input channels), expected (M, %lld, k, k)",
                    ns, MAX_NAME, n->input[1], W->ndims, W->ndims > 1 ? (long long)W->dims[1] : -1LL,
                    (long long)x->shape[0]);
    ttp_layer L;
    layer_init(&L, TTP_LAYER_CONV2D, x, n, idx);
    TTP_CALL(r->ctx, window(r, n, idx, W->dims[2], W->dims[3], &L, 1));
    int64_t M = W->dims[0];
    if (M < 1 || M > TTP_SIZE_INT)
        return OERR(r, TTP_ERR_FORMAT, "%s: %lld output channels", ns, (long long)M);
    const double *b = NULL;
    if (input_val(r, n, 2)) TTP_CALL(r->ctx, const_vec(r, n, idx, 2, M, &b));
    double *w = NULL;
    int64_t nw = W->n + M;
    TTP_CALL(r->ctx, alloc_d(r, nw, &w));
    memcpy(w, W->data, (size_t)W->n * sizeof *w);
    for (int64_t o = 0; o < M; o++) w[W->n + o] = b ? b[o] : 0.0;
    L.units = (int)M;
    *out = *x;
    int64_t pad2 = 2 * (int64_t)L.pad;
    if (x->shape[1] + pad2 < L.kernel || x->shape[2] + pad2 < L.kernel) {
        free(w);
        return OERR(r, TTP_ERR_FORMAT, "%s: a %dx%d kernel does not fit the %lldx%lld input (pads %d)", ns,
                    L.kernel, L.kernel, (long long)x->shape[1], (long long)x->shape[2], L.pad);
    }
    out->shape[0] = M;
    out->shape[1] = (x->shape[1] + pad2 - L.kernel) / L.stride + 1;
    out->shape[2] = (x->shape[2] + pad2 - L.kernel) / L.stride + 1;
    return push_layer(r, &L, w, nw, NULL, 0, out);
}

static ttp_status op_pool(reader *r, const Onnx__NodeProto *n, int idx, ttp_layer_kind kind, value *out)
{
    static const char *const kmax[] = {"auto_pad", "ceil_mode",     "dilations", "kernel_shape",
                                       "pads",     "storage_order", "strides",   NULL};
    static const char *const kavg[] = {"auto_pad",     "ceil_mode", "count_include_pad", "dilations",
                                       "kernel_shape", "pads",      "strides",           NULL};
    nodestr nsb = node_str(n, idx);
    const char *ns = nsb.s;
    value *x = NULL;
    TTP_CALL(r->ctx, check_attrs(r, n, idx, kind == TTP_LAYER_MAXPOOL ? kmax : kavg));
    if (attr(n, "kernel_shape") == NULL)
        return OERR(r, TTP_ERR_FORMAT, "%s: attribute kernel_shape is missing", ns);
    if (attr_int(n, "storage_order", 0) != 0)
        return OERR(r, TTP_ERR_FORMAT, "%s: attribute storage_order = 1 is not supported", ns);
    if (n->n_output > 1 && n->output[1] && n->output[1][0])
        return OERR(r, TTP_ERR_FORMAT, "%s: the second output (indices) is not supported", ns);
    TTP_CALL(r->ctx, need_act(r, n, idx, 0, 4, &x));
    ttp_layer L;
    layer_init(&L, kind, x, n, idx);
    TTP_CALL(r->ctx, window(r, n, idx, -1, -1, &L, 0));
    if (x->shape[1] < L.kernel || x->shape[2] < L.kernel)
        return OERR(r, TTP_ERR_FORMAT, "%s: a %dx%d window does not fit the %lldx%lld input", ns, L.kernel,
                    L.kernel, (long long)x->shape[1], (long long)x->shape[2]);
    *out = *x;
    out->shape[1] = (x->shape[1] - L.kernel) / L.stride + 1;
    out->shape[2] = (x->shape[2] - L.kernel) / L.stride + 1;
    return push_layer(r, &L, NULL, 0, NULL, 0, out);
}

static ttp_status op_batchnorm(reader *r, const Onnx__NodeProto *n, int idx, value *out)
{
    static const char *const known[] = {"epsilon", "momentum", "training_mode", "spatial", "is_test", NULL};
    nodestr nsb = node_str(n, idx);
    const char *ns = nsb.s;
    value *x = NULL;
    TTP_CALL(r->ctx, check_attrs(r, n, idx, known));
    if (attr_int(n, "training_mode", 0) != 0)
        return OERR(r, TTP_ERR_FORMAT,
                    "%s: attribute training_mode = 1: only inference batch normalization "
                    "(running statistics) is supported; export the model in eval mode",
                    ns);
    if (attr_int(n, "spatial", 1) != 1)
        return OERR(r, TTP_ERR_FORMAT, "%s: attribute spatial = 0 is not supported", ns);
    for (size_t k = 1; k < n->n_output; k++)
        if (n->output[k] && n->output[k][0])
            return OERR(r, TTP_ERR_FORMAT, "%s: output %zu (training statistics) is not supported", ns, k);
    TTP_CALL(r->ctx, need_act(r, n, idx, 0, 0, &x));
    int64_t C = x->shape[0];
    const double *g, *b, *mu, *var;
    TTP_CALL(r->ctx, const_vec(r, n, idx, 1, C, &g));
    TTP_CALL(r->ctx, const_vec(r, n, idx, 2, C, &b));
    TTP_CALL(r->ctx, const_vec(r, n, idx, 3, C, &mu));
    TTP_CALL(r->ctx, const_vec(r, n, idx, 4, C, &var));
    double eps = attr_float(n, "epsilon", 1e-5);
    if (!(eps > 0.0)) return OERR(r, TTP_ERR_FORMAT, "%s: attribute epsilon = %g, expected > 0", ns, eps);
    for (int64_t c = 0; c < C; c++)
        if (!(var[c] >= 0.0))
            return OERR(r, TTP_ERR_FORMAT, "%s: running variance of channel %lld is %g, expected >= 0", ns,
                        (long long)c, var[c]);
    double *w = NULL, *s = NULL;
    TTP_CALL(r->ctx, alloc_d(r, 2 * C, &w));
    if (alloc_d(r, 2 * C, &s) != TTP_OK) {
        free(w);
        return TTP_ERR_NOMEM;
    }
    for (int64_t c = 0; c < C; c++) w[c] = g[c], w[C + c] = b[c], s[c] = mu[c], s[C + c] = var[c];
    ttp_layer L;
    layer_init(&L, TTP_LAYER_BATCHNORM, x, n, idx);
    L.eps = eps;
    *out = *x;
    return push_layer(r, &L, w, 2 * C, s, 2 * C, out);
}

static ttp_status op_gemm(reader *r, const Onnx__NodeProto *n, int idx, value *out)
{
    static const char *const known[] = {"alpha", "beta", "transA", "transB", "broadcast", NULL};
    nodestr nsb = node_str(n, idx);
    const char *ns = nsb.s;
    value *x = NULL, *B = NULL;
    TTP_CALL(r->ctx, check_attrs(r, n, idx, known));
    if (attr_int(n, "transA", 0) != 0)
        return OERR(r, TTP_ERR_FORMAT,
                    "%s: attribute transA = 1 is not supported (the batch must be the first axis of A)", ns);
    TTP_CALL(r->ctx, need_act(r, n, idx, 0, 2, &x));
    TTP_CALL(r->ctx, need_const(r, n, idx, 1, &B));
    int tb = attr_int(n, "transB", 0) != 0;
    int64_t K = x->shape[0];
    if (B->ndims != 2 || B->dims[tb ? 1 : 0] != K)
        return OERR(r, TTP_ERR_FORMAT, "%s: B '%.*s' is not a matrix with %lld %s (transB = %d)", ns,
                    MAX_NAME, n->input[1], (long long)K, tb ? "columns" : "rows", tb);
    int64_t N = B->dims[tb ? 0 : 1];
    if (N < 1) return OERR(r, TTP_ERR_FORMAT, "%s: B '%.*s' has no outputs", ns, MAX_NAME, n->input[1]);
    value *C = input_val(r, n, 2);
    const double *bias = NULL;
    if (C) {
        if (C->kind != V_CONST)
            return OERR(r, TTP_ERR_FORMAT, "%s: C is %s, expected a constant bias", ns, kind_what(C->kind));
        if (C->n == N)
            bias = C->data;
        else if (C->n == 1) {
            double *bb = NULL;
            TTP_CALL(r->ctx, pool_alloc(r, N, &bb));
            for (int64_t o = 0; o < N; o++) bb[o] = C->data[0];
            bias = bb;
        } else
            return OERR(r, TTP_ERR_FORMAT, "%s: bias C has %lld values, expected %lld or 1 (one per output)",
                        ns, (long long)C->n, (long long)N);
    }
    double alpha = attr_float(n, "alpha", 1.0), beta = attr_float(n, "beta", 1.0);
    return make_dense(r, x, n, idx, B->data, N, K, !tb, alpha, bias, beta, out);
}

static ttp_status op_matmul(reader *r, const Onnx__NodeProto *n, int idx, value *out)
{
    static const char *const known[] = {NULL};
    value *x = NULL, *B = NULL;
    TTP_CALL(r->ctx, check_attrs(r, n, idx, known));
    TTP_CALL(r->ctx, need_act(r, n, idx, 0, 2, &x));
    TTP_CALL(r->ctx, need_const(r, n, idx, 1, &B));
    if (B->ndims != 2 || B->dims[0] != x->shape[0] || B->dims[1] < 1)
        return OERR(r, TTP_ERR_FORMAT, "%s: B '%.*s' is not a (%lld, N) matrix", node_str(n, idx).s, MAX_NAME,
                    n->input[1], (long long)x->shape[0]);
    *out = *x;
    out->kind = V_MATMUL;
    out->mm = B->data;
    out->mm_k = B->dims[0];
    out->mm_n = B->dims[1];
    out->mm_name = n->name;
    out->shape[0] = B->dims[1];
    return TTP_OK;
}

/* The layer kind of an elementwise activation operator, or -1. */
static int act_kind(const char *op)
{
    if (strcmp(op, "Relu") == 0) return TTP_LAYER_RELU;
    if (strcmp(op, "Sigmoid") == 0) return TTP_LAYER_SIGMOID;
    if (strcmp(op, "Tanh") == 0) return TTP_LAYER_TANH;
    if (strcmp(op, "LeakyRelu") == 0) return TTP_LAYER_LEAKYRELU;
    if (strcmp(op, "Gelu") == 0) return TTP_LAYER_GELU;
    return -1;
}

static ttp_status op_add(reader *r, const Onnx__NodeProto *n, int idx, value *out)
{
    static const char *const known[] = {"axis", "broadcast", NULL};
    nodestr nsb = node_str(n, idx);
    const char *ns = nsb.s;
    TTP_CALL(r->ctx, check_attrs(r, n, idx, known));
    value *a = input_val(r, n, 0), *b = input_val(r, n, 1);
    if (a == NULL || b == NULL) return OERR(r, TTP_ERR_FORMAT, "%s: needs two inputs", ns);
    if (a->kind == V_CONST) { /* the constant, if any, second */
        value *t = a;
        a = b, b = t;
    }
    if (a->kind == V_MATMUL && b->kind == V_CONST) {
        if (b->n != a->mm_n)
            return OERR(r, TTP_ERR_FORMAT, "%s: the bias after MatMul has %lld values, expected %lld", ns,
                        (long long)b->n, (long long)a->mm_n);
        value in = *a;
        in.kind = V_ACT;
        Onnx__NodeProto mm = *n; /* the layer takes the MatMul's name */
        if (a->mm_name && a->mm_name[0]) mm.name = (char *)a->mm_name;
        return make_dense(r, &in, &mm, idx, a->mm, a->mm_n, a->mm_k, 1, 1.0, b->data, 1.0, out);
    }
    if (a->kind == V_GELU_ERF && is_scalar(b, 1.0)) {
        *out = *a;
        out->kind = V_GELU_ERF1;
        return TTP_OK;
    }
    TTP_CALL(r->ctx, materialize(r, a, n, idx));
    TTP_CALL(r->ctx, materialize(r, b, n, idx));
    if (a->kind == V_ACT && b->kind == V_ACT) {
        if (a->rank != b->rank || memcmp(a->shape, b->shape, sizeof a->shape) != 0)
            return OERR(
                r, TTP_ERR_FORMAT,
                "%s: operand shapes differ ((%lld,%lld,%lld) and (%lld,%lld,%lld)); only the sum of two "
                "tensors of equal shape is supported, without broadcasting",
                ns, (long long)a->shape[0], (long long)a->shape[1], (long long)a->shape[2],
                (long long)b->shape[0], (long long)b->shape[1], (long long)b->shape[2]);
        ttp_layer L;
        layer_init(&L, TTP_LAYER_ADD, a, n, idx);
        L.input[1] = b->layer;
        *out = *a;
        return push_layer(r, &L, NULL, 0, NULL, 0, out);
    }
    return OERR(r, TTP_ERR_FORMAT,
                "%s: adds %s and %s; supported are the sum of two computed tensors (a residual), MatMul + "
                "constant bias, and the +1 of the GELU pattern",
                ns, kind_what(a->kind), kind_what(b->kind));
}

/* The end of the GELU subgraph: one gelu layer on x. */
static ttp_status gelu_layer(reader *r, const value *x, const Onnx__NodeProto *n, int idx, value *out)
{
    value in = *x;
    in.kind = V_ACT;
    return elementwise(r, TTP_LAYER_GELU, &in, n, idx, out);
}

static ttp_status op_mul_div(reader *r, const Onnx__NodeProto *n, int idx, int div, value *out)
{
    static const char *const known[] = {"axis", "broadcast", NULL};
    nodestr nsb = node_str(n, idx);
    const char *ns = nsb.s;
    TTP_CALL(r->ctx, check_attrs(r, n, idx, known));
    value *a = input_val(r, n, 0), *b = input_val(r, n, 1);
    if (a == NULL || b == NULL) return OERR(r, TTP_ERR_FORMAT, "%s: needs two inputs", ns);
    if (a->kind == V_MATMUL) TTP_CALL(r->ctx, materialize(r, a, n, idx));
    if (b->kind == V_MATMUL) TTP_CALL(r->ctx, materialize(r, b, n, idx));
    if (div) {
        if (a->kind == V_ACT && is_scalar(b, sqrt(2.0))) {
            *out = *a;
            out->kind = V_GELU_DIV;
            return TTP_OK;
        }
    } else {
        if (a->kind == V_CONST) {
            value *t = a;
            a = b, b = t;
        }
        if (a->kind == V_GELU_ERF1 || a->kind == V_GELU_HALF) {
            value *t = a;
            a = b, b = t;
        }
        /* now a is the tensor side */
        if (a->kind == V_ACT && is_scalar(b, sqrt(0.5))) {
            *out = *a;
            out->kind = V_GELU_DIV;
            return TTP_OK;
        }
        if (a->kind == V_ACT && is_scalar(b, 0.5)) {
            *out = *a;
            out->kind = V_GELU_HALF;
            return TTP_OK;
        }
        if (a->kind == V_ACT && b->kind == V_GELU_ERF1 && same_x(a, b)) {
            *out = *a;
            out->kind = V_GELU_X2;
            return TTP_OK;
        }
        if (a->kind == V_GELU_X2 && is_scalar(b, 0.5)) return gelu_layer(r, a, n, idx, out);
        if (a->kind == V_ACT && b->kind == V_GELU_HALF && same_x(a, b)) {
            /* x · (x/2): not GELU */
        } else if (a->kind == V_GELU_ERF1 && b->kind == V_GELU_HALF && same_x(a, b))
            return gelu_layer(r, a, n, idx, out);
        else if (b->kind == V_GELU_ERF1 && a->kind == V_GELU_HALF && same_x(a, b))
            return gelu_layer(r, a, n, idx, out);
    }
    return OERR(r, TTP_ERR_FORMAT,
                "%s: %s of %s by %s is supported only as a step of the exact GELU subgraph "
                "x * 0.5 * (1 + erf(x / sqrt(2)))",
                ns, div ? "division" : "multiplication", kind_what(a->kind), kind_what(b->kind));
}

static ttp_status op_flatten_like(reader *r, const Onnx__NodeProto *n, int idx, value *x, value *out)
{
    if (x->rank == 2) {
        *out = *x;
        return TTP_OK;
    }
    ttp_layer L;
    layer_init(&L, TTP_LAYER_FLATTEN, x, n, idx);
    *out = *x;
    out->rank = 2;
    out->shape[0] = x->shape[0] * x->shape[1] * x->shape[2];
    out->shape[1] = out->shape[2] = 1;
    return push_layer(r, &L, NULL, 0, NULL, 0, out);
}

static ttp_status op_reshape(reader *r, const Onnx__NodeProto *n, int idx, value *out)
{
    static const char *const known[] = {"allowzero", "shape", NULL};
    nodestr nsb = node_str(n, idx);
    const char *ns = nsb.s;
    value *x = NULL, *s = NULL;
    TTP_CALL(r->ctx, check_attrs(r, n, idx, known));
    TTP_CALL(r->ctx, need_act(r, n, idx, 0, 0, &x));
    int64_t sh[2] = {0, 0};
    const Onnx__AttributeProto *sa = attr(n, "shape"); /* opset < 5 form */
    value *sv = input_val(r, n, 1);
    if (sv && sv->kind == V_FLATSPEC) {
        sh[0] = 0, sh[1] = sv->spec; /* (N, s) with N the batch itself */
    } else if (sa) {
        if (sa->n_ints != 2) goto unsupported;
        sh[0] = sa->ints[0], sh[1] = sa->ints[1];
    } else {
        TTP_CALL(r->ctx, need_const(r, n, idx, 1, &s));
        if (s->n != 2 || !(fabs(s->data[0]) < 4e18) || !(fabs(s->data[1]) < 4e18)) goto unsupported;
        sh[0] = (int64_t)s->data[0], sh[1] = (int64_t)s->data[1];
    }
    int64_t F = x->shape[0] * x->shape[1] * x->shape[2];
    int allowzero = attr_int(n, "allowzero", 0) != 0;
    int batch_ok = sh[0] == -1 || (sh[0] == 0 && !allowzero);
    if (sh[0] == 0 && sh[1] == -1 && !allowzero) batch_ok = 1;
    if (!(batch_ok && (sh[1] == F || (sh[1] == -1 && sh[0] == 0)))) goto unsupported;
    return op_flatten_like(r, n, idx, x, out);
unsupported:
    return OERR(r, TTP_ERR_FORMAT,
                "%s: Reshape is supported only where it flattens (N, C, H, W) to (N, C*H*W) with a constant "
                "shape (-1, C*H*W), (0, C*H*W) or (0, -1); this one asks for another shape",
                ns);
}

/*
 * x.view(x.size(0), -1) exports as Shape -> Gather(0) -> Unsqueeze -> Concat
 * with a constant -> Reshape.  These four are followed symbolically, with
 * the batch size kept a symbol, as far as that pattern needs; anything else
 * they might compute is refused.
 */
static ttp_status op_shape_calc(reader *r, const Onnx__NodeProto *n, int idx, const char *op, value *out)
{
    nodestr nsb = node_str(n, idx);
    const char *ns = nsb.s;
    value *a = input_val(r, n, 0);
    if (a == NULL) return OERR(r, TTP_ERR_FORMAT, "%s: input 0 is missing", ns);
    if (strcmp(op, "Shape") == 0) {
        static const char *const known[] = {NULL};
        TTP_CALL(r->ctx, check_attrs(r, n, idx, known));
        TTP_CALL(r->ctx, materialize(r, a, n, idx));
        if (a->kind != V_ACT) goto unsupported;
        *out = *a;
        out->kind = V_SHAPE;
        return TTP_OK;
    }
    if (strcmp(op, "Gather") == 0) {
        static const char *const known[] = {"axis", NULL};
        TTP_CALL(r->ctx, check_attrs(r, n, idx, known));
        value *i = input_val(r, n, 1);
        if (a->kind != V_SHAPE || attr_int(n, "axis", 0) != 0 || i == NULL || i->kind != V_CONST ||
            i->n != 1 || i->ndims != 0)
            goto unsupported;
        double k = i->data[0];
        if (k < 0) k += a->rank;
        if (k == 0) {
            *out = *a;
            out->kind = V_BATCH;
            return TTP_OK;
        }
        if (!(k >= 1 && k < a->rank) || k != floor(k)) goto unsupported;
        double *d = NULL;
        TTP_CALL(r->ctx, pool_alloc(r, 1, &d));
        d[0] = (double)a->shape[(int)k - 1]; /* (N, C, H, W) or (N, F) */
        memset(out, 0, sizeof *out);
        out->kind = V_CONST, out->n = 1, out->data = d, out->ndims = 0;
        return TTP_OK;
    }
    if (strcmp(op, "Unsqueeze") == 0) {
        static const char *const known[] = {"axes", NULL};
        TTP_CALL(r->ctx, check_attrs(r, n, idx, known));
        const Onnx__AttributeProto *ax = attr(n, "axes");
        value *av = input_val(r, n, 1);
        int axes0 = ax ? (ax->n_ints == 1 && ax->ints[0] == 0)
                       : (av && av->kind == V_CONST && av->n == 1 && av->data[0] == 0.0);
        if (!axes0 || (a->kind != V_BATCH && !(a->kind == V_CONST && a->n == 1 && a->ndims == 0)))
            goto unsupported;
        *out = *a;
        if (a->kind == V_BATCH)
            out->kind = V_BATCH1;
        else
            out->ndims = 1, out->dims[0] = 1;
        return TTP_OK;
    }
    /* Concat([N], [s]) on axis 0 */
    static const char *const known[] = {"axis", NULL};
    TTP_CALL(r->ctx, check_attrs(r, n, idx, known));
    value *b = input_val(r, n, 1);
    if (n->n_input != 2 || attr_int(n, "axis", 0) != 0 || a->kind != V_BATCH1 || b == NULL ||
        b->kind != V_CONST || b->n != 1 || !(fabs(b->data[0]) < 4e18))
        goto unsupported;
    *out = *a;
    out->kind = V_FLATSPEC;
    out->spec = (int64_t)b->data[0];
    return TTP_OK;
unsupported:
    return OERR(
        r, TTP_ERR_FORMAT,
        "%s: %s is supported only as a step of computing the shape (N, -1) of a flattening Reshape "
        "(x.view(x.size(0), -1): Shape, Gather of index 0, Unsqueeze on axis 0, Concat with a constant)",
        ns, op);
}

static ttp_status eval_node(reader *r, const Onnx__NodeProto *n, int idx)
{
    const char *op = n->op_type ? n->op_type : "";
    nodestr nsb = node_str(n, idx);
    const char *ns = nsb.s;
    value res;
    memset(&res, 0, sizeof res);
    res.layer = -1;
    if (n->domain && n->domain[0] && strcmp(n->domain, "ai.onnx") != 0)
        return OERR(r, TTP_ERR_FORMAT,
                    "%s: operator domain '%.60s' is not supported (only the default ONNX domain)", ns,
                    n->domain);
    if (n->n_output < 1 || n->output[0] == NULL || n->output[0][0] == '\0')
        return OERR(r, TTP_ERR_FORMAT, "%s: has no output", ns);
    int ak = act_kind(op);
    if (strcmp(op, "Constant") == 0)
        TTP_CALL(r->ctx, op_constant(r, n, idx, &res));
    else if (strcmp(op, "Identity") == 0 || strcmp(op, "Dropout") == 0) {
        static const char *const known[] = {"ratio", "seed", "is_test", NULL};
        TTP_CALL(r->ctx, check_attrs(r, n, idx, known));
        value *x = input_val(r, n, 0);
        if (x == NULL) return OERR(r, TTP_ERR_FORMAT, "%s: input 0 is missing", ns);
        value *tm = input_val(r, n, 2);
        if (tm && !(tm->kind == V_CONST && tm->n == 1 && tm->data[0] == 0.0))
            return OERR(r, TTP_ERR_FORMAT, "%s: training_mode must be a constant false (inference)", ns);
        /* Dropout's mask output stays V_NONE: a node reading it is refused there. */
        res = *x;
    } else if (strcmp(op, "Conv") == 0)
        TTP_CALL(r->ctx, op_conv(r, n, idx, &res));
    else if (strcmp(op, "MaxPool") == 0)
        TTP_CALL(r->ctx, op_pool(r, n, idx, TTP_LAYER_MAXPOOL, &res));
    else if (strcmp(op, "AveragePool") == 0)
        TTP_CALL(r->ctx, op_pool(r, n, idx, TTP_LAYER_AVGPOOL, &res));
    else if (strcmp(op, "BatchNormalization") == 0)
        TTP_CALL(r->ctx, op_batchnorm(r, n, idx, &res));
    else if (strcmp(op, "Gemm") == 0)
        TTP_CALL(r->ctx, op_gemm(r, n, idx, &res));
    else if (strcmp(op, "MatMul") == 0)
        TTP_CALL(r->ctx, op_matmul(r, n, idx, &res));
    else if (strcmp(op, "Add") == 0)
        TTP_CALL(r->ctx, op_add(r, n, idx, &res));
    else if (strcmp(op, "Mul") == 0)
        TTP_CALL(r->ctx, op_mul_div(r, n, idx, 0, &res));
    else if (strcmp(op, "Div") == 0)
        TTP_CALL(r->ctx, op_mul_div(r, n, idx, 1, &res));
    else if (strcmp(op, "Erf") == 0) {
        value *x = input_val(r, n, 0);
        if (x == NULL || x->kind != V_GELU_DIV)
            return OERR(r, TTP_ERR_FORMAT,
                        "%s: Erf is supported only as a step of the exact GELU subgraph "
                        "x * 0.5 * (1 + erf(x / sqrt(2)))",
                        ns);
        res = *x;
        res.kind = V_GELU_ERF;
    } else if (strcmp(op, "GlobalAveragePool") == 0) {
        value *x = NULL;
        static const char *const known[] = {NULL};
        TTP_CALL(r->ctx, check_attrs(r, n, idx, known));
        TTP_CALL(r->ctx, need_act(r, n, idx, 0, 4, &x));
        ttp_layer L;
        layer_init(&L, TTP_LAYER_GAP, x, n, idx);
        res = *x;
        res.shape[1] = res.shape[2] = 1;
        TTP_CALL(r->ctx, push_layer(r, &L, NULL, 0, NULL, 0, &res));
    } else if (strcmp(op, "Flatten") == 0) {
        value *x = NULL;
        static const char *const known[] = {"axis", NULL};
        TTP_CALL(r->ctx, check_attrs(r, n, idx, known));
        if (attr_int(n, "axis", 1) != 1)
            return OERR(r, TTP_ERR_FORMAT,
                        "%s: attribute axis = %lld: only axis 1 (keep the batch axis) is supported", ns,
                        (long long)attr_int(n, "axis", 1));
        TTP_CALL(r->ctx, need_act(r, n, idx, 0, 0, &x));
        TTP_CALL(r->ctx, op_flatten_like(r, n, idx, x, &res));
    } else if (strcmp(op, "Shape") == 0 || strcmp(op, "Gather") == 0 || strcmp(op, "Unsqueeze") == 0 ||
               strcmp(op, "Concat") == 0) {
        TTP_CALL(r->ctx, op_shape_calc(r, n, idx, op, &res));
    } else if (strcmp(op, "Pad") == 0) {
        /* torch emits an all-zero Pad before some pooling nodes: a no-op */
        static const char *const known[] = {"mode", "pads", "value", NULL};
        value *x = NULL, *p = NULL;
        TTP_CALL(r->ctx, check_attrs(r, n, idx, known));
        TTP_CALL(r->ctx, need_act(r, n, idx, 0, 0, &x));
        const Onnx__AttributeProto *pa = attr(n, "pads");
        int zero = 1;
        if (pa)
            for (size_t k = 0; k < pa->n_ints; k++) zero &= pa->ints[k] == 0;
        else {
            TTP_CALL(r->ctx, need_const(r, n, idx, 1, &p));
            for (int64_t k = 0; k < p->n; k++) zero &= p->data[k] == 0.0;
        }
        if (!zero)
            return OERR(r, TTP_ERR_FORMAT,
                        "%s: Pad is supported only with all pads zero (a no-op); padding belongs in the pads "
                        "attribute of Conv",
                        ns);
        res = *x;
    } else if (strcmp(op, "Reshape") == 0)
        TTP_CALL(r->ctx, op_reshape(r, n, idx, &res));
    else if (ak >= 0) {
        value *x = NULL;
        static const char *const none[] = {NULL}, *const leaky[] = {"alpha", NULL},
                                 *const gelu[] = {"approximate", NULL};
        TTP_CALL(r->ctx, check_attrs(r, n, idx,
                                     ak == TTP_LAYER_LEAKYRELU ? leaky
                                     : ak == TTP_LAYER_GELU    ? gelu
                                                               : none));
        if (ak == TTP_LAYER_GELU) {
            const Onnx__AttributeProto *a = attr(n, "approximate");
            if (a && a->has_s && !(a->s.len == 4 && memcmp(a->s.data, "none", 4) == 0))
                return OERR(r, TTP_ERR_FORMAT,
                            "%s: attribute approximate = '%.*s': only the exact (erf) GELU is supported", ns,
                            (int)(a->s.len > 20 ? 20 : a->s.len), (const char *)a->s.data);
        }
        TTP_CALL(r->ctx, need_act(r, n, idx, 0, 0, &x));
        TTP_CALL(r->ctx, elementwise(r, (ttp_layer_kind)ak, x, n, idx, &res));
        if (ak == TTP_LAYER_LEAKYRELU) {
            double al = attr_float(n, "alpha", 0.01);
            if (!isfinite(al))
                return OERR(r, TTP_ERR_FORMAT, "%s: attribute alpha = %g, expected a finite slope", ns, al);
            r->layers[res.layer].L.alpha = al;
        }
    } else
        return OERR(r, TTP_ERR_FORMAT, "%s: operator '%.60s' is not supported (supported: %s)", ns, op,
                    supported_ops);
    int id = find_id(r, n->output[0]);
    if (id < 0) return OERR(r, TTP_ERR_INTERNAL, "%s: output not registered", ns);
    r->vals[id] = res;
    return TTP_OK;
}

/* ---- the graph -------------------------------------------------------- */

/* The single network input: its per-sample shape and rank. */
static ttp_status graph_input(reader *r, int *in_id, int64_t shape[3], int *rank)
{
    const Onnx__GraphProto *g = r->g;
    const Onnx__ValueInfoProto *vi = NULL;
    int count = 0;
    for (size_t k = 0; k < g->n_input; k++) {
        const char *nm = g->input[k]->name ? g->input[k]->name : "";
        int id = find_id(r, nm);
        if (id >= 0 && r->vals[id].kind == V_CONST) continue; /* an initializer listed as input */
        if (count++ == 0) vi = g->input[k];
    }
    if (count != 1)
        return OERR(r, TTP_ERR_FORMAT,
                    "the graph has %d inputs that are not initializers, expected exactly one", count);
    const char *nm = vi->name ? vi->name : "";
    const Onnx__TypeProto *tp = vi->type;
    if (tp == NULL || tp->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE || tp->tensor_type == NULL)
        return OERR(r, TTP_ERR_FORMAT, "graph input '%.*s' is not a tensor", MAX_NAME, nm);
    const Onnx__TypeProto__Tensor *tt = tp->tensor_type;
    if (tt->has_elem_type && tt->elem_type != ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT &&
        tt->elem_type != ONNX__TENSOR_PROTO__DATA_TYPE__DOUBLE)
        return OERR(r, TTP_ERR_FORMAT,
                    "graph input '%.*s' has element type %d, expected float32 (1) or float64 (11)", MAX_NAME,
                    nm, (int)tt->elem_type);
    if (tt->shape == NULL || (tt->shape->n_dim != 2 && tt->shape->n_dim != 4))
        return OERR(
            r, TTP_ERR_FORMAT,
            "graph input '%.*s' has %s; expected (N, F) or (N, C, H, W) with fixed dimensions after the "
            "batch",
            MAX_NAME, nm, tt->shape ? "another rank" : "no shape");
    size_t nd = tt->shape->n_dim;
    shape[0] = shape[1] = shape[2] = 1;
    for (size_t k = 1; k < nd; k++) {
        const Onnx__TensorShapeProto__Dimension *d = tt->shape->dim[k];
        if (d->value_case != ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE || d->dim_value < 1 ||
            d->dim_value > TTP_SIZE_INT)
            return OERR(
                r, TTP_ERR_FORMAT,
                "graph input '%.*s': dimension %zu is dynamic or not positive; only the batch dimension "
                "(0) may be dynamic, the others must be fixed sizes",
                MAX_NAME, nm, k);
        shape[k - 1] = d->dim_value;
    }
    *rank = (int)nd;
    *in_id = nm[0] ? find_id(r, nm) : -1;
    if (*in_id < 0) return OERR(r, TTP_ERR_FORMAT, "the graph input has no name");
    return TTP_OK;
}

static ttp_status register_names(reader *r)
{
    const Onnx__GraphProto *g = r->g;
    int ex;
    for (size_t k = 0; k < g->n_initializer; k++) {
        const char *nm = g->initializer[k]->name;
        if (nm == NULL || nm[0] == '\0') return OERR(r, TTP_ERR_FORMAT, "initializer %zu has no name", k);
        add_name(r, nm, &ex);
        if (ex >= 0) return OERR(r, TTP_ERR_FORMAT, "initializer '%.*s' is defined twice", MAX_NAME, nm);
    }
    for (size_t k = 0; k < g->n_input; k++)
        if (g->input[k]->name && g->input[k]->name[0]) add_name(r, g->input[k]->name, &ex);
    for (size_t k = 0; k < g->n_node; k++) {
        const Onnx__NodeProto *n = g->node[k];
        for (size_t o = 0; o < n->n_output; o++) {
            if (n->output[o] == NULL || n->output[o][0] == '\0') continue;
            add_name(r, n->output[o], &ex);
            if (ex >= 0)
                return OERR(r, TTP_ERR_FORMAT, "%s: output '%.*s' is already defined elsewhere in the graph",
                            node_str(n, (int)k).s, MAX_NAME, n->output[o]);
        }
    }
    return TTP_OK;
}

/* Kahn's algorithm over the node list; order[] receives node indices. */
static ttp_status topo_sort(reader *r, int *order)
{
    ttp_status st = TTP_OK;
    const Onnx__GraphProto *g = r->g;
    size_t N = g->n_node;
    int *indeg = NULL, *queue = NULL, *adj_start = NULL, *adj = NULL;
    int64_t nedges = 0;
    for (size_t k = 0; k < N; k++) nedges += (int64_t)g->node[k]->n_input;
    TTP_ALLOC(r->ctx, st, done, indeg, N + 1, "ONNX node in-degrees");
    TTP_ALLOC(r->ctx, st, done, queue, N + 1, "ONNX node queue");
    TTP_ALLOC(r->ctx, st, done, adj_start, N + 2, "ONNX edges");
    TTP_ALLOC(r->ctx, st, done, adj, nedges + 1, "ONNX edges");
    /* edges producer -> consumer, counted then filled (CSR) */
    for (size_t k = 0; k < N; k++) {
        const Onnx__NodeProto *n = g->node[k];
        for (size_t i = 0; i < n->n_input; i++) {
            if (n->input[i] == NULL || n->input[i][0] == '\0') continue;
            int id = find_id(r, n->input[i]);
            if (id < 0) {
                st = OERR(
                    r, TTP_ERR_FORMAT,
                    "%s: input '%.*s' is not produced by any node, initializer or graph input (a missing "
                    "initializer or a dangling reference)",
                    node_str(n, (int)k).s, MAX_NAME, n->input[i]);
                goto done;
            }
            int p = r->producer[id];
            if (p >= 0) adj_start[p + 1]++, indeg[k]++;
        }
    }
    for (size_t k = 0; k < N; k++) adj_start[k + 1] += adj_start[k];
    {
        int *fill = queue; /* reuse as cursor */
        for (size_t k = 0; k < N; k++) fill[k] = adj_start[k];
        for (size_t k = 0; k < N; k++) {
            const Onnx__NodeProto *n = g->node[k];
            for (size_t i = 0; i < n->n_input; i++) {
                if (n->input[i] == NULL || n->input[i][0] == '\0') continue;
                int p = r->producer[find_id(r, n->input[i])];
                if (p >= 0) adj[fill[p]++] = (int)k;
            }
        }
    }
    size_t head = 0, tail = 0;
    for (size_t k = 0; k < N; k++)
        if (indeg[k] == 0) queue[tail++] = (int)k;
    while (head < tail) {
        int k = queue[head++];
        order[head - 1] = k;
        for (int e = adj_start[k]; e < adj_start[k + 1]; e++)
            if (--indeg[adj[e]] == 0) queue[tail++] = adj[e];
    }
    if (tail != N) {
        /* Walk back through unordered producers: after N steps the walk is
         * on a cycle, so the message names a node of the cycle itself. */
        size_t k = 0;
        while (k < N && indeg[k] == 0) k++;
        for (size_t step = 0; step < N; step++) {
            const Onnx__NodeProto *n = g->node[k];
            for (size_t i = 0; i < n->n_input; i++) {
                if (n->input[i] == NULL || n->input[i][0] == '\0') continue;
                int p = r->producer[find_id(r, n->input[i])];
                if (p >= 0 && indeg[p] > 0) {
                    k = (size_t)p;
                    break;
                }
            }
        }
        st = OERR(r, TTP_ERR_FORMAT,
                  "the graph has a cycle through %s (%zu node(s) cannot be ordered); ONNX graphs must be "
                  "acyclic",
                  node_str(g->node[k], (int)k).s, N - tail);
    }
done:
    free(indeg), free(queue), free(adj_start), free(adj);
    return st;
}

static ttp_status build_model(reader *r, const int64_t in_shape[3], ttp_model **out)
{
    ttp_status st = TTP_OK;
    ttp_model *m = NULL;
    TTP_CALL(r->ctx, ttp_model_create(r->ctx, in_shape, &m));
    for (int i = 0; i < r->nlayers; i++)
        TTP_CALL_GOTO(r->ctx, st, fail, ttp_model_add(r->ctx, m, &r->layers[i].L, NULL));
    TTP_CALL_GOTO(r->ctx, st, fail, ttp_model_build(r->ctx, m));
    for (int i = 0; i < r->nlayers; i++) {
        const ttp_layer *L = &m->layers[i];
        const pend_layer *p = &r->layers[i];
        if (L->nw != p->nw || L->ns != p->ns) {
            st = OERR(r, TTP_ERR_INTERNAL, "layer %d '%s': %lld parameters from the file, %lld expected", i,
                      L->name, (long long)p->nw, (long long)L->nw);
            goto fail;
        }
        if (p->nw) memcpy(m->w + L->woff, p->w, (size_t)p->nw * sizeof(double));
        if (p->ns) memcpy(m->state + L->soff, p->s, (size_t)p->ns * sizeof(double));
    }
    *out = m;
    return TTP_OK;
fail:
    ttp_model_destroy(&m);
    return st;
}

static ttp_status read_file(ttp_ctx *ctx, const char *path, uint8_t **buf, size_t *len)
{
    FILE *f = fopen(path, "rb");
    *buf = NULL, *len = 0;
    if (f == NULL) return TTP_ERR(ctx, TTP_ERR_IO, "cannot open model file '%s': %s", path, strerror(errno));
    long sz = -1;
    if (fseek(f, 0, SEEK_END) == 0) sz = ftell(f);
    if (sz < 0 || fseek(f, 0, SEEK_SET) != 0) {
        fclose(f);
        return TTP_ERR(ctx, TTP_ERR_IO, "cannot determine the size of model file '%s'", path);
    }
    if (sz == 0 || sz > MAX_FILE) {
        fclose(f);
        return TTP_ERR(ctx, TTP_ERR_FORMAT, "model file '%s' has %ld bytes; an ONNX model has 1 to 2^31-1",
                       path, sz);
    }
    uint8_t *b = malloc((size_t)sz);
    if (b == NULL) {
        fclose(f);
        return TTP_ERR(ctx, TTP_ERR_NOMEM, "cannot allocate %ld bytes to read model file '%s'", sz, path);
    }
    if (fread(b, 1, (size_t)sz, f) != (size_t)sz) {
        fclose(f);
        free(b);
        return TTP_ERR(ctx, TTP_ERR_IO, "cannot read model file '%s'", path);
    }
    fclose(f);
    *buf = b, *len = (size_t)sz;
    return TTP_OK;
}

static const char *base_name(const char *p)
{
    const char *s = strrchr(p, '/');
    return s ? s + 1 : p;
}

ttp_status ttp_onnx_read(ttp_ctx *ctx, const char *path, ttp_model **out)
{
    ttp_status st = TTP_OK;
    reader R, *r = &R;
    uint8_t *buf = NULL;
    size_t len = 0;
    int *order = NULL;
    char *need = NULL;
    memset(r, 0, sizeof *r);
    r->ctx = ctx, r->path = path;
    *out = NULL;
    TTP_CALL(ctx, read_file(ctx, path, &buf, &len));
    size_t bad = 0;
    int wr = walk(&onnx__model_proto__descriptor, buf, len, 0, 0, &bad);
    if (wr == -1) {
        st = OERR(r, TTP_ERR_FORMAT,
                  "not a valid ONNX file: the protobuf encoding breaks at byte %zu of %zu (truncated, or not "
                  "an ONNX/protobuf file; NetCDF model files start with CDF or \\x89HDF)",
                  bad, len);
        goto done;
    }
    if (wr == -2) {
        st = OERR(r, TTP_ERR_FORMAT,
                  "messages nested more than %d deep at byte %zu; not a model this reader accepts", MAX_DEPTH,
                  bad);
        goto done;
    }
    r->mp = onnx__model_proto__unpack(NULL, len, buf);
    if (r->mp == NULL) {
        st =
            OERR(r, TTP_ERR_FORMAT,
                 "not a valid ONNX file: protobuf decoding failed (truncated, or a field of the wrong type)");
        goto done;
    }
    r->g = r->mp->graph;
    if (r->g == NULL) {
        st = OERR(r, TTP_ERR_FORMAT, "the file holds no graph (not an ONNX model, or an empty one)");
        goto done;
    }
    /* opset of the default domain */
    r->opset = -1;
    for (size_t k = 0; k < r->mp->n_opset_import; k++) {
        const Onnx__OperatorSetIdProto *o = r->mp->opset_import[k];
        if (o->domain == NULL || o->domain[0] == '\0' || strcmp(o->domain, "ai.onnx") == 0)
            r->opset = o->has_version ? (int)(o->version > 1000 ? 1000 : o->version) : -1;
    }
    if (r->opset < 9 || r->opset > 20) {
        st = OERR(r, TTP_ERR_FORMAT,
                  "opset %d of the default domain; supported are opsets 9 to 20 (re-export "
                  "with e.g. torch.onnx.export(..., opset_version=13))",
                  r->opset);
        goto done;
    }
    const Onnx__GraphProto *g = r->g;
    if (g->n_output != 1) {
        st = OERR(r, TTP_ERR_FORMAT, "the graph has %zu outputs, expected exactly one", g->n_output);
        goto done;
    }
    /* names: at most one per initializer, input and node output */
    size_t total = g->n_initializer + g->n_input + 1;
    for (size_t k = 0; k < g->n_node; k++) total += g->node[k]->n_output;
    r->ncap = 16;
    while (r->ncap < 2 * total) r->ncap *= 2;
    TTP_ALLOC(ctx, st, done, r->names, r->ncap, "ONNX name table");
    TTP_ALLOC(ctx, st, done, r->ids, r->ncap, "ONNX name table");
    TTP_ALLOC(ctx, st, done, r->vals, total, "ONNX tensor values");
    TTP_ALLOC(ctx, st, done, r->producer, total, "ONNX tensor producers");
    TTP_CALL_GOTO(ctx, st, done, register_names(r));
    for (int i = 0; i < r->ntensors; i++) r->producer[i] = -1;
    for (size_t k = 0; k < g->n_node; k++)
        for (size_t o = 0; o < g->node[k]->n_output; o++) {
            const char *nm = g->node[k]->output[o];
            if (nm && nm[0]) r->producer[find_id(r, nm)] = (int)k;
        }
    for (size_t k = 0; k < g->n_initializer; k++) {
        char what[MAX_NAME + 32];
        snprintf(what, sizeof what, "initializer '%.*s'", MAX_NAME, g->initializer[k]->name);
        TTP_CALL_GOTO(
            ctx, st, done,
            tensor_value(r, g->initializer[k], what, &r->vals[find_id(r, g->initializer[k]->name)]));
    }
    int in_id = -1, rank = 0;
    int64_t in_shape[3];
    TTP_CALL_GOTO(ctx, st, done, graph_input(r, &in_id, in_shape, &rank));
    {
        value *v = &r->vals[in_id];
        memset(v, 0, sizeof *v);
        v->kind = V_ACT, v->layer = -1, v->rank = rank;
        memcpy(v->shape, in_shape, sizeof v->shape);
    }
    TTP_ALLOC(ctx, st, done, order, g->n_node + 1, "ONNX node order");
    TTP_CALL_GOTO(ctx, st, done, topo_sort(r, order));
    /* the nodes the output needs: reverse sweep of the topological order */
    const char *oname = g->output[0]->name ? g->output[0]->name : "";
    int out_id = find_id(r, oname);
    if (out_id < 0) {
        st = OERR(r, TTP_ERR_FORMAT, "graph output '%.*s' is produced by no node", MAX_NAME, oname);
        goto done;
    }
    TTP_ALLOC(ctx, st, done, need, g->n_node + 1, "ONNX node marks");
    if (r->producer[out_id] >= 0) need[r->producer[out_id]] = 1;
    for (size_t t = g->n_node; t-- > 0;) {
        int k = order[t];
        if (!need[k]) continue;
        const Onnx__NodeProto *n = g->node[k];
        for (size_t i = 0; i < n->n_input; i++) {
            if (n->input[i] == NULL || n->input[i][0] == '\0') continue;
            int p = r->producer[find_id(r, n->input[i])];
            if (p >= 0) need[p] = 1;
        }
    }
    for (size_t t = 0; t < g->n_node; t++)
        if (need[order[t]]) TTP_CALL_GOTO(ctx, st, done, eval_node(r, g->node[order[t]], order[t]));
    {
        value *v = &r->vals[out_id];
        if (v->kind == V_MATMUL) {
            Onnx__NodeProto dummy = ONNX__NODE_PROTO__INIT;
            dummy.op_type = (char *)"MatMul";
            TTP_CALL_GOTO(ctx, st, done, materialize(r, v, &dummy, r->producer[out_id]));
        }
        if (v->kind != V_ACT) {
            st = OERR(r, TTP_ERR_FORMAT,
                      "graph output '%.*s' is %s, expected a tensor computed from the input", MAX_NAME, oname,
                      kind_what(v->kind));
            goto done;
        }
        if (v->layer < 0 || v->layer != r->nlayers - 1) {
            st = OERR(r, TTP_ERR_FORMAT, "graph output '%.*s' is %s; expected the output of the last layer",
                      MAX_NAME, oname,
                      v->layer < 0 ? "the network input itself (the graph has no layers)"
                                   : "not the last layer");
            goto done;
        }
    }
    TTP_CALL_GOTO(ctx, st, done, build_model(r, in_shape, out));
    {
        ttp_model *m = *out;
        snprintf(m->title, sizeof m->title, "%.300s (imported from ONNX)", base_name(path));
        snprintf(m->source, sizeof m->source,
                 "ONNX file '%.1000s': producer %.200s %.200s, opset %d, graph '%.200s'", path,
                 r->mp->producer_name && r->mp->producer_name[0] ? r->mp->producer_name : "(unnamed)",
                 r->mp->producer_version ? r->mp->producer_version : "", r->opset, g->name ? g->name : "");
        snprintf(m->license, sizeof m->license, "as for the ONNX file '%.1000s'", base_name(path));
        snprintf(m->history, sizeof m->history, "read from ONNX file '%.1000s' by ttpredict %s", path,
                 TTP_VERSION);
    }
done:
    for (int i = 0; i < r->nlayers; i++) free(r->layers[i].w), free(r->layers[i].s);
    free(r->layers);
    for (int i = 0; i < r->npool; i++) free(r->pool[i]);
    free(r->pool);
    free(r->names), free(r->ids), free(r->vals), free(r->producer);
    free(order), free(need);
    if (r->mp) onnx__model_proto__free_unpacked(r->mp, NULL);
    free(buf);
    return st;
}

#endif /* TTP_HAVE_ONNX */
