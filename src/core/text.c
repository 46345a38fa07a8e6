/*
 * text.c — every text output of ttpredict goes through here: a temporary
 * name next to the final path, renamed on success, removed on failure; and
 * the small streaming JSON writer built on it.
 */
#include "ttp_text.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- text outputs --------------------------------------------------------- */

static void text_free(ttp_text *t)
{
    free(t->path);
    free(t->tmp);
    t->path = t->tmp = NULL;
}

ttp_status ttp_text_open(ttp_ctx *ctx, const char *path, const char *what, ttp_text *t)
{
    ttp_status st = TTP_OK;
    memset(t, 0, sizeof *t);
    const size_t len = strlen(path) + 1;
    TTP_ALLOC(ctx, st, fail, t->path, len, "an output file name");
    memcpy(t->path, path, len);
    TTP_CALL_GOTO(ctx, st, fail, ttp_tmpname(ctx, path, &t->tmp));
    t->f = fopen(t->tmp, "w");
    if (t->f == NULL) {
        /* The reason first: a long path must not push it out of the message. */
        st = TTP_ERR(ctx, TTP_ERR_IO, "cannot write %s (%s): '%.400s%s'", what, strerror(errno), path,
                     strlen(path) > 400 ? "..." : "");
        goto fail;
    }
    return TTP_OK;
fail:
    text_free(t);
    return st;
}

ttp_status ttp_text_commit(ttp_ctx *ctx, ttp_text *t)
{
    ttp_status st = TTP_OK;
    int bad = ferror(t->f);
    int e = bad ? EIO : 0;
    if (fflush(t->f) != 0 && !bad) bad = 1, e = errno;
    if (fclose(t->f) != 0 && !bad) bad = 1, e = errno;
    t->f = NULL;
    if (bad) {
        remove(t->tmp);
        st = TTP_ERR(ctx, TTP_ERR_IO, "cannot write '%s': %s", t->path, strerror(e));
    } else {
        st = ttp_commit_file(ctx, t->tmp, t->path);
    }
    text_free(t);
    return st;
}

void ttp_text_abort(ttp_text *t)
{
    if (t == NULL) return;
    if (t->f != NULL) {
        fclose(t->f);
        t->f = NULL;
        remove(t->tmp);
    }
    text_free(t);
}

/* ---- JSON ---------------------------------------------------------------- */

#define JSON_DEPTH 32

struct ttp_json {
    ttp_text out;
    FILE *f; /* out.f, the stream being written */
    int depth;
    int count[JSON_DEPTH]; /* items written at each level, for commas */
    char closer[JSON_DEPTH];
};

ttp_status ttp_json_open(ttp_ctx *ctx, const char *path, ttp_json **out)
{
    ttp_status st = TTP_OK;
    ttp_json *j = NULL;
    TTP_ALLOC(ctx, st, fail, j, 1, "JSON writer");
    TTP_CALL_GOTO(ctx, st, fail, ttp_text_open(ctx, path, "JSON file", &j->out));
    j->f = j->out.f;
    fputc('{', j->f);
    j->depth = 1;
    j->closer[0] = '}';
    *out = j;
    return TTP_OK;
fail:
    free(j);
    return st;
}

static void json_key(ttp_json *j, const char *key)
{
    int d = j->depth - 1;
    if (j->count[d]++) fputc(',', j->f);
    fprintf(j->f, "\n%*s", 2 * j->depth, "");
    if (key) {
        fputc('"', j->f);
        for (const char *c = key; *c; c++) fputc(*c, j->f);
        fputs("\": ", j->f);
    }
}

static void json_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (const unsigned char *c = (const unsigned char *)(s ? s : ""); *c; c++) {
        if (*c == '"' || *c == '\\')
            fprintf(f, "\\%c", *c);
        else if (*c == '\n')
            fputs("\\n", f);
        else if (*c < 0x20)
            fprintf(f, "\\u%04x", *c);
        else
            fputc(*c, f);
    }
    fputc('"', f);
}

static void json_open(ttp_json *j, const char *key, char open, char close)
{
    if (j->depth >= JSON_DEPTH) return;
    json_key(j, key);
    fputc(open, j->f);
    j->closer[j->depth] = close;
    j->count[j->depth] = 0;
    j->depth++;
}

static void json_close_one(ttp_json *j)
{
    if (j->depth <= 0) return;
    j->depth--;
    fprintf(j->f, "\n%*s%c", 2 * j->depth, "", j->closer[j->depth]);
}

void ttp_json_begin_object(ttp_json *j, const char *key)
{
    json_open(j, key, '{', '}');
}
void ttp_json_begin_array(ttp_json *j, const char *key)
{
    json_open(j, key, '[', ']');
}
void ttp_json_end_object(ttp_json *j)
{
    if (j->depth > 1) json_close_one(j);
}
void ttp_json_end_array(ttp_json *j)
{
    if (j->depth > 1) json_close_one(j);
}

static void json_number(FILE *f, double v)
{
    if (isfinite(v))
        fprintf(f, "%.10g", v);
    else
        fputs("null", f);
}

void ttp_json_num(ttp_json *j, const char *key, double v)
{
    json_key(j, key);
    json_number(j->f, v);
}

void ttp_json_int(ttp_json *j, const char *key, int64_t v)
{
    json_key(j, key);
    fprintf(j->f, "%lld", (long long)v);
}

void ttp_json_str(ttp_json *j, const char *key, const char *s)
{
    json_key(j, key);
    json_string(j->f, s);
}

void ttp_json_bool(ttp_json *j, const char *key, int v)
{
    json_key(j, key);
    fputs(v ? "true" : "false", j->f);
}

void ttp_json_nums(ttp_json *j, const char *key, const double *v, int64_t n)
{
    json_key(j, key);
    fputc('[', j->f);
    for (int64_t i = 0; i < n; i++) {
        if (i) fputs(", ", j->f);
        json_number(j->f, v[i]);
    }
    fputc(']', j->f);
}

ttp_status ttp_json_close(ttp_ctx *ctx, ttp_json **jp)
{
    ttp_json *j = *jp;
    if (j == NULL) return TTP_OK;
    while (j->depth > 0) json_close_one(j);
    fputc('\n', j->f);
    ttp_status st = ttp_text_commit(ctx, &j->out);
    free(j);
    *jp = NULL;
    return st;
}

void ttp_json_abort(ttp_json **jp)
{
    ttp_json *j = *jp;
    if (j == NULL) return;
    ttp_text_abort(&j->out);
    free(j);
    *jp = NULL;
}

ttp_status ttp_mkdir(ttp_ctx *ctx, const char *dir)
{
    if (mkdir(dir, 0777) != 0 && errno != EEXIST)
        return TTP_ERR(ctx, TTP_ERR_IO, "cannot create directory '%s': %s", dir, strerror(errno));
    struct stat sb;
    if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode))
        return TTP_ERR(ctx, TTP_ERR_IO, "'%s' exists and is not a directory", dir);
    return TTP_OK;
}
