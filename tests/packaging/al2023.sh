#!/usr/bin/env bash
# The .rpm and the tarball on a real Amazon Linux 2023 root (docs/packaging.md), no docker:
#   tests/packaging/al2023.sh RPM TARBALL
# called by tests/packaging/run.sh (step 6, when KILN_TEST_AL2023=1) or by hand.
#   0. the root: the official image public.ecr.aws/amazonlinux/amazonlinux:2023, fetched
#      with curl through the OCI distribution API (anonymous token, manifest list, the
#      linux/amd64 manifest, its single layer), the layer's sha256 checked, cached as
#      $KILN_TEST_CACHE/roots/al2023-<digest>.tar.gz (default /var/cache/kiln-test) and
#      reused while its digest matches. KILN_AL2023_LAYER=FILE uses a layer tarball
#      fetched elsewhere instead (its digest is checked against the pin all the same).
#   1. in a chroot of that root: dnf install ./kiln-*.rpm (dnf resolves libcurl.so.4,
#      libcrypto.so.3, libacl, nettle from AL2023's repositories), kiln --version, awstoe
#      validate and kiln run of the installed example, man pages, completion and schemas
#      from rpm -ql, dnf remove: nothing of rpm -ql left;
#   2. in a fresh copy of the root: the tarball unpacked to an arbitrary folder, ldd,
#      validate, run;
#   and prints the root's libcurl package and whether its libcurl.so.4 has symbol versions.
# dnf's downloads are kept in $KILN_TEST_CACHE/dnf/al2023 (a warm run downloads only
# metadata). Needs root, curl, jq, sha256sum, readelf, chroot and the network; a missing
# prerequisite or a failed fetch prints "SKIPPED: reason", in CI (CI=true) it fails.
#
# LAYER_DIGEST pins the layer used (the linux/amd64 layer of the 2023 tag when it was
# pinned). Empty means not pinned yet: the script then resolves the tag, uses what it
# finds, and prints the digest to pin.
set -euo pipefail
LAYER_DIGEST=""
IMAGE=amazonlinux/amazonlinux
TAG=2023
REGISTRY=https://public.ecr.aws

rpm="$(realpath "$1")"
tgz="$(realpath "$2")"
here="$(cd "$(dirname "$0")" && pwd)"
example="$here/../../examples/hello-world.yml"

TEST_NAME="al2023 test" STEP_NAME=al2023
# shellcheck source=tests/packaging/lib.sh
. "$here/lib.sh"

[ "$(id -u)" -eq 0 ] || skip "needs root (chroots)"
for tool in curl jq sha256sum readelf chroot; do
  command -v "$tool" >/dev/null || skip "$tool is not installed (scripts/setup.sh --package)"
done

start=$(date +%s)
cache="${KILN_TEST_CACHE:-/var/cache/kiln-test}"
work=$(mktemp -d /tmp/kiln-al2023-test.XXXXXX)
mounts=()
cleanup() {
  local i
  for ((i = ${#mounts[@]} - 1; i >= 0; i--)); do
    umount "${mounts[$i]}" 2>/dev/null || umount -l "${mounts[$i]}" 2>/dev/null || true
  done
  if grep -qF " $work/" /proc/self/mounts; then
    echo "al2023 test: mounts left under $work:" >&2
    grep -F " $work/" /proc/self/mounts >&2
    return
  fi
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- 0. the root -------------------------------------------------------------------------
step "0. the Amazon Linux 2023 root"
mkdir -p "$cache/roots"
exec 9>"$cache/roots/.lock"
flock 9
digest_of() { echo "sha256:$(sha256sum "$1" | cut -d' ' -f1)"; }
layer=""
if [ -n "${KILN_AL2023_LAYER:-}" ]; then
  layer="$KILN_AL2023_LAYER"
  [ -z "$LAYER_DIGEST" ] || [ "$(digest_of "$layer")" = "$LAYER_DIGEST" ] ||
    fail "KILN_AL2023_LAYER=$layer has digest $(digest_of "$layer"), pinned is $LAYER_DIGEST"
elif [ -n "$LAYER_DIGEST" ] && [ -f "$cache/roots/al2023-${LAYER_DIGEST#sha256:}.tar.gz" ] &&
     [ "$(digest_of "$cache/roots/al2023-${LAYER_DIGEST#sha256:}.tar.gz")" = "$LAYER_DIGEST" ]; then
  layer="$cache/roots/al2023-${LAYER_DIGEST#sha256:}.tar.gz"
  echo "cached layer $layer"
else
  fetch_failed() { skip "cannot fetch $IMAGE:$TAG from $REGISTRY: $*"; }
  api() { curl -fsSL --retry 2 --connect-timeout 20 -H "Authorization: Bearer $token" "$@"; }
  # shellcheck disable=SC2015  # fetch_failed exits
  token=$(curl -fsSL --retry 2 --connect-timeout 20 "$REGISTRY/token/?scope=repository:$IMAGE:pull" 2>"$work/curl.err" | jq -r .token) &&
    [ -n "$token" ] && [ "$token" != null ] || fetch_failed "no anonymous token ($(tr '\n' ' ' <"$work/curl.err"))"
  digest="$LAYER_DIGEST"
  if [ -z "$digest" ]; then
    index=$(api -H 'Accept: application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.list.v2+json' \
      "$REGISTRY/v2/$IMAGE/manifests/$TAG" 2>"$work/curl.err") || fetch_failed "manifest list ($(tr '\n' ' ' <"$work/curl.err"))"
    manifest_digest=$(jq -r '.manifests[] | select(.platform.os == "linux" and .platform.architecture == "amd64" and (.platform.variant // "") == "") | .digest' <<<"$index" | head -1)
    [ -n "$manifest_digest" ] || fail "the manifest list of $IMAGE:$TAG has no linux/amd64 manifest: $index"
    manifest=$(api -H 'Accept: application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json' \
      "$REGISTRY/v2/$IMAGE/manifests/$manifest_digest" 2>"$work/curl.err") || fetch_failed "manifest $manifest_digest ($(tr '\n' ' ' <"$work/curl.err"))"
    [ "$(jq '.layers | length' <<<"$manifest")" -eq 1 ] || fail "expected one layer in $manifest_digest: $manifest"
    digest=$(jq -r '.layers[0].digest' <<<"$manifest")
    echo "resolved $IMAGE:$TAG linux/amd64: manifest $manifest_digest, layer $digest"
    echo "NOTE: LAYER_DIGEST is not pinned in $0; pin LAYER_DIGEST=\"$digest\""
  fi
  layer="$cache/roots/al2023-${digest#sha256:}.tar.gz"
  if [ ! -f "$layer" ] || [ "$(digest_of "$layer")" != "$digest" ]; then
    api -o "$work/layer" "$REGISTRY/v2/$IMAGE/blobs/$digest" 2>"$work/curl.err" || fetch_failed "layer $digest ($(tr '\n' ' ' <"$work/curl.err"))"
    [ "$(digest_of "$work/layer")" = "$digest" ] || fail "the layer fetched has digest $(digest_of "$work/layer"), expected $digest"
    mv "$work/layer" "$layer"
    echo "fetched layer $digest ($(stat -c %s "$layer") bytes)"
  fi
fi
exec 9>&-
echo "layer: $(digest_of "$layer")"

enter_root() {  # enter_root NAME: a fresh copy of the layer at $work/NAME, mounted for dnf
  local root="$work/$1"
  mkdir -p "$root"
  tar -C "$root" --numeric-owner -xzf "$layer"
  rm -f "$root/etc/resolv.conf"
  cp /etc/resolv.conf "$root/etc/resolv.conf"
  mount -t proc proc "$root/proc" && mounts+=("$root/proc")
  mount -t sysfs sysfs "$root/sys" && mounts+=("$root/sys")
  mount --bind /dev "$root/dev" && mounts+=("$root/dev")
  mount -t tmpfs tmpfs "$root/tmp" && mounts+=("$root/tmp")
  mkdir -p "$cache/dnf/al2023" "$root/var/cache/dnf"
  mount --bind "$cache/dnf/al2023" "$root/var/cache/dnf" && mounts+=("$root/var/cache/dnf")
}
in_root() {
  local root="$work/$1"
  shift
  chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 "$@"
}
check_hello_run() {
  local summary="$1" logs="$2"
  grep -q '"status": "success"' "$summary" || fail "kiln run did not succeed: $(cat "$summary")"
  grep -q '"executedStepCount": 3' "$summary" || fail "kiln run: expected 3 steps: $(cat "$summary")"
  grep -q 'Stdout: Hello, world!' "$logs"/TOE_*/console.log || fail "kiln run: no greeting in console.log"
}

enter_root rpm
root="$work/rpm"
echo "base image: $(cat "$root/etc/system-release" 2>/dev/null)"
base_curl=$(in_root rpm rpm -q --whatprovides 'libcurl.so.4()(64bit)' 2>/dev/null || echo "no libcurl.so.4")
echo "base image's libcurl.so.4: $base_curl"
for lib in 'libcrypto.so.3()(64bit)' 'libnettle.so.8()(64bit)' 'libacl.so.1()(64bit)'; do
  echo "base image's $lib: $(in_root rpm rpm -q --whatprovides "$lib" 2>/dev/null || echo none)"
done
# Whether AL2023's libcurl has symbol versions (docs/packaging.md: the rpm's requires filter).
curl_so=$(readlink -f "$root/usr/lib64/libcurl.so.4" 2>/dev/null || true)
if [ -f "$curl_so" ]; then
  version_nodes=$(readelf --version-info -W "$curl_so" | awk '/Version definition section/ {d=1} /Version needs section/ {d=0} d && /Name:/ && !/Flags: BASE/ {print $NF}' | paste -sd' ' -)
  echo "libcurl.so.4 ($(basename "$curl_so")) defines symbol versions: ${version_nodes:-none}"
  # kiln references curl_*@CURL_OPENSSL_4 (Debian's); a libcurl with other version nodes
  # would not satisfy them (the rpm's requires filter assumes none or that one).
  if [ -n "$version_nodes" ] && ! grep -qw CURL_OPENSSL_4 <<<"$version_nodes"; then
    fail "AL2023's libcurl.so.4 versions its symbols ($version_nodes) without CURL_OPENSSL_4: kiln cannot load it"
  fi
fi

# --- 1. the .rpm with dnf ----------------------------------------------------------------
step "1. dnf install of the .rpm"
cp "$rpm" "$root/tmp/"
t=$(date +%s)
in_root rpm dnf install -y --setopt=keepcache=True --setopt=install_weak_deps=False "/tmp/$(basename "$rpm")" >"$work/dnf.log" 2>&1 ||
  { tail -30 "$work/dnf.log"; fail "dnf install of the .rpm on AL2023"; }
echo "dnf install: $(($(date +%s) - t)) s; brought in: $(awk '/^Installing( dependencies)?:/ {p=1; next} /^Transaction Summary/ {p=0} p && NF >= 4 {print $1}' "$work/dnf.log" | paste -sd' ' -)"
installed=$(in_root rpm rpm -ql kiln | sort)
for f in /usr/bin/kiln /usr/bin/awstoe /usr/share/man/man1/kiln.1.gz /usr/share/man/man1/awstoe.1.gz \
         /usr/share/bash-completion/completions/kiln /usr/share/bash-completion/completions/awstoe \
         /usr/share/kiln/schemas/component.schema.json /usr/share/kiln/schemas/kiln-component.schema.json \
         /usr/lib/systemd/system/kiln-resume.service /usr/share/doc/kiln/examples/hello-world.yml; do
  grep -qx "$f" <<<"$installed" || fail "rpm -ql kiln lacks $f"
  [ -e "$root$f" ] || fail "$f is listed but not installed"
done
in_root rpm kiln --version | tee "$work/version.txt"
grep -Eq '^kiln [0-9.]+ \(commit [0-9a-f]{7}' "$work/version.txt" || fail "kiln --version on AL2023"
in_root rpm /lib64/ld-linux-x86-64.so.2 --list /usr/bin/kiln >"$work/rpm-ldd.txt"
grep -q 'not found' "$work/rpm-ldd.txt" && fail "ldd /usr/bin/kiln: $(cat "$work/rpm-ldd.txt")"
in_root rpm sh -c 'cd /tmp && awstoe validate --documents /usr/share/doc/kiln/examples/hello-world.yml' || fail "awstoe validate on AL2023"
in_root rpm sh -c 'mkdir -p /tmp/run/logs && cd /tmp/run && kiln run --documents /usr/share/doc/kiln/examples/hello-world.yml --log-directory /tmp/run/logs' \
  >"$work/rpm-summary.json" 2>"$work/rpm-stderr" || { cat "$work/rpm-stderr"; fail "kiln run on AL2023"; }
check_hello_run "$work/rpm-summary.json" "$root/tmp/run/logs"
echo "installed with dnf: --version, validate and run succeed ($(wc -l <<<"$installed") paths)"
in_root rpm dnf remove -y kiln >"$work/dnf-remove.log" 2>&1 || { tail -30 "$work/dnf-remove.log"; fail "dnf remove kiln"; }
left=""
while read -r path; do
  [ -n "$path" ] && { [ -f "$root$path" ] || [ -L "$root$path" ]; } && left+="$path "
done <<<"$installed"
[ -z "$left" ] || fail "dnf remove left files of the package: $left"
in_root rpm rpm -q kiln >/dev/null 2>&1 && fail "kiln still installed after dnf remove"
echo "removed: no file of rpm -ql kiln left"

# --- 2. the tarball ----------------------------------------------------------------------
step "2. the tarball in a fresh AL2023 root"
enter_root tgz
folder="/srv/any folder/kiln"
mkdir -p "$work/tgz$folder"
tar -C "$work/tgz$folder" -xzf "$tgz"
top=$(basename "$tgz" .tar.gz)
bin="$folder/$top/bin"
in_root tgz /lib64/ld-linux-x86-64.so.2 --list "$bin/kiln" | tee "$work/tgz-ldd.txt"
grep -q 'not found' "$work/tgz-ldd.txt" && fail "the tarball's kiln misses a library on the AL2023 base image"
in_root tgz sh -c "cd /tmp && '$bin/awstoe' validate --documents '$folder/$top/share/doc/kiln/examples/hello-world.yml'" || fail "tarball: awstoe validate on AL2023"
in_root tgz sh -c "mkdir -p /tmp/run/logs && cd /tmp/run && '$bin/kiln' run --documents '$folder/$top/share/doc/kiln/examples/hello-world.yml' --log-directory /tmp/run/logs" \
  >"$work/tgz-summary.json" 2>"$work/tgz-stderr" || { cat "$work/tgz-stderr"; fail "tarball: kiln run on AL2023"; }
check_hello_run "$work/tgz-summary.json" "$work/tgz/tmp/run/logs"
echo "tarball: ran from '$bin' on the base image (libcurl: $base_curl)"

cmp -s "$example" "$work/tgz$folder/$top/share/doc/kiln/examples/hello-world.yml" || fail "the tarball's example differs from examples/hello-world.yml"
echo "al2023 test: passed in $(($(date +%s) - start)) s"
