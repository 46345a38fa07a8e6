/*
 * ttp_report.h — what a person reads: SVG plots and the
 * Markdown report.  No plotting library: the SVG is written directly, which
 * keeps the report dependency-free and byte-for-byte reproducible.
 */
#ifndef TTP_REPORT_H
#define TTP_REPORT_H

#include "ttp_text.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- SVG line plots ----------------------------------------------------- */
typedef struct ttp_series {
    const char *label;
    const double *x, *y;   /* n points; x NULL means 0, 1, 2, ...               */
    const double *lo, *hi; /* optional band drawn as a shaded area            */
    int64_t n;
    const char *color; /* CSS color                                         */
    int dashed;        /* 1: dashed line                                    */
    int markers;       /* 1: dots instead of a line (scatter)               */
} ttp_series;

typedef struct ttp_plot {
    const char *title, *xlabel, *ylabel;
    int logx, logy;
    int diagonal; /* 1: draw y = x (predicted vs real scatter)          */
    double vline; /* x of a vertical marker line, NaN for none          */
    const char *vline_label;
} ttp_plot;

/* Write an SVG plot of ns series (temp file then rename).  Non-finite and,
 * on log axes, non-positive points are skipped. */
ttp_status ttp_svg_write(ttp_ctx *ctx, const char *path, const ttp_plot *p, const ttp_series *s, int ns);

#ifdef __cplusplus
}
#endif
#endif /* TTP_REPORT_H */
