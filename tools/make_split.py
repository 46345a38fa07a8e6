#!/usr/bin/python3
"""make_split.py — a second digits task with the pretraining split reversed,
for benchmarks/accuracy.sh (a held-out task for the validity diagnostics).

Reads data/digits.nc (made by tools/make_digits.py; read with `ncdump`, so
no Python NetCDF module is needed) and writes, like make_digits.py:

  pretrain-59.nc   every image of digits 5-9, labels 0..4, names "5".."9"
  finetune-04.nc   the first 150 images (file order) of each of digits 0..4,
                   N = 750, labels 0..4, names "0".."4"

usage: /usr/bin/python3 tools/make_split.py OUTDIR [DIGITS_NC]
"""

import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_digits  # noqa: E402


def read_nc(path):
    txt = subprocess.run(["ncdump", "-v", "inputs,labels", "-p", "17", path], check=True,
                         capture_output=True, text=True).stdout
    data = txt[txt.index("data:"):]
    inp = data[data.index("inputs ="):data.index(";", data.index("inputs ="))]
    lab = data[data.index("labels ="):data.index(";", data.index("labels ="))]
    px = [float(v) for v in re.findall(r"-?[0-9.eE+-]+", inp.split("=", 1)[1])]
    lb = [int(v) for v in re.findall(r"-?[0-9]+", lab.split("=", 1)[1])]
    if len(px) != 64 * len(lb):
        make_digits.fail("%s: %d pixel values for %d labels" % (path, len(px), len(lb)))
    rows = []
    for i, y in enumerate(lb):
        pix = [int(round(16 * v)) for v in px[64 * i:64 * (i + 1)]]
        rows.append((pix, y))
    return rows


def main(argv):
    if len(argv) < 2 or argv[1] in ("-h", "--help"):
        print(__doc__)
        return 0 if len(argv) > 1 else 2
    outdir = argv[1]
    src = argv[2] if len(argv) > 2 else os.path.join(
        os.path.dirname(os.path.abspath(__file__)), os.pardir, "data", "digits.nc")
    os.makedirs(outdir, exist_ok=True)
    rows = read_nc(src)
    T = make_digits.TITLE
    pre = [r for r in rows if r[1] >= 5]
    make_digits.write_dataset(os.path.join(outdir, "pretrain-59.nc"), pre, list(range(5, 10)),
                              T + ": digits 5-9 (pretraining task of the reversed split)",
                              "tools/make_split.py: every image of digits 5-9 in file order")
    taken = {c: 0 for c in range(5)}
    fine = []
    for r in rows:
        if r[1] <= 4 and taken[r[1]] < 150:
            taken[r[1]] += 1
            fine.append(r)
    make_digits.write_dataset(os.path.join(outdir, "finetune-04.nc"), fine, list(range(5)),
                              T + ": digits 0-4, 150 each (fine-tuning task of the reversed split)",
                              "tools/make_split.py: first 150 images (file order) of each of digits 0-4")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
