/*
 * fuzz_nc4.c — libFuzzer target for NetCDF-4 (HDF5) files against every
 * NetCDF reader: the first byte picks the reader (dataset, model, kernel),
 * the rest is the file, which must start with the HDF5 signature (other
 * inputs are the classic-family targets' work); an input that is itself a
 * NetCDF-4 file (the regression files tests/corpus/fuzz_nc4-*) goes to all
 * three readers.  Each input is either read
 * or refused with a message naming the file; never a crash, a sanitizer
 * report or a hang in ttpredict.  libhdf5 is not instrumented: where it
 * would crash on a damaged structure, ttp_nc_precheck's probe (a child
 * process) turns that into a refusal, which is what this target checks.
 */
#include "fuzz_common.h"
#include "ttp_data.h"
#include "ttp_kernel.h"
#include "ttp_model.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char sig[] = "\x89HDF\r\n\x1a\n";
    if (size >= 8 && memcmp(data, sig, 8) == 0) {
        for (uint8_t k = 0; k < 3; k++) {
            uint8_t *b = malloc(size + 1);
            if (b == NULL) return 0;
            b[0] = k;
            memcpy(b + 1, data, size);
            LLVMFuzzerTestOneInput(b, size + 1);
            free(b);
        }
        return 0;
    }
    if (size < 9 || memcmp(data + 1, sig, 8) != 0) return 0;
    const int kind = data[0] % 3;
    const char *path = fuzz_write(data + 1, size - 1, ".nc");
    ttp_ctx ctx;
    ttp_ctx_init(&ctx);
    ttp_status st;
    if (kind == 0) {
        ttp_data *d = NULL;
        st = ttp_data_read(&ctx, path, &d);
        ttp_data_destroy(&d);
    } else if (kind == 1) {
        ttp_model *m = NULL;
        st = ttp_model_read(&ctx, path, &m);
        ttp_model_destroy(&m);
    } else {
        ttp_kernel *k = NULL;
        st = ttp_kernel_read(&ctx, path, &k);
        ttp_kernel_destroy(&k);
    }
    fuzz_check_refusal(&ctx, st, path);
    unlink(path);
    return 0;
}
