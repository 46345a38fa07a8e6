/*
 * ttp_nc.h — private helpers for the modules that read and write NetCDF:
 * the checked-call macro specialised with nc_strerror, text attributes,
 * and files written under a temporary name (src/core/nc.c).
 */
#ifndef TTP_NC_H
#define TTP_NC_H

#include <netcdf.h>

#include "ttp_core.h"

/* Check a NetCDF call; on failure record TTP_ERR_NETCDF with NetCDF's text
 * and the printf-style description of what was being done (name the file
 * and the variable). */
#define TTP_NC(ctx, st, label, expr, ...)                                                                    \
    TTP_CHECK_GEN(ctx, st, label, expr, NC_NOERR, nc_strerror, TTP_ERR_NETCDF, __VA_ARGS__)

/* Write text attribute `name` = val (strlen(val) characters, no NUL) on
 * variable var of the open file nc (NC_GLOBAL: the file's own); on failure
 * TTP_ERR_NETCDF naming the attribute and `path`.  Not collective. */
ttp_status ttp_nc_put_text(ttp_ctx *ctx, int nc, int var, const char *name, const char *val,
                           const char *path);

/* Read text attribute `name` of variable var into a new NUL-terminated
 * string (*out; the caller frees it), or *out = NULL and TTP_OK when the
 * attribute is absent.  NC_CHAR or a scalar NC_STRING; any other type is
 * TTP_ERR_FORMAT naming the attribute and `path`.  ctx may be NULL when
 * the caller ignores failures (no message is recorded).  Not collective. */
ttp_status ttp_nc_get_text(ttp_ctx *ctx, int nc, int var, const char *name, const char *path, char **out);

/*
 * A NetCDF file being written: created under a temporary name beside its
 * destination (ttp_tmpname) and renamed into place only when complete
 * (ttp_commit_file), so that a failed or interrupted write never leaves a
 * partial file where a reader expects a whole one.  Every writer (dataset,
 * model, kernel, training curves, prediction) goes through it:
 *     ttp_nc_out f = TTP_NC_OUT_INIT;
 *     TTP_CALL_GOTO(ctx, st, fail, ttp_nc_out_create(ctx, &f, path, NC_NETCDF4 | NC_CLOBBER));
 *     ... define and write through f.id ...
 *     TTP_CALL_GOTO(ctx, st, fail, ttp_nc_out_commit(ctx, &f));
 *   fail:
 *     ttp_nc_out_discard(&f);
 * Not collective: one rank writes.
 */
typedef struct ttp_nc_out {
    int id;           /* NetCDF id while open, else -1 */
    int created;      /* tmp exists on disk            */
    const char *path; /* destination (borrowed)        */
    char *tmp;        /* the temporary name (owned)    */
} ttp_nc_out;
// clang-format off
#define TTP_NC_OUT_INIT {-1, 0, NULL, NULL}
// clang-format on

/* Create f->tmp for `path` with nc_create's `mode`; f->id is the open file.
 * TTP_ERR_NETCDF naming the file on failure. */
ttp_status ttp_nc_out_create(ttp_ctx *ctx, ttp_nc_out *f, const char *path, int mode);
/* Close the file and rename it to its destination; TTP_ERR_NETCDF or
 * TTP_ERR_IO on failure (then ttp_nc_out_discard removes it). */
ttp_status ttp_nc_out_commit(ttp_ctx *ctx, ttp_nc_out *f);
/* After a failure: abandon the open file and remove the temporary one.
 * Nothing to do after a commit or before a create. */
void ttp_nc_out_discard(ttp_nc_out *f);

/*
 * Content checksums.  Every file ttpredict writes carries, on each variable,
 * the text attribute "ttp_checksum" = 16 hex digits of a 64-bit hash of the
 * variable's values in their NetCDF type (ttp_nc_out_commit adds them), so
 * that a truncated file or a flipped byte is an error naming the file and
 * the variable rather than zeros or wrong numbers.
 *
 * ttp_nc_verify checks an open file before a reader trusts it: every
 * variable that has a checksum is read and hashed (a wrong one is
 * TTP_ERR_FORMAT "variable 'x' is corrupted"); a variable without one
 * (files written by other tools, or by ttpredict before checksums) is
 * counted in *unchecked (may be NULL).  For classic and 64-bit-offset files
 * the file's size is also checked against what the header implies (header
 * plus every variable's data), since the NetCDF library reads the missing
 * tail of a truncated classic file as zeros.  Not collective.
 */
ttp_status ttp_nc_verify(ttp_ctx *ctx, int nc, const char *path, int *unchecked);
#define TTP_NC_CHECKSUM_ATT "ttp_checksum"

/*
 * Attribute checksums.  The attributes change results as much as the
 * values do (a kernel's projection, seed and sizes, a model's input shape
 * and number of outputs, a dataset's class names and standardization, a
 * layer variable's attributes): every file ttpredict writes also carries
 * "ttp_att_checksum" = 16 hex digits of a hash of the file's global
 * attributes (on NC_GLOBAL) and of each variable's attributes (on that
 * variable), names, types and values in order, less the two checksum
 * attributes.  ttp_nc_verify_atts checks them (ttp_nc_verify does too,
 * first); a reader calls it right after nc_open so that an altered
 * attribute is TTP_ERR_FORMAT "the attributes of variable 'x' (or of the
 * file) are corrupted" before any of them is trusted.  Files without the
 * attribute (written before attribute checksums, or by another tool) are
 * read as before: only their variables' values are checked.  Not
 * collective.
 */
ttp_status ttp_nc_verify_atts(ttp_ctx *ctx, int nc, const char *path);
#define TTP_NC_ATT_CHECKSUM_ATT "ttp_att_checksum"

/*
 * Before nc_open on an untrusted file: for the classic family (classic,
 * 64-bit offset, CDF5) walk the header and check every count and length it
 * holds against the bytes that remain, so that a damaged header is an error
 * naming the file and the byte instead of the multi-gigabyte allocation
 * NetCDF's own parser would make for a name length of 2^31 (found by
 * fuzz_model).
 *
 * For NetCDF-4 (HDF5) files: the superblock is checked (version, size of
 * addresses, end of file and root group against the file's size: a cut
 * file is "truncated"), then the file is probed in a child process
 * (fork): nc_open, every group's and variable's metadata and attributes
 * read, and the variables' values (up to TTP_NC_PROBE_DATA bytes of them, in
 * a file of at most that size), under a limit of TTP_NC_PROBE_SECONDS (plus a
 * second per 16 MiB of values read).  A probe
 * that crashes (libhdf5 on a damaged B-tree, heap or object header), runs
 * out of time (a loop in a damaged structure) or meets a NetCDF error is
 * TTP_ERR_FORMAT naming the file, and the caller never opens it.  Not
 * defended: damage that corrupts libhdf5's memory in the probe without
 * crashing it there (a sanitizer build crashes on it), and damage in the
 * chunk index or data of values the probe did not read (a file larger than
 * TTP_NC_PROBE_DATA, or variables past its budget) that crashes libhdf5
 * only when the reader reads them; a valid file whose metadata takes
 * longer than the limit to read (refused as looping).  Other files pass
 * unchanged.  Not collective (the caller's rank forks one short-lived
 * child, which calls no MPI, CUDA or exit handler).  The environment
 * variable TTP_NC4_PROBE=off skips the child (the superblock check stays),
 * for MPI transports that do not tolerate fork().
 */
#define TTP_NC_PROBE_SECONDS 10 /* + 1 s per 16 MiB of values read */
#define TTP_NC_PROBE_DATA ((int64_t)256 << 20)
ttp_status ttp_nc_precheck(ttp_ctx *ctx, const char *path);

#endif /* TTP_NC_H */
