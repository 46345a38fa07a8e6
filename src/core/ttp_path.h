/*
 * ttp_path.h — the files a command reads and writes, checked before any
 * work: an output must not be one of the inputs or another output (a run
 * would overwrite its own dataset, or one output would replace the other),
 * must not be a directory, and must be creatable where it is asked for.
 * A mistake in a path then costs nothing instead of a whole computation.
 */
#ifndef TTP_PATH_H
#define TTP_PATH_H

#include "ttp_core.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    TTP_PATH_IN = 0, /* a file that is read                              */
    TTP_PATH_OUT,    /* a file that is written (through a temporary name) */
    TTP_PATH_OUT_DIR /* a directory that is created if missing and filled */
} ttp_path_role;

typedef struct ttp_path_use {
    const char *path; /* NULL or "" entries are skipped                    */
    const char *what; /* how the caller named it, for messages: "--out"    */
    ttp_path_role role;
} ttp_path_use;

/*
 * Check n path uses together.  TTP_ERR_ARG naming both `what`s when an
 * output is the same file as an input or another output (compared by
 * device and inode when the file exists, else by the resolved directory and
 * name, so "a.nc" and "./a.nc" are one file); when an output file is an
 * existing directory or an output directory an existing file; TTP_ERR_IO
 * naming the path and the reason when an output's directory does not exist
 * or cannot be written.  Not collective (call it on every rank alike, or on
 * rank 0 and agree).
 */
ttp_status ttp_path_check(ttp_ctx *ctx, const ttp_path_use *uses, int n);

#ifdef __cplusplus
}
#endif
#endif /* TTP_PATH_H */
