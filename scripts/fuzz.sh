#!/usr/bin/env bash
# Builds the libFuzzer targets (fuzz/) with clang into ./build-fuzz and runs each for
# SECONDS (default 60):
#   fuzz_document    load_yaml_text + validate_document (linux, windows, darwin)
#   fuzz_expression  find_expressions, resolve_string, check_condition, evaluate_condition
# Seeds are taken at run time from tests/corpus/docs (and, for the expression target,
# the conditions and {{ }} strings found in those documents plus fuzz/seeds/expression).
# The working corpora stay in build-fuzz/corpus/ between local runs. A crash leaves its
# input in build-fuzz/crashes/<target>/ and fails the script; turn it into a doctest in
# tests/unit/ before fixing it.
#   scripts/fuzz.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-60}"

scripts/setup.sh
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
# clang 14 is Debian 12's default clang; libclang-rt-14-dev holds libFuzzer and the
# sanitizer runtimes.
missing=()
for p in clang libclang-rt-14-dev; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

if [ ! -f build-fuzz/CMakeCache.txt ]; then
  CC=clang CXX=clang++ cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DKILN_FUZZ=ON -DBUILD_TESTING=OFF
fi
# kiln too: the one clang build CI makes, so a clang-only error in the CLI shows here.
cmake --build build-fuzz -j "$(nproc)" --target fuzz_document fuzz_expression fuzz_seeds kiln

export ASAN_OPTIONS="halt_on_error=1:print_stacktrace=1:detect_leaks=1"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"

work="$PWD/build-fuzz"
mkdir -p "$work/corpus/fuzz_document" "$work/corpus/fuzz_expression" "$work/seeds/fuzz_document" "$work/seeds/fuzz_expression"
cp tests/corpus/docs/* "$work/seeds/fuzz_document/"
cp fuzz/seeds/expression/* "$work/seeds/fuzz_expression/"
"$work/fuzz/fuzz_seeds" "$work/seeds/fuzz_expression" tests/corpus/docs/* >/dev/null
chmod -R u+w "$work/seeds"

failed=0
summary=""
for target in fuzz_document fuzz_expression; do
  dict=fuzz/document.dict
  [ "$target" = fuzz_expression ] && dict=fuzz/expression.dict
  crashes="$work/crashes/$target"
  mkdir -p "$crashes"
  log="$work/$target.log"
  echo "fuzz: running $target for ${seconds}s"
  rc=0
  "$work/fuzz/$target" "$work/corpus/$target" "$work/seeds/$target" \
    -max_total_time="$seconds" -timeout=25 -rss_limit_mb=4096 -max_len=65536 \
    -dict="$dict" -artifact_prefix="$crashes/" -print_final_stats=1 >"$log" 2>&1 || rc=$?
  runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo "?")
  corpus=$(ls "$work/corpus/$target" | wc -l)
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*' || echo "?")
  line="$target: ${runs} executions in ${seconds}s, corpus ${corpus} inputs, coverage ${cov} edges"
  if [ "$rc" -ne 0 ]; then
    failed=1
    line="$line, FAILED (exit $rc): see $log and $crashes/"
    tail -60 "$log" >&2
  fi
  echo "fuzz: $line"
  summary+="$line"$'\n'
done
printf '\nfuzz summary:\n%s' "$summary"
exit "$failed"
