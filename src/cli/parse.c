/*
 * parse.c — option-value parsing for the command line.  Every failure names
 * the option, the value given and what was expected.
 */
#include "cli.h"
#include "ttp_sim.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

ttp_status ttp_cli_double(ttp_ctx *ctx, const char *opt, const char *val, double lo, int lo_incl,
                          double hi, double *out)
{
    char *end = NULL;
    if (val == NULL || *val == '\0')
        return TTP_ERR(ctx, TTP_ERR_ARG, "option %s: missing value, expected a number", opt);
    errno = 0;
    double v = strtod(val, &end);
    if (errno != 0 || end == val || *end != '\0' || !isfinite(v))
        return TTP_ERR(ctx, TTP_ERR_ARG, "option %s: '%s' is not a number", opt, val);
    if ((lo_incl ? v < lo : v <= lo) || v > hi)
        return TTP_ERR(ctx, TTP_ERR_ARG, "option %s: %s is out of range, expected a value in %s%g, %g]",
                       opt, val, lo_incl ? "[" : "(", lo, hi);
    *out = v;
    return TTP_OK;
}

ttp_status ttp_cli_int(ttp_ctx *ctx, const char *opt, const char *val, int64_t lo, int64_t hi,
                       int64_t *out)
{
    char *end = NULL;
    if (val == NULL || *val == '\0')
        return TTP_ERR(ctx, TTP_ERR_ARG, "option %s: missing value, expected an integer", opt);
    errno = 0;
    long long v = strtoll(val, &end, 10);
    if (errno != 0 || end == val || *end != '\0')
        return TTP_ERR(ctx, TTP_ERR_ARG, "option %s: '%s' is not an integer", opt, val);
    if (v < lo || v > hi)
        return TTP_ERR(ctx, TTP_ERR_ARG, "option %s: %s is out of range, expected an integer in [%lld, %lld]",
                       opt, val, (long long)lo, (long long)hi);
    *out = (int64_t)v;
    return TTP_OK;
}

/* Split a comma-separated list and hand each item to `one`. */
static ttp_status each_item(ttp_ctx *ctx, const char *opt, const char *val, int cap, int *n,
                            ttp_status (*one)(ttp_ctx *, const char *, const char *, void *, int),
                            void *arg)
{
    char buf[4096];
    if (val == NULL || *val == '\0')
        return TTP_ERR(ctx, TTP_ERR_ARG, "option %s: missing value, expected a comma-separated list", opt);
    if (strlen(val) >= sizeof buf)
        return TTP_ERR(ctx, TTP_ERR_ARG, "option %s: list too long (over %zu characters)", opt, sizeof buf - 1);
    strcpy(buf, val);
    int k = 0;
    char *save = NULL;
    for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        if (k >= cap)
            return TTP_ERR(ctx, TTP_ERR_ARG, "option %s: more than %d values given", opt, cap);
        TTP_CALL(ctx, one(ctx, opt, tok, arg, k));
        k++;
    }
    if (k == 0) return TTP_ERR(ctx, TTP_ERR_ARG, "option %s: empty list", opt);
    *n = k;
    return TTP_OK;
}

typedef struct { double lo, hi; int lo_incl; double *out; } dl_arg;
typedef struct { int64_t lo, hi; int64_t *out; } il_arg;

static ttp_status one_double(ttp_ctx *ctx, const char *opt, const char *tok, void *a, int k)
{
    dl_arg *d = a;
    return ttp_cli_double(ctx, opt, tok, d->lo, d->lo_incl, d->hi, &d->out[k]);
}

static ttp_status one_int(ttp_ctx *ctx, const char *opt, const char *tok, void *a, int k)
{
    il_arg *d = a;
    return ttp_cli_int(ctx, opt, tok, d->lo, d->hi, &d->out[k]);
}

ttp_status ttp_cli_double_list(ttp_ctx *ctx, const char *opt, const char *val, double lo, int lo_incl,
                               double hi, double *out, int cap, int *n)
{
    dl_arg a = {lo, hi, lo_incl, out};
    return each_item(ctx, opt, val, cap, n, one_double, &a);
}

ttp_status ttp_cli_int_list(ttp_ctx *ctx, const char *opt, const char *val, int64_t lo, int64_t hi,
                            int64_t *out, int cap, int *n)
{
    il_arg a = {lo, hi, out};
    return each_item(ctx, opt, val, cap, n, one_int, &a);
}

ttp_status ttp_cli_bad_option(ttp_ctx *ctx, const char *cmd, const char *arg)
{
    return TTP_ERR(ctx, TTP_ERR_ARG,
                   "ttpredict %s: unknown option or missing value in '%s' (see 'ttpredict %s --help')",
                   cmd, arg ? arg : "?", cmd);
}

ttp_status ttp_cli_version(const char *cmd)
{
    printf("ttpredict%s%s %s\n", cmd ? " " : "", cmd ? cmd : "", TTP_VERSION);
    return TTP_OK;
}

/* Resolve a bundled file: $TTP_DATA_DIR, the source tree's data/, then
 * ../share/ttpredict next to the executable. */
static const char *bundled(const char *file, char *buf, size_t len)
{
    const char *dirs[3] = {getenv("TTP_DATA_DIR"), TTP_DATA_DIR, NULL};
    char exe[1024];
    ssize_t r = readlink("/proc/self/exe", exe, sizeof exe - 1);
    char alt[1100] = "";
    if (r > 0) {
        exe[r] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash) {
            *slash = '\0';
            snprintf(alt, sizeof alt, "%s/../share/ttpredict", exe);
            dirs[2] = alt;
        }
    }
    for (int i = 0; i < 3; i++) {
        if (dirs[i] == NULL || dirs[i][0] == '\0') continue;
        snprintf(buf, len, "%s/%s", dirs[i], file);
        if (access(buf, R_OK) == 0) return buf;
    }
    snprintf(buf, len, "%s/%s", TTP_DATA_DIR, file);
    return buf;
}

const char *ttp_cli_default_data(void)
{
    static char buf[2048];
    return bundled("default-data.nc", buf, sizeof buf);
}

const char *ttp_cli_default_model(void)
{
    static char buf[2048];
    return bundled("default-model.nc", buf, sizeof buf);
}

ttp_status ttp_cli_check_output(ttp_ctx *ctx, const char *opt, const char *path, int is_dir)
{
    char dir[4096];
    if (path == NULL) return TTP_OK;
    if (strlen(path) >= sizeof dir) return TTP_ERR(ctx, TTP_ERR_ARG, "option %s: path too long", opt);
    strcpy(dir, path);
    if (!is_dir) {
        char *slash = strrchr(dir, '/');
        if (slash == NULL) strcpy(dir, ".");
        else if (slash == dir) dir[1] = '\0';
        else *slash = '\0';
    } else {
        /* a report directory may be created: its parent must be writable */
        if (access(dir, F_OK) == 0) return access(dir, W_OK) == 0 ? TTP_OK
            : TTP_ERR(ctx, TTP_ERR_IO, "option %s: directory '%s' is not writable", opt, path);
        char *slash = strrchr(dir, '/');
        if (slash == NULL) strcpy(dir, ".");
        else if (slash == dir) dir[1] = '\0';
        else *slash = '\0';
    }
    if (access(dir, W_OK) != 0)
        return TTP_ERR(ctx, TTP_ERR_IO, "option %s: cannot write '%s': directory '%s' does not exist or is not writable",
                       opt, path, dir);
    return TTP_OK;
}

ttp_status ttp_cli_opt_option(ttp_ctx *ctx, int c, const char *arg, int64_t steps_min, ttp_opt *o, int *handled)
{
    int64_t v;
    *handled = 1;
    switch (c) {
    case TTP_CLI_O_LOSS:
        if (strcmp(arg, "mse") == 0) o->loss = TTP_LOSS_MSE;
        else if (strcmp(arg, "ce") == 0) o->loss = TTP_LOSS_CE;
        else return TTP_ERR(ctx, TTP_ERR_ARG, "option --loss: '%s', expected mse or ce", arg);
        return TTP_OK;
    case TTP_CLI_O_LR: return ttp_cli_double(ctx, "--lr", arg, 0.0, 0, 1e6, &o->lr);
    case TTP_CLI_O_BATCH: return ttp_cli_int(ctx, "--batch", arg, 1, INT64_MAX, &o->batch);
    case TTP_CLI_O_MOM:
        TTP_CALL(ctx, ttp_cli_double(ctx, "--momentum", arg, 0.0, 1, 1.0, &o->momentum));
        if (o->momentum >= 1.0)
            return TTP_ERR(ctx, TTP_ERR_ARG, "option --momentum: %s is out of range, expected a value in [0, 1)", arg);
        return TTP_OK;
    case TTP_CLI_O_NEST: o->nesterov = 1; return TTP_OK;
    case TTP_CLI_O_WD: return ttp_cli_double(ctx, "--wd", arg, 0.0, 1, 1e6, &o->wd);
    case TTP_CLI_O_STEPS: return ttp_cli_int(ctx, "--steps", arg, steps_min, 100000000, &o->steps);
    case TTP_CLI_O_SEED:
        TTP_CALL(ctx, ttp_cli_int(ctx, "--seed", arg, 0, INT64_MAX, &v));
        o->seed = (uint64_t)v;
        return TTP_OK;
    default: *handled = 0; return TTP_OK;
    }
}

ttp_status ttp_cli_tt_list(ttp_ctx *ctx, const char *opt, const char *val, int smooth, ttp_tt_def *out, int cap, int *n)
{
    char buf[1024];
    if (val == NULL || *val == '\0')
        return TTP_ERR(ctx, TTP_ERR_ARG, "option %s: missing value, expected KIND:VALUE[,...]", opt);
    if (strlen(val) >= sizeof buf) return TTP_ERR(ctx, TTP_ERR_ARG, "option %s: value too long", opt);
    strcpy(buf, val);
    int k = 0;
    char *save = NULL;
    for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        if (k >= cap) return TTP_ERR(ctx, TTP_ERR_ARG, "option %s: more than %d definitions", opt, cap);
        ttp_ctx one;
        ttp_ctx_init(&one);
        if (ttp_tt_def_parse(&one, tok, &out[k]) != TTP_OK)
            return TTP_ERR(ctx, TTP_ERR_ARG, "option %s: %s", opt, one.msg);
        out[k].smooth = smooth;
        k++;
    }
    if (k == 0) return TTP_ERR(ctx, TTP_ERR_ARG, "option %s: no definition given", opt);
    *n = k;
    return TTP_OK;
}
