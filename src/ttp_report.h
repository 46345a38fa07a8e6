/*
 * ttp_report.h — what a person reads: JSON summaries, SVG plots and the
 * Markdown report.  No plotting library: the SVG is written directly, which
 * keeps the report dependency-free and byte-for-byte reproducible.
 */
#ifndef TTP_REPORT_H
#define TTP_REPORT_H

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
    char path[2048], tmp[2100];
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

/* ---- SVG line plots ----------------------------------------------------- */
typedef struct ttp_series {
    const char *label;
    const double *x, *y; /* n points; x NULL means 0, 1, 2, ...               */
    const double *lo, *hi; /* optional band drawn as a shaded area            */
    int64_t n;
    const char *color;   /* CSS color                                         */
    int dashed;          /* 1: dashed line                                    */
    int markers;         /* 1: dots instead of a line (scatter)               */
} ttp_series;

typedef struct ttp_plot {
    const char *title, *xlabel, *ylabel;
    int logx, logy;
    int diagonal;        /* 1: draw y = x (predicted vs real scatter)          */
    double vline;        /* x of a vertical marker line, NaN for none          */
    const char *vline_label;
} ttp_plot;

/* Write an SVG plot of ns series (temp file then rename).  Non-finite and,
 * on log axes, non-positive points are skipped. */
ttp_status ttp_svg_write(ttp_ctx *ctx, const char *path, const ttp_plot *p, const ttp_series *s,
                         int ns);

/* Create a directory if missing (one level). */
ttp_status ttp_mkdir(ttp_ctx *ctx, const char *dir);

#ifdef __cplusplus
}
#endif
#endif /* TTP_REPORT_H */
