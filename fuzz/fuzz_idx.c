/*
 * fuzz_idx.c — libFuzzer target for the IDX converter (ttp_data_from_idx):
 * the input is split at a point chosen by its first two bytes into an
 * images file and a labels file (an empty second part: no labels file).
 */
#include "fuzz_common.h"
#include "ttp_data.h"

TTP_FUZZ_PAIR_READER(ttp_data_from_idx, ".img.idx", ".lab.idx")
