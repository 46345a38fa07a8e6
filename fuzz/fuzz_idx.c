/*
 * fuzz_idx.c — libFuzzer target for the IDX converter (ttp_data_from_idx):
 * the input is split at a point chosen by its first two bytes into an
 * images file and a labels file (an empty second part: no labels file).
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
    char images[300], labels[300];
    snprintf(images, sizeof images, "%s", fuzz_write(data, cut, ".img.idx"));
    snprintf(labels, sizeof labels, "%s", fuzz_write(data + cut, size - cut, ".lab.idx"));
    ttp_ctx ctx;
    ttp_ctx_init(&ctx);
    ttp_data *d = NULL;
    ttp_status st = ttp_data_from_idx(&ctx, images, size > cut ? labels : NULL, &d);
    ttp_data_destroy(&d);
    if (st != TTP_OK && ctx.msg[0] == '\0') abort();
    unlink(images);
    unlink(labels);
    return 0;
}
