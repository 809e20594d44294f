#!/usr/bin/env bash
# Installs what kiln needs to build and test on Debian 12, from Debian's packages.
# Idempotent; run as root (or with sudo available).
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

packages=(
  build-essential cmake ninja-build ccache pkg-config git
  libyaml-cpp-dev libboost-dev libboost-program-options-dev libspdlog-dev nlohmann-json3-dev
  libssl-dev libre2-dev doctest-dev libarchive-dev strace
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# valijson: Debian's libvalijson-dev hard-depends on ~210 MiB of Qt/Poco/... for adapters
# kiln does not use. It is header-only, so take just its files from the same package.
if [ ! -f third_party/valijson/usr/include/valijson/validator.hpp ]; then
  tmp=$(mktemp -d)
  (cd "$tmp" && apt-get download libvalijson-dev >/dev/null 2>&1) || {
    $SUDO apt-get update -q && (cd "$tmp" && apt-get download libvalijson-dev)
  }
  dpkg -x "$tmp"/libvalijson-dev_*.deb third_party/valijson
  rm -rf "$tmp"
fi
echo "setup: dependencies ready"
