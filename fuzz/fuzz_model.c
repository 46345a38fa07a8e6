/*
 * fuzz_model.c — libFuzzer target for the model reader (ttp_model_read): any
 * byte string, written to a file, is either read or refused with a message
 * naming the file; never a crash, a sanitizer report, a hang or a huge
 * allocation (libFuzzer's -malloc_limit_mb).
 */
#include "fuzz_common.h"
#include "ttp_model.h"

TTP_FUZZ_NC_READER(ttp_model, ttp_model_read, ttp_model_destroy)
