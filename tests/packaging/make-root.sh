#!/usr/bin/env bash
# Prints the path of a cached minimal Debian root tarball, making it first if missing:
#   tests/packaging/make-root.sh SUITE [PACKAGE,...]
# `debootstrap --variant=minbase SUITE` (plus --include=PACKAGE,... when given), packed as
# $KILN_TEST_CACHE/roots/SUITE[+PACKAGES].tar (default /var/cache/kiln-test). Making one
# takes 30-60 s and needs the network; later runs unpack the tarball, so every test starts
# from the same clean root. Concurrent callers wait on a lock; a failed attempt leaves
# nothing behind.
set -euo pipefail
suite="$1"
include="${2:-}"
roots="${KILN_TEST_CACHE:-/var/cache/kiln-test}/roots"
name="$suite${include:++${include//,/+}}"
tarball="$roots/$name.tar"
mkdir -p "$roots"
exec 9>"$roots/.lock"
flock 9
if [ ! -f "$tarball" ]; then
  tmp=$(mktemp -d "$roots/.make-$name.XXXXXX")
  trap 'rm -rf "$tmp"' EXIT
  args=(--variant=minbase)
  [ -n "$include" ] && args+=("--include=$include")
  if ! debootstrap "${args[@]}" "$suite" "$tmp/root" http://deb.debian.org/debian >"$tmp/log" 2>&1; then
    tail -20 "$tmp/log" >&2
    echo "make-root: debootstrap $suite failed" >&2
    exit 1
  fi
  # Downloaded .debs are not needed in the root.
  rm -f "$tmp"/root/var/cache/apt/archives/*.deb
  tar -C "$tmp/root" -cf "$tmp/root.tar" .
  mv "$tmp/root.tar" "$tarball"
fi
echo "$tarball"
