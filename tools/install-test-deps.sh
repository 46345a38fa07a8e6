#!/usr/bin/env bash
# Packages only the tests need, beyond tools/install-deps.sh (which the
# quickstart uses and keeps lean): clang, for the libFuzzer targets in fuzz/
# and the sanitizer build; python3-torch, python3-onnx and python3-numpy, with
# which tests/cli_onnx_torch.sh and tests/cli_onnx.sh build and export the
# networks the ONNX reader is checked against.  Called by tools/test.sh.
# Without root or a package mirror it says so and returns 0: the sanitizer
# stage then builds with gcc, and the fuzz and ONNX tests skip with the reason
# (exit 77).
set -u
SUDO=""
[ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1 && SUDO=sudo
install() { # install PKG... (quietly, updating the package lists once if needed)
    command -v apt-get >/dev/null 2>&1 || return 1
    $SUDO apt-get install -y --no-install-recommends "$@" >/dev/null 2>&1 ||
        { $SUDO apt-get update >/dev/null 2>&1 &&
          $SUDO apt-get install -y --no-install-recommends "$@" >/dev/null 2>&1; }
}
if ! command -v clang >/dev/null 2>&1; then
    if install clang; then echo "install-test-deps: installed clang"
    else echo "install-test-deps: could not install clang; the fuzz tests will skip"; fi
fi
if ! /usr/bin/python3 -c 'import torch, onnx, numpy' >/dev/null 2>&1; then
    if install python3-torch python3-onnx python3-numpy; then
        echo "install-test-deps: installed python3-torch python3-onnx python3-numpy"
    else
        echo "install-test-deps: could not install python3-torch/python3-onnx; the ONNX tests will skip"
    fi
fi
exit 0
