/*
 * test_path.c — ttp_path_check (core/ttp_path.h) on real files in a
 * temporary directory: every refusal names both uses, and what must pass
 * passes.  The reference is the file system itself (files created here,
 * their identities known by construction).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ttp_path.h"
#include "ttp_test.h"

static char dir[256];

static void touch(const char *name)
{
    char p[512];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "w");
    if (f) fclose(f);
}

int main(void)
{
    ttp_ctx c;
    ttp_ctx_init(&c);
    ttp_ctx *ctx = &c;
    snprintf(dir, sizeof dir, "/tmp/ttp_test_path.%ld", (long)getpid());
    CHECK(mkdir(dir, 0700) == 0);
    CHECK(chdir(dir) == 0);
    touch("in.nc");
    CHECK(mkdir("sub", 0700) == 0);

    /* distinct files pass; NULL and "" entries are skipped */
    ttp_path_use ok[] = {{"in.nc", "--data", TTP_PATH_IN},   {"out.nc", "--out", TTP_PATH_OUT},
                         {"o.json", "--json", TTP_PATH_OUT}, {"rep", "--report", TTP_PATH_OUT_DIR},
                         {NULL, "--kernel", TTP_PATH_IN},    {"", "--x", TTP_PATH_OUT}};
    CHECK_OK(ctx, ttp_path_check(ctx, ok, 6));
    /* an input may be named twice (the same file read by two options) */
    ttp_path_use two_in[] = {{"in.nc", "--data", TTP_PATH_IN}, {"./in.nc", "--model", TTP_PATH_IN}};
    CHECK_OK(ctx, ttp_path_check(ctx, two_in, 2));

    /* an output that is an input: by name, through ./, through a directory */
    ttp_path_use over[] = {{"in.nc", "--data", TTP_PATH_IN}, {"in.nc", "--out", TTP_PATH_OUT}};
    CHECK_FAILS(ctx, ttp_path_check(ctx, over, 2), TTP_ERR_ARG,
                "--out 'in.nc' is the same file as the input --data");
    ttp_path_use over2[] = {{"in.nc", "--data", TTP_PATH_IN}, {"sub/../in.nc", "--out", TTP_PATH_OUT}};
    CHECK_FAILS(ctx, ttp_path_check(ctx, over2, 2), TTP_ERR_ARG, "destroy the input");
    /* two outputs that are one file, whether it exists or not */
    ttp_path_use dup[] = {{"a.nc", "--out", TTP_PATH_OUT}, {"./a.nc", "--json", TTP_PATH_OUT}};
    CHECK_FAILS(ctx, ttp_path_check(ctx, dup, 2), TTP_ERR_ARG,
                "--out 'a.nc' and --json './a.nc' are the same file");
    ttp_path_use dup2[] = {{"in.nc", "--out-model", TTP_PATH_OUT}, {"in.nc", "--out", TTP_PATH_OUT}};
    CHECK_FAILS(ctx, ttp_path_check(ctx, dup2, 2), TTP_ERR_ARG, "one output would replace the other");
    /* a directory as an output file, a file as an output directory */
    ttp_path_use isdir[] = {{"sub", "--out", TTP_PATH_OUT}};
    CHECK_FAILS(ctx, ttp_path_check(ctx, isdir, 1), TTP_ERR_ARG, "--out 'sub' is a directory");
    ttp_path_use isfile[] = {{"in.nc", "--report", TTP_PATH_OUT_DIR}};
    CHECK_FAILS(ctx, ttp_path_check(ctx, isfile, 1), TTP_ERR_ARG, "exists and is not a directory");
    /* a directory that does not exist, or a "directory" that is a file */
    ttp_path_use nodir[] = {{"missing/x.nc", "--out", TTP_PATH_OUT}};
    CHECK_FAILS(ctx, ttp_path_check(ctx, nodir, 1), TTP_ERR_IO, "its directory does not exist");
    ttp_path_use filedir[] = {{"in.nc/x.nc", "--json", TTP_PATH_OUT}};
    CHECK_FAILS(ctx, ttp_path_check(ctx, filedir, 1), TTP_ERR_IO, "--json 'in.nc/x.nc'");
    /* a long path is no problem (no fixed-size buffers) */
    char longp[5000];
    memset(longp, 'a', sizeof longp - 1);
    longp[sizeof longp - 1] = '\0';
    memcpy(longp, "sub/", 4);
    ttp_path_use lp[] = {{longp, "--out", TTP_PATH_OUT}};
    ttp_status s = ttp_path_check(ctx, lp, 1);
    CHECK(s == TTP_OK ||
          s == TTP_ERR_IO); /* the name may be too long for the file system: an error, no crash */
    ttp_error_clear(ctx);

    remove("in.nc");
    rmdir("sub");
    CHECK(chdir("/") == 0);
    rmdir(dir);
    return ttp_test_end("test_path");
}
