/*
 * fuzz_csv.c — libFuzzer target for the CSV converter (ttp_data_from_csv):
 * the first byte picks the label column (none, 1..3), the header mode
 * (auto, no, yes) and whether column 1 is dropped; the rest is the file.
 */
#include "fuzz_common.h"
#include "ttp_data.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    const int label_col = data[0] % 4; /* 0: no labels */
    const char *path = fuzz_write(data + 1, size - 1, ".csv");
    ttp_ctx ctx;
    ttp_ctx_init(&ctx);
    ttp_data *d = NULL;
    const int drop[1] = {0};
    ttp_csv_opts o = {label_col - 1, NULL, drop, (data[0] >> 4) & 1, (data[0] >> 2) % 3 - 1};
    ttp_status st = ttp_data_from_csv_opts(&ctx, path, &o, &d);
    ttp_data_destroy(&d);
    fuzz_check_refusal(&ctx, st, path);
    unlink(path);
    return 0;
}
