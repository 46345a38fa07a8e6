/*
 * fuzz_model.c — libFuzzer target for the model reader (ttp_model_read): any
 * byte string, written to a file, is either read or refused with a message
 * naming the file; never a crash, a sanitizer report, a hang or a huge
 * allocation (libFuzzer's -malloc_limit_mb).
 */
#include "fuzz_common.h"
#include "ttp_model.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!fuzz_is_classic(data, size)) return 0;
    const char *path = fuzz_write(data, size, ".nc");
    ttp_ctx ctx;
    ttp_ctx_init(&ctx);
    ttp_model *m = NULL;
    ttp_status st = ttp_model_read(&ctx, path, &m);
    ttp_model_destroy(&m);
    fuzz_check_refusal(&ctx, st, path);
    unlink(path);
    return 0;
}
