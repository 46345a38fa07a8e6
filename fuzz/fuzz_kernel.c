/*
 * fuzz_kernel.c — libFuzzer target for the kernel reader (ttp_kernel_read): any
 * byte string, written to a file, is either read or refused with a message
 * naming the file; never a crash, a sanitizer report, a hang or a huge
 * allocation (libFuzzer's -malloc_limit_mb).
 */
#include "fuzz_common.h"
#include "ttp_kernel.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!fuzz_is_classic(data, size)) return 0;
    const char *path = fuzz_write(data, size, ".nc");
    ttp_ctx ctx;
    ttp_ctx_init(&ctx);
    ttp_kernel *k = NULL;
    ttp_status st = ttp_kernel_read(&ctx, path, &k);
    ttp_kernel_destroy(&k);
    fuzz_check_refusal(&ctx, st, path);
    unlink(path);
    return 0;
}
