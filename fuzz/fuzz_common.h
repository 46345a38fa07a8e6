/*
 * fuzz_common.h — what every libFuzzer target shares: the fuzz input
 * written to a temporary file (the readers take paths, as the command line
 * does), and the rule each target checks besides "no crash": a refusal must
 * carry a message, so that a user is always told which file and why.
 */
#ifndef TTP_FUZZ_COMMON_H
#define TTP_FUZZ_COMMON_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ttp_core.h"

/* One temporary file per process, rewritten for every input. */
static inline const char *fuzz_write(const uint8_t *data, size_t size, const char *suffix)
{
    static char path[256];
    snprintf(path, sizeof path, "/tmp/ttp_fuzz_%ld%s", (long)getpid(), suffix);
    FILE *f = fopen(path, "wb");
    if (f == NULL) abort();
    if (size > 0 && fwrite(data, 1, size, f) != size) abort();
    fclose(f);
    return path;
}

/*
 * The per-kind NetCDF targets feed the classic family only (inputs
 * starting "CDF"); NetCDF-4 (HDF5) inputs are fuzz_nc4's, against all three
 * readers: libhdf5 1.10 (Debian bookworm) crashes inside its own parser on
 * some damaged HDF5 files (fuzz_kernel's first run: SEGV in
 * H5G__dense_iterate under nc_open), which ttp_nc_precheck's probe in a
 * child process turns into a refusal.  The readers
 * use the NetCDF API the same way whatever the format, so CDF5 seeds carry
 * the NetCDF-4 content (64-bit attributes included) to every check of
 * ttpredict's own.
 */
static inline int fuzz_is_classic(const uint8_t *data, size_t size)
{
    return size >= 4 && memcmp(data, "CDF", 3) == 0;
}

/* A failed read must have said why, naming the file. */
static inline void fuzz_check_refusal(const ttp_ctx *ctx, ttp_status st, const char *path)
{
    if (st == TTP_OK) return;
    if (ctx->msg[0] == '\0') {
        fprintf(stderr, "fuzz: status %d with no message\n", (int)st);
        abort();
    }
    if (strstr(ctx->msg, path) == NULL) {
        fprintf(stderr, "fuzz: the message does not name the file: %s\n", ctx->msg);
        abort();
    }
}

/*
 * The whole target for a NetCDF reader `read(ctx, path, &obj)` with its
 * `destroy(&obj)`: classic-family inputs only, written to a file, read,
 * freed, and a refusal must name the file.  Each fuzz_<kind>.c is this one
 * line, so the targets cannot drift apart.
 */
#define TTP_FUZZ_NC_READER(type, read, destroy)                                                              \
    int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);                                            \
    int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)                                             \
    {                                                                                                        \
        if (!fuzz_is_classic(data, size)) return 0;                                                          \
        const char *path = fuzz_write(data, size, ".nc");                                                    \
        ttp_ctx ctx;                                                                                         \
        ttp_ctx_init(&ctx);                                                                                  \
        type *obj = NULL;                                                                                    \
        ttp_status st = read(&ctx, path, &obj);                                                              \
        destroy(&obj);                                                                                       \
        fuzz_check_refusal(&ctx, st, path);                                                                  \
        unlink(path);                                                                                        \
        return 0;                                                                                            \
    }

/* A target for a reader of two files (data and an optional labels file,
 * e.g. IDX images + labels, .npy features + labels): the input is split
 * at a point chosen by its first two bytes; an empty second part means no
 * labels file.  A refusal must carry a message. */
#define TTP_FUZZ_PAIR_READER(read, ext1, ext2)                                                               \
    int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);                                            \
    int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)                                             \
    {                                                                                                        \
        if (size < 2) return 0;                                                                              \
        size_t cut = ((size_t)data[0] << 8 | data[1]);                                                       \
        data += 2, size -= 2;                                                                                \
        if (cut > size) cut = size;                                                                          \
        char first[300], second[300];                                                                        \
        snprintf(first, sizeof first, "%s", fuzz_write(data, cut, ext1));                                    \
        snprintf(second, sizeof second, "%s", fuzz_write(data + cut, size - cut, ext2));                     \
        ttp_ctx ctx;                                                                                         \
        ttp_ctx_init(&ctx);                                                                                  \
        ttp_data *d = NULL;                                                                                  \
        ttp_status st = read(&ctx, first, size > cut ? second : NULL, &d);                                   \
        ttp_data_destroy(&d);                                                                                \
        if (st != TTP_OK && ctx.msg[0] == '\0') abort();                                                     \
        unlink(first);                                                                                       \
        unlink(second);                                                                                      \
        return 0;                                                                                            \
    }

#endif
