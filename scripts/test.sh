#!/usr/bin/env bash
# Installs dependencies, builds, and runs every test (unit, end-to-end, corpus), then the
# packaging test (tests/packaging/run.sh: the portable Release build, its .deb, .rpm and
# .tar.gz installed and run; outside CI it prints SKIPPED when a prerequisite is missing).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --tests --package
scripts/build.sh
(cd build && ctest --output-on-failure -j "$(nproc)")
tests/packaging/run.sh
