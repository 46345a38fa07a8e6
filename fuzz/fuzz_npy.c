/*
 * fuzz_npy.c — libFuzzer target for the .npy converter (ttp_data_from_npy):
 * the input is split at a point chosen by its first two bytes into a
 * features file and a labels file (an empty second part: no labels file).
 */
#include "fuzz_common.h"
#include "ttp_data.h"

TTP_FUZZ_PAIR_READER(ttp_data_from_npy, ".x.npy", ".y.npy")
