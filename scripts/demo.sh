#!/usr/bin/env bash
# Fresh machine to a first run: installs dependencies, builds, runs examples/hello-world.yml.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh
mkdir -p build/demo-logs
echo "== kiln validate examples/hello-world.yml"
build/kiln validate --documents examples/hello-world.yml
echo "== kiln run examples/hello-world.yml (logs in build/demo-logs)"
build/kiln run --documents examples/hello-world.yml --log-directory build/demo-logs
