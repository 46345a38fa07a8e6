/*
 * path.c — checks on the files a command reads and writes (ttp_path.h).
 */
#include "ttp_path.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Identity of a path, whether or not the file exists yet: (device, inode)
 * of the file when it exists, else of its directory plus the last name. */
typedef struct {
    int exists, is_dir;
    dev_t dev;
    ino_t ino;
    dev_t dir_dev;
    ino_t dir_ino;
    const char *base;
    int dir_ok;
    int dir_errno;
    int dir_writable;
} path_id;

/* The directory part of `path` ("." when it has none) into buf. */
static void dir_of(const char *path, char *buf, size_t len, const char **base)
{
    const char *slash = strrchr(path, '/');
    if (slash == NULL) {
        snprintf(buf, len, ".");
        *base = path;
    } else if (slash == path) {
        snprintf(buf, len, "/");
        *base = slash + 1;
    } else {
        size_t n = (size_t)(slash - path);
        if (n >= len) n = len - 1;
        memcpy(buf, path, n);
        buf[n] = '\0';
        *base = slash + 1;
    }
}

static ttp_status identify(ttp_ctx *ctx, const char *path, path_id *id)
{
    struct stat sb;
    memset(id, 0, sizeof *id);
    if (stat(path, &sb) == 0) {
        id->exists = 1;
        id->is_dir = S_ISDIR(sb.st_mode);
        id->dev = sb.st_dev;
        id->ino = sb.st_ino;
    }
    size_t len = strlen(path) + 2;
    char *dir = malloc(len);
    if (dir == NULL) return TTP_ERR(ctx, TTP_ERR_NOMEM, "no memory for a path of %zu bytes", len);
    dir_of(path, dir, len, &id->base);
    if (stat(dir, &sb) == 0 && S_ISDIR(sb.st_mode)) {
        id->dir_ok = 1;
        id->dir_dev = sb.st_dev;
        id->dir_ino = sb.st_ino;
        id->dir_writable = access(dir, W_OK | X_OK) == 0;
        if (!id->dir_writable) id->dir_errno = errno;
    } else {
        id->dir_errno = errno ? errno : ENOTDIR;
    }
    free(dir);
    return TTP_OK;
}

static int same_file(const path_id *a, const path_id *b)
{
    if (a->exists && b->exists) return a->dev == b->dev && a->ino == b->ino;
    if (a->exists != b->exists) return 0;
    return a->dir_ok && b->dir_ok && a->dir_dev == b->dir_dev && a->dir_ino == b->dir_ino &&
           strcmp(a->base, b->base) == 0;
}

ttp_status ttp_path_check(ttp_ctx *ctx, const ttp_path_use *uses, int n)
{
    ttp_status st = TTP_OK;
    path_id *ids = NULL;
    if (n <= 0) return TTP_OK;
    TTP_ALLOC(ctx, st, done, ids, n, "path identities");
    for (int i = 0; i < n; i++) {
        const ttp_path_use *u = &uses[i];
        if (u->path == NULL || u->path[0] == '\0') continue;
        TTP_CALL_GOTO(ctx, st, done, identify(ctx, u->path, &ids[i]));
        const path_id *id = &ids[i];
        if (u->role == TTP_PATH_IN) continue;
        if (u->role == TTP_PATH_OUT && id->is_dir) {
            st = TTP_ERR(ctx, TTP_ERR_ARG, "%s '%s' is a directory: expected a file name", u->what, u->path);
            goto done;
        }
        if (u->role == TTP_PATH_OUT_DIR && id->exists && !id->is_dir) {
            st = TTP_ERR(ctx, TTP_ERR_ARG, "%s '%s' exists and is not a directory", u->what, u->path);
            goto done;
        }
        if (!id->dir_ok) {
            st = TTP_ERR(ctx, TTP_ERR_IO, "%s '%s': its directory does not exist (%s)", u->what, u->path,
                         strerror(id->dir_errno));
            goto done;
        }
        if (!id->dir_writable && !(u->role == TTP_PATH_OUT_DIR && id->exists)) {
            st = TTP_ERR(ctx, TTP_ERR_IO, "%s '%s': cannot create it there (%s)", u->what, u->path,
                         strerror(id->dir_errno));
            goto done;
        }
        if (u->role == TTP_PATH_OUT && id->exists && access(u->path, W_OK) != 0) {
            st = TTP_ERR(ctx, TTP_ERR_IO, "%s '%s' exists and cannot be replaced (%s)", u->what, u->path,
                         strerror(errno));
            goto done;
        }
    }
    /* Pairs: an output against every other use. */
    for (int i = 0; i < n; i++) {
        if (uses[i].path == NULL || uses[i].path[0] == '\0' || uses[i].role == TTP_PATH_IN) continue;
        for (int j = 0; j < n; j++) {
            if (j == i || uses[j].path == NULL || uses[j].path[0] == '\0') continue;
            if (uses[j].role != TTP_PATH_IN && j < i) continue; /* each output pair once */
            if (!same_file(&ids[i], &ids[j])) continue;
            if (uses[j].role == TTP_PATH_IN)
                st = TTP_ERR(ctx, TTP_ERR_ARG,
                             "%s '%s' is the same file as the input %s '%s': writing it would destroy "
                             "the input; choose another name",
                             uses[i].what, uses[i].path, uses[j].what, uses[j].path);
            else
                st = TTP_ERR(ctx, TTP_ERR_ARG,
                             "%s '%s' and %s '%s' are the same file: one output would replace the other",
                             uses[i].what, uses[i].path, uses[j].what, uses[j].path);
            goto done;
        }
    }
done:
    free(ids);
    return st;
}
