/*
 * test_report.c — the JSON writer produces exactly the expected text
 * (escaping, nulls for non-finite numbers, nesting), nothing is left under
 * the final name on abort, and SVG plots place points where the axis
 * mapping says.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ttp_report.h"
#include "ttp_text.h"
#include "ttp_test.h"

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = calloc((size_t)n + 1, 1);
    if (fread(s, 1, (size_t)n, f) != (size_t)n) {
        free(s);
        s = NULL;
    }
    fclose(f);
    return s;
}

int main(void)
{
    ttp_ctx ctx;
    ttp_ctx_init(&ctx);
    char dir[] = "/tmp/ttp_report_XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char path[256];
    snprintf(path, sizeof path, "%s/a.json", dir);

    ttp_json *j = NULL;
    CHECK_OK(&ctx, ttp_json_open(&ctx, path, &j));
    ttp_json_int(j, "n", 750);
    ttp_json_num(j, "x", 0.25);
    ttp_json_num(j, "bad", NAN);
    ttp_json_str(j, "s", "a\"b\\c\n");
    ttp_json_begin_object(j, "o");
    ttp_json_bool(j, "t", 1);
    double v[3] = {1, INFINITY, -2.5};
    ttp_json_nums(j, "v", v, 3);
    ttp_json_end_object(j);
    ttp_json_begin_array(j, "a");
    ttp_json_int(j, NULL, 1);
    ttp_json_int(j, NULL, 2);
    ttp_json_end_array(j);
    CHECK_OK(&ctx, ttp_json_close(&ctx, &j));
    CHECK(j == NULL);
    char *got = slurp(path);
    const char *want = "{\n  \"n\": 750,\n  \"x\": 0.25,\n  \"bad\": null,\n  \"s\": \"a\\\"b\\\\c\\n\",\n"
                       "  \"o\": {\n    \"t\": true,\n    \"v\": [1, null, -2.5]\n  },\n"
                       "  \"a\": [\n    1,\n    2\n  ]\n}\n";
    CHECK(got != NULL && strcmp(got, want) == 0);
    if (got && strcmp(got, want) != 0) fprintf(stderr, "got:\n%s\nwant:\n%s\n", got, want);
    free(got);

    /* An aborted writer leaves neither the final file nor the temporary. */
    char path2[256];
    snprintf(path2, sizeof path2, "%s/b.json", dir);
    CHECK_OK(&ctx, ttp_json_open(&ctx, path2, &j));
    ttp_json_int(j, "n", 1);
    ttp_json_abort(&j);
    CHECK(access(path2, F_OK) != 0);
    char *tmp = NULL;
    CHECK_OK(&ctx, ttp_tmpname(&ctx, path2, &tmp));
    CHECK(tmp && access(tmp, F_OK) != 0);
    free(tmp);

    /* A path longer than any fixed buffer: the temporary name is the whole
     * path plus its suffix, never a cut-off name of some other file. */
    size_t ln = 6000;
    char *longp = malloc(ln + 1);
    if (longp) {
        memset(longp, 'x', ln);
        longp[ln] = '\0';
        CHECK_OK(&ctx, ttp_tmpname(&ctx, longp, &tmp));
        CHECK(tmp && strncmp(tmp, longp, ln) == 0 && strncmp(tmp + ln, ".tmp.", 5) == 0);
        free(tmp);
        /* and writing there fails cleanly (the name is too long), naming the problem */
        CHECK(ttp_json_open(&ctx, longp, &j) == TTP_ERR_IO && strstr(ctx.msg, "File name too long"));
        ttp_error_clear(&ctx);
        free(longp);
    }

    /* Unwritable location: a clear I/O error naming the file. */
    CHECK_FAILS(&ctx, ttp_json_open(&ctx, "/nonexistent-dir/x.json", &j), TTP_ERR_IO,
                "/nonexistent-dir/x.json");

    /* SVG: on axes [0,10]x[0,10] the point (5,5) lands at the plot centre. */
    double x[3] = {0, 5, 10}, y[3] = {0, 5, 10};
    ttp_series s = {"line", x, y, NULL, NULL, 3, "#123456", 0, 1};
    ttp_plot p = {"t<1>", "x", "y", 0, 0, 0, NAN, NULL};
    char svg[256];
    snprintf(svg, sizeof svg, "%s/p.svg", dir);
    CHECK_OK(&ctx, ttp_svg_write(&ctx, svg, &p, &s, 1));
    got = slurp(svg);
    CHECK(got != NULL);
    if (got) {
        CHECK(strncmp(got, "<svg", 4) == 0);
        CHECK(strstr(got, "</svg>\n") != NULL);
        CHECK(strstr(got, "t&lt;1&gt;") != NULL); /* title escaped */
        /* plot area x: 78..696, y: 384..40 -> centre (387.0, 212.0) */
        CHECK(strstr(got, "cx='387.0' cy='212.0'") != NULL);
    }
    free(got);
    /* Log axes skip non-positive values instead of failing. */
    double ly[3] = {0, 1e-3, 1};
    ttp_series ls = {"log", x, ly, NULL, NULL, 3, NULL, 0, 0};
    ttp_plot lp = {"log", "k", "mu", 0, 1, 0, NAN, NULL};
    CHECK_OK(&ctx, ttp_svg_write(&ctx, svg, &lp, &ls, 1));
    /* leave no temporary directory behind */
    unlink(svg), unlink(path);
    CHECK(rmdir(dir) == 0);
    return ttp_test_end("test_report");
}
