/*
 * ttp_text.h — text outputs written safely (temporary name, then rename)
 * and a small streaming JSON writer.  Part of the core: every layer that
 * writes a summary uses it.
 */
#ifndef TTP_TEXT_H
#define TTP_TEXT_H

#include "ttp_core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- text outputs through a temporary name -------------------------------
 * ttp_text_open opens path.tmp.PID; ttp_text_commit checks for write errors,
 * closes and renames it to path (removing it on failure); ttp_text_abort
 * (safe on a closed or never-opened one) closes and removes it.  Every text
 * output of ttpredict (JSON, SVG, Markdown) goes through these, so a failed
 * run never leaves a partial file under the requested name. */
typedef struct ttp_text {
    FILE *f;
    char *path, *tmp; /* owned: freed by commit and abort */
} ttp_text;

ttp_status ttp_text_open(ttp_ctx *ctx, const char *path, const char *what, ttp_text *t);
ttp_status ttp_text_commit(ttp_ctx *ctx, ttp_text *t);
void ttp_text_abort(ttp_text *t);

/* ---- JSON: a small streaming writer (objects, arrays, scalars) ---------- */
typedef struct ttp_json ttp_json; /* opaque */

/* Open path.tmp.PID for writing; ttp_json_close renames it to path. */
ttp_status ttp_json_open(ttp_ctx *ctx, const char *path, ttp_json **out);
/* Finish (closing every open container), flush, rename; frees *j.  On a
 * failure before close, ttp_json_abort removes the temporary file. */
ttp_status ttp_json_close(ttp_ctx *ctx, ttp_json **j);
void ttp_json_abort(ttp_json **j);
void ttp_json_begin_object(ttp_json *j, const char *key); /* key NULL inside arrays / at top */
void ttp_json_end_object(ttp_json *j);
void ttp_json_begin_array(ttp_json *j, const char *key);
void ttp_json_end_array(ttp_json *j);
void ttp_json_num(ttp_json *j, const char *key, double v); /* non-finite -> null */
void ttp_json_int(ttp_json *j, const char *key, int64_t v);
void ttp_json_str(ttp_json *j, const char *key, const char *s);
void ttp_json_bool(ttp_json *j, const char *key, int v);
void ttp_json_nums(ttp_json *j, const char *key, const double *v, int64_t n);

/* Create a directory if missing (one level). */
ttp_status ttp_mkdir(ttp_ctx *ctx, const char *dir);

#ifdef __cplusplus
}
#endif
#endif /* TTP_TEXT_H */
