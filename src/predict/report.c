/*
 * report.c — SVG plots for summaries and reports (text and JSON writers: core/text.c).
 */
#include "ttp_report.h"
#include "ttp_text.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- SVG ----------------------------------------------------------------- */

enum { W = 720, H = 440, ML = 78, MR = 24, MT = 40, MB = 56 };

typedef struct {
    double lo, hi;
    int log;
} axis;

static int usable(double v, int logscale)
{
    return isfinite(v) && (!logscale || v > 0);
}

static double tx(const axis *a, double v, double p0, double p1)
{
    double u = a->log ? log10(v) : v;
    double lo = a->log ? log10(a->lo) : a->lo, hi = a->log ? log10(a->hi) : a->hi;
    return p0 + (p1 - p0) * (u - lo) / (hi - lo);
}

static double sx(const ttp_series *s, int64_t i)
{
    return s->x ? s->x[i] : (double)i;
}

/* "Nice" tick step for a linear range. */
static double nice_step(double range, int target)
{
    double raw = range / target, mag = pow(10.0, floor(log10(raw))), f = raw / mag;
    return (f < 1.5 ? 1 : f < 3.5 ? 2 : f < 7.5 ? 5 : 10) * mag;
}

static void grow(axis *a, double v)
{
    if (v < a->lo) a->lo = v;
    if (v > a->hi) a->hi = v;
}

static void finish_axis(axis *a)
{
    if (!(a->lo <= a->hi)) {
        a->lo = a->log ? 1 : 0;
        a->hi = a->log ? 10 : 1;
    }
    if (a->log) {
        a->lo = pow(10.0, floor(log10(a->lo)));
        a->hi = pow(10.0, ceil(log10(a->hi)));
        if (a->hi <= a->lo) a->hi = a->lo * 10;
    } else {
        if (a->hi == a->lo) {
            a->lo -= 0.5;
            a->hi += 0.5;
        }
        double st = nice_step(a->hi - a->lo, 6);
        a->lo = floor(a->lo / st) * st;
        a->hi = ceil(a->hi / st) * st;
    }
}

/* One tick: a grid line across the plot at p and its label v. */
static void tick(FILE *f, int horizontal, double p, double v)
{
    if (horizontal)
        fprintf(f,
                "<line x1='%.1f' y1='%d' x2='%.1f' y2='%d' class='grid'/>"
                "<text x='%.1f' y='%d' text-anchor='middle'>%g</text>\n",
                p, MT, p, H - MB, p, H - MB + 18, v);
    else
        fprintf(f,
                "<line x1='%d' y1='%.1f' x2='%d' y2='%.1f' class='grid'/>"
                "<text x='%d' y='%.1f' text-anchor='end'>%g</text>\n",
                ML, p, W - MR, p, ML - 6, p + 4, v);
}

static void ticks(FILE *f, const axis *a, int horizontal)
{
    double p0 = horizontal ? ML : H - MB, p1 = horizontal ? W - MR : MT;
    if (a->log) {
        for (double v = a->lo; v <= a->hi * 1.0001; v *= 10) tick(f, horizontal, tx(a, v, p0, p1), v);
        return;
    }
    double st = nice_step(a->hi - a->lo, 6);
    for (double v = a->lo; v <= a->hi + 1e-9 * st; v += st)
        tick(f, horizontal, tx(a, v, p0, p1), fabs(v) < 1e-12 * st ? 0.0 : v);
}

static void text_escaped(FILE *f, const char *s)
{
    for (; s && *s; s++) {
        if (*s == '<')
            fputs("&lt;", f);
        else if (*s == '>')
            fputs("&gt;", f);
        else if (*s == '&')
            fputs("&amp;", f);
        else
            fputc(*s, f);
    }
}

ttp_status ttp_svg_write(ttp_ctx *ctx, const char *path, const ttp_plot *p, const ttp_series *s, int ns)
{
    ttp_text out;
    TTP_CALL(ctx, ttp_text_open(ctx, path, "plot", &out));
    FILE *f = out.f;

    axis ax = {INFINITY, -INFINITY, p->logx}, ay = {INFINITY, -INFINITY, p->logy};
    for (int k = 0; k < ns; k++)
        for (int64_t i = 0; i < s[k].n; i++) {
            double x = sx(&s[k], i);
            if (!usable(x, ax.log)) continue;
            const double *ys[3] = {s[k].y, s[k].lo, s[k].hi};
            for (int q = 0; q < 3; q++)
                if (ys[q] && usable(ys[q][i], ay.log)) {
                    grow(&ax, x);
                    grow(&ay, ys[q][i]);
                }
        }
    if (p->diagonal && ax.lo <= ax.hi) { /* same range on both axes */
        double lo = fmin(ax.lo, ay.lo), hi = fmax(ax.hi, ay.hi);
        ax.lo = ay.lo = lo;
        ax.hi = ay.hi = hi;
    }
    finish_axis(&ax);
    finish_axis(&ay);

    fprintf(f,
            "<svg xmlns='http://www.w3.org/2000/svg' width='%d' height='%d' viewBox='0 0 %d %d' "
            "font-family='sans-serif' font-size='12'>\n",
            W, H, W, H);
    fprintf(f,
            "<style>.grid{stroke:#e3e3e3;stroke-width:1}</style>\n"
            "<rect width='%d' height='%d' fill='white'/>\n",
            W, H);
    ticks(f, &ax, 1);
    ticks(f, &ay, 0);
    fprintf(f, "<rect x='%d' y='%d' width='%d' height='%d' fill='none' stroke='#444'/>\n", ML, MT,
            W - ML - MR, H - MT - MB);
    fprintf(f, "<text x='%d' y='24' text-anchor='middle' font-size='15'>", W / 2);
    text_escaped(f, p->title);
    fprintf(f, "</text>\n<text x='%d' y='%d' text-anchor='middle'>", (ML + W - MR) / 2, H - 14);
    text_escaped(f, p->xlabel);
    fprintf(f, "</text>\n<text transform='translate(18,%d) rotate(-90)' text-anchor='middle'>",
            (MT + H - MB) / 2);
    text_escaped(f, p->ylabel);
    fputs("</text>\n", f);

    if (p->diagonal)
        fprintf(f, "<line x1='%.1f' y1='%.1f' x2='%.1f' y2='%.1f' stroke='#999' stroke-dasharray='4 4'/>\n",
                tx(&ax, ax.lo, ML, W - MR), tx(&ay, ax.lo, H - MB, MT), tx(&ax, ax.hi, ML, W - MR),
                tx(&ay, ax.hi, H - MB, MT));
    if (isfinite(p->vline) && usable(p->vline, ax.log) && p->vline >= ax.lo && p->vline <= ax.hi) {
        double vx = tx(&ax, p->vline, ML, W - MR);
        fprintf(f, "<line x1='%.1f' y1='%d' x2='%.1f' y2='%d' stroke='#888' stroke-dasharray='6 3'/>\n", vx,
                MT, vx, H - MB);
        if (p->vline_label) { /* at the foot of the line, clear of the legend */
            fprintf(f, "<text x='%.1f' y='%d' fill='#555'>", vx + 4, H - MB - 8);
            text_escaped(f, p->vline_label);
            fputs("</text>\n", f);
        }
    }
    fprintf(f,
            "<clipPath id='plot'><rect x='%d' y='%d' width='%d' height='%d'/></clipPath>\n<g "
            "clip-path='url(#plot)'>\n",
            ML, MT, W - ML - MR, H - MT - MB);
    for (int k = 0; k < ns; k++) {
        const ttp_series *q = &s[k];
        const char *col = q->color ? q->color : "#1f77b4";
        if (q->lo && q->hi) { /* band: upper edge forward, lower edge back */
            fprintf(f, "<path fill='%s' fill-opacity='0.18' stroke='none' d='", col);
            int first = 1;
            for (int64_t i = 0; i < q->n; i++)
                if (usable(sx(q, i), ax.log) && usable(q->hi[i], ay.log) && usable(q->lo[i], ay.log)) {
                    fprintf(f, "%c%.1f %.1f ", first ? 'M' : 'L', tx(&ax, sx(q, i), ML, W - MR),
                            tx(&ay, q->hi[i], H - MB, MT));
                    first = 0;
                }
            for (int64_t i = q->n - 1; i >= 0; i--)
                if (usable(sx(q, i), ax.log) && usable(q->hi[i], ay.log) && usable(q->lo[i], ay.log))
                    fprintf(f, "L%.1f %.1f ", tx(&ax, sx(q, i), ML, W - MR), tx(&ay, q->lo[i], H - MB, MT));
            fputs("Z'/>\n", f);
        }
        if (q->markers) {
            for (int64_t i = 0; i < q->n; i++)
                if (usable(sx(q, i), ax.log) && usable(q->y[i], ay.log))
                    fprintf(f, "<circle cx='%.1f' cy='%.1f' r='3' fill='%s'/>\n",
                            tx(&ax, sx(q, i), ML, W - MR), tx(&ay, q->y[i], H - MB, MT), col);
        } else {
            fprintf(f, "<path fill='none' stroke='%s' stroke-width='2'%s d='", col,
                    q->dashed ? " stroke-dasharray='7 4'" : "");
            int pen = 0;
            for (int64_t i = 0; i < q->n; i++) {
                if (!usable(sx(q, i), ax.log) || !usable(q->y[i], ay.log)) {
                    pen = 0;
                    continue;
                }
                fprintf(f, "%c%.1f %.1f ", pen ? 'L' : 'M', tx(&ax, sx(q, i), ML, W - MR),
                        tx(&ay, q->y[i], H - MB, MT));
                pen = 1;
            }
            fputs("'/>\n", f);
        }
    }
    fputs("</g>\n", f);
    if (ns > 0) /* legend box */
        fprintf(
            f,
            "<rect x='%d' y='%d' width='252' height='%d' fill='white' fill-opacity='0.85' stroke='#ccc'/>\n",
            W - MR - 256, MT + 4, 18 * ns + 6);
    for (int k = 0; k < ns; k++) { /* legend */
        int y = MT + 16 + 18 * k;
        const char *col = s[k].color ? s[k].color : "#1f77b4";
        fprintf(f, "<rect x='%d' y='%d' width='16' height='4' fill='%s'/><text x='%d' y='%d'>", W - MR - 250,
                y - 4, col, W - MR - 228, y + 1);
        text_escaped(f, s[k].label);
        fputs("</text>\n", f);
    }
    fputs("</svg>\n", f);
    return ttp_text_commit(ctx, &out);
}
