/*
 * fuzz_kernel.c — libFuzzer target for the kernel reader (ttp_kernel_read): any
 * byte string, written to a file, is either read or refused with a message
 * naming the file; never a crash, a sanitizer report, a hang or a huge
 * allocation (libFuzzer's -malloc_limit_mb).
 */
#include "fuzz_common.h"
#include "ttp_kernel.h"

TTP_FUZZ_NC_READER(ttp_kernel, ttp_kernel_read, ttp_kernel_destroy)
