#!/usr/bin/env bash
# Builds the portable Release binary (cmake/portable.cmake) into ./build-package and makes
# the packages from it with CPack: a .deb, an .rpm and a portable .tar.gz
# (cmake/packaging.cmake, docs/packaging.md). Prints the package paths, one a line.
#   scripts/package.sh            # scripts/setup.sh --package installs what it needs
set -euo pipefail
cd "$(dirname "$0")/.."
# ccache keyed on paths relative to the checkout, so another clone reuses the cache.
export CCACHE_BASEDIR="${CCACHE_BASEDIR:-$PWD}" CCACHE_NOHASHDIR="${CCACHE_NOHASHDIR:-true}"
generator=()
command -v ninja >/dev/null && generator=(-G Ninja)
if [ ! -f build-package/CMakeCache.txt ]; then
  cmake -S . -B build-package "${generator[@]}" -DCMAKE_BUILD_TYPE=Release -DKILN_PORTABLE=ON \
    -DBUILD_TESTING=OFF >&2
fi
cmake --build build-package -j "$(nproc)" >&2
rm -f build-package/kiln[_-]*.deb build-package/kiln-*.rpm build-package/kiln-*.tar.gz
(cd build-package && cpack >&2)
ls -1 "$PWD"/build-package/kiln[_-]*.deb "$PWD"/build-package/kiln-*.rpm "$PWD"/build-package/kiln-*.tar.gz
