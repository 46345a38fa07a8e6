#!/usr/bin/env bash
# Packages only the tests need, beyond tools/install-deps.sh (which the
# quickstart uses and keeps lean): clang, for the libFuzzer targets in fuzz/
# and the sanitizer build.  Called by tools/test.sh.  Without root or a
# package mirror it says so and returns 0: the sanitizer stage then builds
# with gcc and the fuzz tests skip with the reason (exit 77).
set -u
if command -v clang >/dev/null 2>&1; then exit 0; fi
SUDO=""
[ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1 && SUDO=sudo
if command -v apt-get >/dev/null 2>&1 &&
    { $SUDO apt-get install -y --no-install-recommends clang >/dev/null 2>&1 ||
      { $SUDO apt-get update >/dev/null 2>&1 && $SUDO apt-get install -y --no-install-recommends clang >/dev/null 2>&1; }; }; then
    echo "install-test-deps: installed clang"
else
    echo "install-test-deps: could not install clang; the fuzz tests will skip"
fi
exit 0
