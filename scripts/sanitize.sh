#!/usr/bin/env bash
# Builds kiln with AddressSanitizer + UndefinedBehaviorSanitizer into ./build-asan and runs
# the whole test suite there. The e2e tests start build-asan/kiln, so the binary is
# sanitized too. Any finding fails the run: each finding stops its process (halt_on_error,
# -fno-sanitize-recover=all, abort_on_error: the process dies of SIGABRT, which no test
# mistakes for an ordinary exit code) and every report is also written under
# build-asan/sanitizer-logs/, which must be empty at the end; a report a test did not
# notice still fails the run.
#   scripts/sanitize.sh                 # all tests
#   scripts/sanitize.sh -R 'yaml'       # extra arguments go to ctest
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --tests
if [ ! -f build-asan/CMakeCache.txt ]; then
  cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DKILN_SANITIZE=ON
fi
cmake --build build-asan -j "$(nproc)"

logs="$PWD/build-asan/sanitizer-logs"
rm -rf "$logs"
mkdir -p "$logs"
common="halt_on_error=1:abort_on_error=1:print_stacktrace=1:disable_coredump=1"
export ASAN_OPTIONS="$common:detect_leaks=1:strict_string_checks=1:detect_stack_use_after_return=1:check_initialization_order=1:log_path=$logs/asan"
export UBSAN_OPTIONS="$common:print_summary=1:log_path=$logs/ubsan"
export LSAN_OPTIONS="print_suppressions=0"
# The power-cut test makes 300 cuts in the normal build (scripts/test.sh); here 100 are
# enough to run its code paths under the sanitizers and save CI two minutes.
export KILN_POWER_CUTS="${KILN_POWER_CUTS:-100}"

status=0
(cd build-asan && ctest --output-on-failure --timeout 900 -j "$(nproc)" "$@") || status=$?

if compgen -G "$logs/*" >/dev/null; then
  echo "sanitize: sanitizer reports:" >&2
  for f in "$logs"/*; do
    echo "==== $f" >&2
    cat "$f" >&2
  done
  status=1
fi
if [ "$status" -ne 0 ]; then
  echo "sanitize: FAILED" >&2
  exit "$status"
fi
grep -a "\[doctest\] test cases" build-asan/Testing/Temporary/LastTest.log || true
echo "sanitize: all tests passed under ASan+UBSan, no reports"
