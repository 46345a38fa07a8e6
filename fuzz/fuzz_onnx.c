/*
 * fuzz_onnx.c — libFuzzer target for the ONNX reader (ttp_onnx_read): any
 * byte string, written to a file, is either read into a model or refused
 * with a message naming the file; never a crash, a sanitizer report, a hang
 * or a huge allocation.  Seeds: fuzz/seeds/onnx/ (small exports of the
 * shapes the reader accepts).
 */
#include "fuzz_common.h"
#include "ttp_onnx.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_write(data, size, ".onnx");
    ttp_ctx ctx;
    ttp_ctx_init(&ctx);
    ttp_model *m = NULL;
    ttp_status st = ttp_onnx_read(&ctx, path, &m);
    ttp_model_destroy(&m);
    fuzz_check_refusal(&ctx, st, path);
    unlink(path);
    return 0;
}
