/*
 * fuzz_dataset.c — libFuzzer target for the dataset reader (ttp_data_read): any
 * byte string, written to a file, is either read or refused with a message
 * naming the file; never a crash, a sanitizer report, a hang or a huge
 * allocation (libFuzzer's -malloc_limit_mb).
 */
#include "fuzz_common.h"
#include "ttp_data.h"

TTP_FUZZ_NC_READER(ttp_data, ttp_data_read, ttp_data_destroy)
