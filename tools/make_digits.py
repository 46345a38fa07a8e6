#!/usr/bin/python3
"""make_digits.py — build the bundled digits datasets in data/.

Reads the 8x8 handwritten-digits table that Debian's python3-sklearn ships
(sklearn/datasets/data/digits.csv.gz: 1797 rows, 64 pixel values 0..16, the
label in the last column) with nothing but the standard library, and writes
three ttpredict dataset files (the format of docs/formats/dataset.md):

  digits.nc          all 1797 images, labels 0..9, class names "0".."9"
  pretrain-data.nc   every image of digits 0-4, labels 0..4, names "0".."4"
  default-data.nc    the fine-tuning task: the first 150 images (file order)
                     of each of digits 5..9, N = 750, labels 0..4,
                     class names "5".."9"

Inputs are pixel/16 (values in [0, 1]) with per-sample shape
(channel, height, width) = (1, 8, 8).

The NetCDF files are made by writing CDL text and running `ncgen` (Debian
package netcdf-bin, already a build dependency), so no Python NetCDF module
is needed.  The output is deterministic: same input, same data and
attributes.

usage: /usr/bin/python3 tools/make_digits.py [DIGITS_CSV_GZ] [OUTDIR]
       (defaults: the python3-sklearn copy, and data/ beside this script)
"""

import csv
import gzip
import os
import subprocess
import sys
import tempfile

DEFAULT_CSV = "/usr/lib/python3/dist-packages/sklearn/datasets/data/digits.csv.gz"

TITLE = "8x8 handwritten digits"
SOURCE = ("UCI ML Optical Recognition of Handwritten Digits, test set copy as shipped "
          "by scikit-learn 1.2.1 (Debian python3-sklearn)")
LICENSE = ("UCI dataset: CC BY 4.0 (Alpaydin, E. & Kaynak, C., 1998, "
           "https://doi.org/10.24432/C50P49); the scikit-learn copy "
           "(sklearn/datasets/data/digits.csv.gz) is distributed under scikit-learn's "
           "BSD-3-Clause licence")
PER_CLASS_DEFAULT = 150


def fail(msg):
    sys.stderr.write("make_digits.py: error: %s\n" % msg)
    sys.exit(1)


def read_digits(path):
    """Rows of (64 pixel ints, label int), in file order, checked."""
    try:
        with gzip.open(path, "rt", newline="") as f:
            rows = []
            for lineno, row in enumerate(csv.reader(f), start=1):
                if len(row) != 65:
                    fail("%s line %d: %d columns, expected 65 (64 pixels + label)"
                         % (path, lineno, len(row)))
                try:
                    vals = [int(float(v)) for v in row]
                except ValueError:
                    fail("%s line %d: a value is not a number" % (path, lineno))
                pix, label = vals[:64], vals[64]
                if min(pix) < 0 or max(pix) > 16:
                    fail("%s line %d: pixel outside 0..16" % (path, lineno))
                if not 0 <= label <= 9:
                    fail("%s line %d: label %d outside 0..9" % (path, lineno, label))
                rows.append((pix, label))
    except OSError as e:
        fail("cannot read %s: %s" % (path, e))
    if not rows:
        fail("%s: no rows" % path)
    return rows


def cdl_string(s):
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def write_dataset(out, rows, classes, title, history):
    """rows: (pixels, original label); classes: original labels, in the order
    that makes them labels 0..K-1."""
    remap = {c: i for i, c in enumerate(classes)}
    n, k = len(rows), len(classes)
    lines = [
        "netcdf dataset {",
        "dimensions:",
        "\tsample = %d ;" % n,
        "\tchannel = 1 ;",
        "\theight = 8 ;",
        "\twidth = 8 ;",
        "\tclass = %d ;" % k,
        "variables:",
        "\tdouble inputs(sample, channel, height, width) ;",
        '\t\tinputs:long_name = "pixel intensity / 16" ;',
        "\t\tinputs:_DeflateLevel = 4 ;",
        '\t\tinputs:_Shuffle = "true" ;',
        "\tint labels(sample) ;",
        '\t\tlabels:long_name = "class index into class_names" ;',
        "",
        "// global attributes:",
        '\t\t:ttp_kind = "dataset" ;',
        "\t\t:class_names = %s ;" % cdl_string(";".join(str(c) for c in classes)),
        "\t\t:title = %s ;" % cdl_string(title),
        "\t\t:source = %s ;" % cdl_string(SOURCE),
        "\t\t:license = %s ;" % cdl_string(LICENSE),
        "\t\t:history = %s ;" % cdl_string(history),
        "data:",
        "",
        " inputs =",
    ]
    # k/16 is exact in binary, and repr() round-trips through ncgen's strtod.
    body = []
    for pix, _ in rows:
        body.append("  " + ", ".join(repr(v / 16.0) for v in pix))
    lines.append(",\n".join(body) + " ;")
    lines.append("")
    lines.append(" labels = " + ", ".join(str(remap[lab]) for _, lab in rows) + " ;")
    lines.append("}")

    tmpdir = tempfile.mkdtemp(prefix="make_digits.")
    cdl = os.path.join(tmpdir, "dataset.cdl")
    tmp_nc = out + ".tmp.%d" % os.getpid()
    try:
        with open(cdl, "w") as f:
            f.write("\n".join(lines) + "\n")
        try:
            subprocess.run(["ncgen", "-k", "nc4", "-o", tmp_nc, cdl], check=True)
        except FileNotFoundError:
            fail("ncgen not found (install the Debian package netcdf-bin)")
        except subprocess.CalledProcessError as e:
            fail("ncgen failed for %s (exit %d)" % (out, e.returncode))
        os.replace(tmp_nc, out)  # never leave a half-written file under the final name
    finally:
        if os.path.exists(tmp_nc):
            os.unlink(tmp_nc)
        os.unlink(cdl) if os.path.exists(cdl) else None
        os.rmdir(tmpdir)
    print("wrote %s: N=%d, shape (1,8,8), K=%d, class names %s"
          % (out, n, k, ";".join(str(c) for c in classes)))


def main(argv):
    if len(argv) > 1 and argv[1] in ("-h", "--help"):
        print(__doc__)
        return 0
    src = argv[1] if len(argv) > 1 else DEFAULT_CSV
    outdir = argv[2] if len(argv) > 2 else os.path.join(
        os.path.dirname(os.path.abspath(__file__)), os.pardir, "data")
    outdir = os.path.normpath(outdir)
    os.makedirs(outdir, exist_ok=True)
    rows = read_digits(src)
    cmd = "tools/make_digits.py %s" % src

    write_dataset(os.path.join(outdir, "digits.nc"), rows, list(range(10)),
                  TITLE + ": all classes",
                  "%s: all %d images, pixel/16" % (cmd, len(rows)))

    pre = [r for r in rows if r[1] <= 4]
    write_dataset(os.path.join(outdir, "pretrain-data.nc"), pre, list(range(5)),
                  TITLE + ": digits 0-4 (pretraining task)",
                  "%s: every image of digits 0-4 in file order, pixel/16" % cmd)

    taken = {c: 0 for c in range(5, 10)}
    fine = []
    for r in rows:
        if r[1] >= 5 and taken[r[1]] < PER_CLASS_DEFAULT:
            taken[r[1]] += 1
            fine.append(r)
    short = [c for c, t in taken.items() if t < PER_CLASS_DEFAULT]
    if short:
        fail("fewer than %d images of digit(s) %s" % (PER_CLASS_DEFAULT, short))
    write_dataset(os.path.join(outdir, "default-data.nc"), fine, list(range(5, 10)),
                  TITLE + ": digits 5-9, 150 each (default fine-tuning task)",
                  "%s: first %d images (file order) of each of digits 5-9, labels 0-4 = "
                  "digits 5-9, pixel/16" % (cmd, PER_CLASS_DEFAULT))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
