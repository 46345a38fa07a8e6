/*
 * fuzz_npy.c — libFuzzer target for the .npy converter (ttp_data_from_npy):
 * the input is split at a point chosen by its first two bytes into a
 * features file and a labels file (an empty second part: no labels file).
 */
#include "fuzz_common.h"
#include "ttp_data.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2) return 0;
    size_t cut = ((size_t)data[0] << 8 | data[1]);
    data += 2, size -= 2;
    if (cut > size) cut = size;
    char x[300], y[300];
    snprintf(x, sizeof x, "%s", fuzz_write(data, cut, ".x.npy"));
    snprintf(y, sizeof y, "%s", fuzz_write(data + cut, size - cut, ".y.npy"));
    ttp_ctx ctx;
    ttp_ctx_init(&ctx);
    ttp_data *d = NULL;
    ttp_status st = ttp_data_from_npy(&ctx, x, size > cut ? y : NULL, &d);
    ttp_data_destroy(&d);
    if (st != TTP_OK && ctx.msg[0] == '\0') abort();
    unlink(x);
    unlink(y);
    return 0;
}
