#!/usr/bin/env bash
# Installs what kiln needs to build on Debian 12, from Debian's packages; with --tests,
# also the servers and referees the tests start (nginx, tinyproxy, botocore, awscli,
# s3rver) and the independent schema checker (node: ajv, yaml); with --package, what the
# portable build and the packages need (static libraries, help2man, rpm, debootstrap:
# scripts/package.sh, tests/packaging/run.sh). Idempotent; run as root (or with sudo available).
#   scripts/setup.sh [--tests] [--package]
set -euo pipefail
cd "$(dirname "$0")/.."
tests=false
package=false
for arg in "$@"; do
  case "$arg" in
    --tests) tests=true ;;
    --package) package=true ;;
    *) echo "setup: unknown option $arg (expected --tests, --package)" >&2; exit 2 ;;
  esac
done

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

packages=(
  build-essential cmake ninja-build ccache pkg-config git
  libyaml-cpp-dev libboost-dev libboost-program-options-dev libspdlog-dev nlohmann-json3-dev
  libssl-dev libre2-dev doctest-dev libarchive-dev libcurl4-openssl-dev strace
)
if $tests; then
  # test servers and referees (tests start them on loopback): nginx for ranges, tinyproxy,
  # python3-botocore to recompute SigV4 signatures, awscli to cross-check S3 transfers,
  # openssl for a self-signed certificate
  packages+=(nginx-light tinyproxy python3 python3-botocore awscli openssl)
  # kilnctl's tests: a private sshd on loopback, and Debian roots made by debootstrap (one
  # booted with systemd-nspawn, from systemd-container)
  packages+=(openssh-server openssh-client debootstrap systemd-container)
  # the Ansible role's test (ansible-core against the loopback sshd); the power-cut test's
  # filesystem (libfuse3, /dev/fuse as root)
  packages+=(ansible-core libfuse3-dev fuse3)
  # the image pipeline's test: umoci reads the OCI layout kilnctl writes, as a referee
  packages+=(umoci)
fi
if $package; then
  # the static libraries libarchive needs (pkg-config --static libarchive), help2man for the
  # man pages, rpm (rpmbuild) for CPack's .rpm, file and dpkg-dev for its .deb dependencies,
  # debootstrap for the test roots, man-db for `man -w`, curl and jq to fetch the Amazon Linux
  # 2023 image (tests/packaging/al2023.sh)
  packages+=(libzstd-dev liblz4-dev libacl1-dev nettle-dev liblzma-dev libbz2-dev zlib1g-dev libxml2-dev
             help2man rpm file dpkg-dev binutils debootstrap man-db curl jq)
fi
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
  # Debian starts the services it installs; the tests run their own on loopback, so the
  # system ones we just brought in are stopped again (one already there is left alone).
  if [ -d /run/systemd/system ]; then
    for pair in nginx-light:nginx tinyproxy:tinyproxy openssh-server:ssh; do
      case " ${missing[*]} " in
        *" ${pair%%:*} "*) $SUDO systemctl disable --now "${pair##*:}" >/dev/null 2>&1 || true ;;
      esac
    done
  fi
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
# s3rver (an S3-compatible server, npm) for the S3 tests, kept in a cache folder that
# survives checkouts: tests find it through KILN_S3RVER or this default.
s3rver_home="${KILN_TEST_CACHE:-/var/cache/kiln-test}/s3rver"
if $tests && [ ! -x "$s3rver_home/node_modules/.bin/s3rver" ]; then
  if ! command -v npm >/dev/null; then
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends nodejs npm
  fi
  $SUDO mkdir -p "$s3rver_home"
  (cd "$s3rver_home" && $SUDO npm install --no-audit --no-fund --loglevel=error s3rver@3.7.1 >/dev/null)
fi
# ajv and yaml (npm, pinned) for tests/tools/schema_check.js, which checks the bundled
# component schema with a validator independent of kiln (tests/e2e/schema_ajv_test.cpp;
# KILN_SCHEMA_CHECK overrides the folder). Reinstalled when a pinned version changes.
schema_check_home="${KILN_TEST_CACHE:-/var/cache/kiln-test}/schema-check"
schema_check_packages=(ajv@8.20.0 yaml@2.9.1)
schema_check_ready() {
  local spec
  for spec in "${schema_check_packages[@]}"; do
    grep -q "\"version\": \"${spec##*@}\"" "$schema_check_home/node_modules/${spec%@*}/package.json" 2>/dev/null ||
      return 1
  done
}
if [ "${1:-}" = "--tests" ] && ! schema_check_ready; then
  if ! command -v npm >/dev/null; then
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends nodejs npm
  fi
  $SUDO mkdir -p "$schema_check_home"
  (cd "$schema_check_home" &&
    $SUDO npm install --no-audit --no-fund --loglevel=error "${schema_check_packages[@]}" >/dev/null)
fi
echo "setup: dependencies ready"
