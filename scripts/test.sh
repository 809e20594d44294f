#!/usr/bin/env bash
# Installs dependencies, builds, and runs every test (unit, end-to-end, corpus).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --tests
scripts/build.sh
cd build
ctest --output-on-failure
