// labels: fuzz-corpus
/*
 * test_nc4_mutate.c — NetCDF-4 (HDF5) files damaged inside their HDF5
 * structures, against every reader (issue 14): a dataset, a model and a
 * kernel written as NetCDF-4 (all with checksums) and the bundled dataset
 * (NetCDF-4 without them) are mutated (bytes flipped anywhere, the
 * superblock and the object headers of the first 4 KiB overwritten, 8-byte
 * address fields set to huge values, blocks zeroed, the file cut short) by
 * a fixed-seed generator, and each case is read by ttp_data_read,
 * ttp_model_read or ttp_kernel_read in a child process under a time limit.
 * First, two fixed cases of the HDF5 superblock check: a kernel cut in half
 * is "truncated", one with superblock version 7 is named as such.
 * Each case ends as one of
 *   read     the reader accepted it (the mutation changed nothing the
 *            checksums cover: HDF5 padding, free space, unused fields)
 *   refused  a clean error whose message names the file
 *   crash    the child died of a signal (libhdf5 or ttpredict)
 *   hang     the child ran past TTP_MUTATE_SECONDS (default 30 s: longer
 *            than the probe's own limit, TTP_NC_PROBE_SECONDS)
 *   silent   status != OK without a message naming the file
 * and the test fails on any crash, hang or silent refusal.  TTP_MUTATE_CASES
 * (default 300 per seed file) sets the number; the counts are printed.
 * TTP_MUTATE_KEEP_PROBE=1 keeps the files the probe refused (libhdf5
 * crashed or looped on them) in the temporary directory.
 * Where libhdf5 itself would crash or hang on a file, the readers' defence
 * (ttp_nc_precheck: the HDF5 superblock checked, then the file's metadata
 * walked in a child process) must turn it into a refusal.
 */
#include <netcdf.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ttp_data.h"
#include "ttp_kernel.h"
#include "ttp_model.h"
#include "ttp_test.h"

static char dir[256];

static const char *in_dir(const char *name)
{
    static char buf[4][512];
    static int slot = 0;
    slot = (slot + 1) % 4;
    snprintf(buf[slot], sizeof buf[slot], "%s/%s", dir, name);
    return buf[slot];
}

enum { KIND_DATA, KIND_MODEL, KIND_KERNEL };
enum { R_READ, R_REFUSED, R_CRASH, R_HANG, R_SILENT, R_N };
static const char *rname[R_N] = {"read", "refused", "crash", "hang", "silent"};

/* Read `path` as `kind` in this process: 0 read, 1 refused naming the file,
 * 2 refused without naming it. */
static int read_one(int kind, const char *path)
{
    ttp_ctx ctx;
    ttp_ctx_init(&ctx);
    ttp_status st;
    if (kind == KIND_DATA) {
        ttp_data *d = NULL;
        st = ttp_data_read(&ctx, path, &d);
        ttp_data_destroy(&d);
    } else if (kind == KIND_MODEL) {
        ttp_model *m = NULL;
        st = ttp_model_read(&ctx, path, &m);
        ttp_model_destroy(&m);
    } else {
        ttp_kernel *k = NULL;
        st = ttp_kernel_read(&ctx, path, &k);
        ttp_kernel_destroy(&k);
    }
    if (st == TTP_OK) return 0;
    if (strstr(ctx.msg, path) == NULL) {
        fprintf(stderr, "  silent: %s\n", ctx.msg);
        return 2;
    }
    fprintf(stderr, "%s\n", ctx.msg); /* the parent counts the probe's refusals */
    return 1;
}

/* The case in a child, under a time limit and a 4 GiB address-space limit. */
static int run_case(int kind, const char *path, unsigned secs, char *why, size_t cap)
{
    int fd[2];
    why[0] = '\0';
    if (pipe(fd) != 0) return R_CRASH;
    fflush(NULL);
    const pid_t pid = fork();
    if (pid == 0) {
        close(fd[0]);
        dup2(fd[1], 2);
        alarm(secs);
        /* a 4 GiB address space, unless the process already maps more (a
         * sanitizer's shadow memory: there the limit would fail every
         * allocation) */
        long pages = 0;
        FILE *sm = fopen("/proc/self/statm", "r");
        if (sm) {
            if (fscanf(sm, "%ld", &pages) != 1) pages = 0;
            fclose(sm);
        }
        if ((double)pages * (double)sysconf(_SC_PAGESIZE) < (double)((int64_t)1 << 30)) {
            struct rlimit rl = {(rlim_t)4 << 30, (rlim_t)4 << 30};
            setrlimit(RLIMIT_AS, &rl);
        }
        _exit(read_one(kind, path));
    }
    close(fd[1]);
    ssize_t got = read(fd[0], why, cap - 1);
    while (got > 0 && (size_t)got < cap - 1) {
        const ssize_t more = read(fd[0], why + got, cap - 1 - (size_t)got);
        if (more <= 0) break;
        got += more;
    }
    why[got > 0 ? got : 0] = '\0';
    char sink[256];
    while (read(fd[0], sink, sizeof sink) > 0) {
    }
    close(fd[0]);
    int status = 0;
    if (pid < 0 || waitpid(pid, &status, 0) != pid) return R_CRASH;
    if (WIFSIGNALED(status)) return WTERMSIG(status) == SIGALRM ? R_HANG : R_CRASH;
    switch (WEXITSTATUS(status)) {
    case 0: return R_READ;
    case 1: return R_REFUSED;
    default: return R_SILENT;
    }
}

static uint64_t rng_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* One mutation of buf (len bytes) in place; the new length. */
static size_t mutate(unsigned char *buf, size_t len, uint64_t *s)
{
    const unsigned what = (unsigned)(rng_next(s) % 6);
    const size_t head = len < 4096 ? len : 4096;
    switch (what) {
    case 0: /* 1–8 random bytes anywhere */
    case 1: {
        const int n = 1 + (int)(rng_next(s) % 8);
        for (int i = 0; i < n; i++) buf[rng_next(s) % len] ^= (unsigned char)(1 + rng_next(s) % 255);
        break;
    }
    case 2: { /* the superblock and the first object headers */
        const int n = 1 + (int)(rng_next(s) % 4);
        for (int i = 0; i < n; i++) buf[rng_next(s) % head] = (unsigned char)rng_next(s);
        break;
    }
    case 3: { /* an 8-byte field (an address or a length) set huge */
        const size_t at = rng_next(s) % (len - 8);
        const uint64_t v =
            (rng_next(s) & 1) ? UINT64_MAX - (rng_next(s) % 16) : (uint64_t)1 << (20 + rng_next(s) % 40);
        memcpy(buf + at, &v, 8);
        break;
    }
    case 4: { /* a zeroed block */
        const size_t at = rng_next(s) % len, n = 1 + rng_next(s) % 256;
        memset(buf + at, 0, n < len - at ? n : len - at);
        break;
    }
    default: /* cut short */ return 1 + rng_next(s) % (len - 1);
    }
    return len;
}

static unsigned char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) return NULL;
    struct stat sb;
    fstat(fileno(f), &sb);
    unsigned char *b = malloc((size_t)sb.st_size);
    *len = b ? fread(b, 1, (size_t)sb.st_size, f) : 0;
    fclose(f);
    return b;
}

/* The seed files: a dataset and a kernel as ttpredict writes them
 * (NetCDF-4, checksums), the bundled dataset (NetCDF-4 without checksums)
 * and the bundled model rewritten by ttpredict and copied to NetCDF-4
 * (nccopy keeps the checksum attributes). */
static int make_seeds(const char *datadir, const char **paths, int *kinds)
{
    ttp_ctx ctx;
    ttp_ctx_init(&ctx);
    ttp_data *d = NULL, *small = NULL;
    ttp_kernel *k = NULL;
    char src[1024];
    int n = 0;
    snprintf(src, sizeof src, "%s/default-data.nc", datadir);
    CHECK(ttp_data_read(&ctx, src, &d) == TTP_OK);
    CHECK(d && ttp_data_take(&ctx, d, 12, &small) == TTP_OK);
    if (small && ttp_data_write(&ctx, in_dir("data.nc"), small) == TTP_OK)
        paths[n] = strdup(in_dir("data.nc")), kinds[n++] = KIND_DATA;
    paths[n] = strdup(src), kinds[n++] = KIND_DATA;
    ttp_data_destroy(&d);
    ttp_data_destroy(&small);

    CHECK(ttp_kernel_create(&ctx, &k) == TTP_OK);
    if (k) {
        static double f0[8] = {0.1, -0.2, 0.3, 0.4, 0.5, -0.6, 0.7, 0.8}, u0[8] = {0};
        static int lab[4] = {0, 1, 1, 0};
        static double ev[2] = {2, 1}, pr[2] = {0.5, -0.5}, pg[2] = {0.1, 0.2}, vec[16], th[64];
        for (int i = 0; i < 16; i++) vec[i] = (i % 3) * 0.25;
        for (int i = 0; i < 64; i++) th[i] = i % 9 == 0 ? 1.0 : 0.0;
        k->n = 4, k->c = 2, k->d = 10, k->dproj = 10, k->proj = TTP_PROJ_EXACT, k->seed = 1;
        k->neig = 2, k->trace = 8, k->res_energy = 1, k->grad_energy = 1;
        k->f0 = f0, k->u0 = u0, k->labels = lab, k->eigval = ev, k->p_res = pr, k->p_grad = pg;
        k->eigvec = vec, k->theta = th;
        if (ttp_kernel_write(&ctx, in_dir("kernel.nc"), k) == TTP_OK)
            paths[n] = strdup(in_dir("kernel.nc")), kinds[n++] = KIND_KERNEL;
        k->f0 = k->u0 = k->eigval = k->p_res = k->p_grad = k->eigvec = k->theta = NULL;
        k->labels = NULL;
        ttp_kernel_destroy(&k);
    }
    /* the bundled model as ttpredict writes it (64-bit offset, checksums), then copied to NetCDF-4 */
    ttp_model *m = NULL;
    snprintf(src, sizeof src, "%s/default-model.nc", datadir);
    CHECK(ttp_model_read(&ctx, src, &m) == TTP_OK);
    CHECK(m && ttp_model_write(&ctx, in_dir("model64.nc"), m) == TTP_OK);
    ttp_model_destroy(&m);
    char cmd[2600];
    snprintf(cmd, sizeof cmd, "nccopy -k nc4 '%s' '%s' 2>/dev/null", in_dir("model64.nc"),
             in_dir("model.nc"));
    if (system(cmd) == 0) paths[n] = strdup(in_dir("model.nc")), kinds[n++] = KIND_MODEL;
    if (ctx.msg[0]) fprintf(stderr, "seed: %s\n", ctx.msg);
    /* every seed must be read as it is */
    for (int i = 0; i < n; i++) CHECK(read_one(kinds[i], paths[i]) == 0);
    return n;
}

int main(void)
{
    const char *datadir = getenv("TTP_DATA_DIR") ? getenv("TTP_DATA_DIR") : "data";
    const char *ev = getenv("TTP_MUTATE_CASES");
    const int per = ev ? atoi(ev) : 300;
    const unsigned secs = getenv("TTP_MUTATE_SECONDS") ? (unsigned)atoi(getenv("TTP_MUTATE_SECONDS")) : 30;
    snprintf(dir, sizeof dir, "/tmp/ttp_mutate.XXXXXX");
    if (mkdtemp(dir) == NULL) return 1;
    const char *paths[8];
    int kinds[8];
    const int nseed = make_seeds(datadir, paths, kinds);
    CHECK(nseed >= 3);
    /* the superblock check: a cut file is "truncated", a superblock of
     * another version is named, before libhdf5 sees either */
    for (int s = 0; s < nseed; s++) {
        if (kinds[s] != KIND_KERNEL) continue;
        size_t len = 0;
        unsigned char *b = slurp(paths[s], &len);
        ttp_ctx ctx;
        ttp_ctx_init(&ctx);
        ttp_kernel *k = NULL;
        FILE *f = fopen(in_dir("cut.nc"), "wb");
        if (b && f) fwrite(b, 1, len / 2, f);
        if (f) fclose(f);
        CHECK_FAILS(&ctx, ttp_kernel_read(&ctx, in_dir("cut.nc"), &k), TTP_ERR_FORMAT,
                    "is truncated or damaged");
        if (b && len > 8) b[8] = 7; /* superblock version 7 */
        f = fopen(in_dir("ver.nc"), "wb");
        if (b && f) fwrite(b, 1, len, f);
        if (f) fclose(f);
        CHECK_FAILS(&ctx, ttp_kernel_read(&ctx, in_dir("ver.nc"), &k), TTP_ERR_FORMAT,
                    "the HDF5 superblock has version 7");
        ttp_kernel_destroy(&k);
        free(b);
    }
    int total[R_N] = {0}, tprobe[2] = {0, 0};
    for (int s = 0; s < nseed; s++) {
        size_t len = 0;
        unsigned char *orig = slurp(paths[s], &len), *buf = malloc(len ? len : 1);
        int cnt[R_N] = {0}, probe[2] = {0, 0};
        uint64_t rng = 0x6e6334ULL * (uint64_t)(s + 1);
        for (int c = 0; orig && buf && len > 16 && c < per; c++) {
            memcpy(buf, orig, len);
            size_t n = mutate(buf, len, &rng);
            if (rng_next(&rng) % 4 == 0) n = mutate(buf, n, &rng); /* sometimes two */
            const char *mp = in_dir("case.nc");
            FILE *f = fopen(mp, "wb");
            if (f == NULL) break;
            fwrite(buf, 1, n, f);
            fclose(f);
            char why[2048];
            const int r = run_case(kinds[s], mp, secs, why, sizeof why);
            cnt[r]++;
            /* refusals where libhdf5 itself crashed or looped in the probe */
            if (r == R_REFUSED && strstr(why, "HDF5 library crashes")) probe[0]++;
            if (r == R_REFUSED && strstr(why, "HDF5 library did not finish")) probe[1]++;
            const int keep_probe = getenv("TTP_MUTATE_KEEP_PROBE") != NULL && strstr(why, "HDF5 library");
            if (r >= R_CRASH || keep_probe) {
                char keep[64];
                snprintf(keep, sizeof keep, "keep-%d-%d.nc", s, c);
                rename(mp, in_dir(keep));
                fprintf(stderr, "%s: seed %s case %d: %s (kept %s)\n%.600s\n",
                        r >= R_CRASH ? "FAIL" : "probe", paths[s], c, rname[r], in_dir(keep), why);
            }
            remove(mp);
        }
        printf("%-40s %d cases:", strrchr(paths[s], '/') ? strrchr(paths[s], '/') + 1 : paths[s], per);
        for (int r = 0; r < R_N; r++) printf(" %s %d", rname[r], cnt[r]), total[r] += cnt[r];
        printf(" (refused by the probe: libhdf5 crashed %d, looped %d)\n", probe[0], probe[1]);
        tprobe[0] += probe[0], tprobe[1] += probe[1];
        free(orig);
        free(buf);
    }
    printf("all %d cases:", per * nseed);
    for (int r = 0; r < R_N; r++) printf(" %s %d", rname[r], total[r]);
    printf(" (refused by the probe: libhdf5 crashed %d, looped %d)\n", tprobe[0], tprobe[1]);
    ttp_test_checks++;
    if (total[R_CRASH] + total[R_HANG] + total[R_SILENT] > 0) ttp_test_failures++;
    char cmd[600];
    if (total[R_CRASH] + total[R_HANG] + total[R_SILENT] == 0 && getenv("TTP_MUTATE_KEEP_PROBE") == NULL) {
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
        if (system(cmd) != 0) fprintf(stderr, "cannot remove %s\n", dir);
    }
    return ttp_test_end("test_nc4_mutate");
}
