#!/usr/bin/env bash
# The packages, installed and run the way users get them (docs/packaging.md):
#   1. the portable binary: glibc floor (highest GLIBC_ symbol version <= 2.34), its
#      shared libraries (ldd), its size
#   2. the .rpm: files (rpm -qlp) and automatic requirements (rpm -qRp)
#   3. the .deb on this machine: apt-get install, awstoe validate and kiln run of the
#      installed example, unit, man pages, completion (checked against the installed
#      binary's --help), schemas; boot triggers armed by `kiln run --reboot-mode system`,
#      then removal (dpkg -r, through apt-get so it waits for the dpkg lock): nothing of
#      the package left (dpkg -L list, no kiln file under /usr or /etc, no trigger), purge
#   4. the same .deb in a Debian 13 (trixie) root: apt-get install resolves its
#      dependencies there (libcurl4t64 and libssl3t64 provide libcurl4 and libssl3)
#   5. the .tar.gz unpacked to an arbitrary folder of a minimal Debian 12 root with only
#      libcurl4 added (none of kiln's build libraries): validate, run, ldd
#   6. with KILN_TEST_AL2023=1: tests/packaging/al2023.sh, the .rpm installed with dnf and
#      the tarball run in an Amazon Linux 2023 root (needs the network; see that script)
# Roots come from tests/packaging/make-root.sh (cached tarballs, made once with
# debootstrap). Needs root, dpkg, rpm, debootstrap, help2man; outside CI a missing
# prerequisite prints "SKIPPED: reason", in CI (CI=true) it fails.
#   tests/packaging/run.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
repo=$PWD

TEST_NAME="packaging test" STEP_NAME=packaging
# shellcheck source=tests/packaging/lib.sh
. "$repo/tests/packaging/lib.sh"

[ "$(id -u)" -eq 0 ] || skip "needs root (installs the .deb, chroots)"
for tool in dpkg-deb dpkg-shlibdeps rpm rpmbuild debootstrap help2man objdump chroot; do
  command -v "$tool" >/dev/null || skip "$tool is not installed (scripts/setup.sh --package)"
done
ls /usr/lib/x86_64-linux-gnu/libzstd.a >/dev/null 2>&1 || skip "static libraries missing (scripts/setup.sh --package)"
if dpkg-query -W -f='${Status}' kiln 2>/dev/null | grep -q "install ok installed"; then
  skip "a kiln package is already installed on this machine; this test installs and removes its own"
fi

start=$(date +%s)
work=$(mktemp -d /tmp/kiln-packaging-test.XXXXXX)
mounts=()
# Every mount made below is listed in $mounts and undone here, innermost first, whatever
# happens (also on Ctrl-C); the host's boot-trigger files the test made are removed too.
cleanup() {
  local i
  for ((i = ${#mounts[@]} - 1; i >= 0; i--)); do
    umount "${mounts[$i]}" 2>/dev/null || umount -l "${mounts[$i]}" 2>/dev/null || true
  done
  if dpkg-query -W -f='${Status}' kiln 2>/dev/null | grep -qE ' (installed|config-files|half-installed|unpacked|half-configured)$'; then
    dpkg -P kiln >/dev/null 2>&1 || true
  fi
  rm -f /etc/systemd/system/kiln-resume-*.service /etc/systemd/system/*.wants/kiln-resume-*.service \
        /etc/cron.d/kiln-resume-*
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Unpacks a cached root into $work/<name> and mounts what apt and kiln need in it.
enter_root() {
  local tarball="$1" root="$work/$2"
  mkdir -p "$root"
  tar -C "$root" -xf "$tarball"
  cp /etc/resolv.conf "$root/etc/resolv.conf"
  mount -t proc proc "$root/proc" && mounts+=("$root/proc")
  mount --bind /dev "$root/dev" && mounts+=("$root/dev")
  mount -t tmpfs tmpfs "$root/tmp" && mounts+=("$root/tmp")
  # apt's downloads survive between runs (keeps a warm run short).
  local archives="${KILN_TEST_CACHE:-/var/cache/kiln-test}/apt/$2"
  mkdir -p "$archives/partial"
  mount --bind "$archives" "$root/var/cache/apt/archives" && mounts+=("$root/var/cache/apt/archives")
}
in_root() {
  local root="$work/$1"
  shift
  chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 \
    DEBIAN_FRONTEND=noninteractive "$@"
}
# Checks a run's summary JSON (stdout) and its console.log: the example greets and passes.
check_hello_run() {
  local summary="$1" logs="$2"
  grep -q '"status": "success"' "$summary" || fail "kiln run did not succeed: $(cat "$summary")"
  grep -q '"executedStepCount": 3' "$summary" || fail "kiln run: expected 3 steps: $(cat "$summary")"
  grep -q 'Stdout: Hello, world!' "$logs"/TOE_*/console.log || fail "kiln run: no greeting in console.log"
}

step "building the packages (scripts/package.sh)"
packages=$(nice -n 10 scripts/package.sh 2>"$work/package.log") || { tail -30 "$work/package.log"; fail "scripts/package.sh"; }
deb=$(grep '\.deb$' <<<"$packages")
rpm=$(grep '\.rpm$' <<<"$packages")
tgz=$(grep '\.tar\.gz$' <<<"$packages")
echo "$packages"

step "1. the portable binary"
binary=build-package/kiln
for program in "$binary" build-package/kilnctl; do
  floor=$(objdump -T "$program" | grep -o 'GLIBC_[0-9.]*' | sort -V | tail -1)
  echo "highest glibc symbol version of ${program##*/}: $floor"
  [ "$(printf '%s\n' "$floor" GLIBC_2.34 | sort -V | tail -1)" = GLIBC_2.34 ] ||
    fail "${program##*/} needs $floor; the portable build must not need more than GLIBC_2.34 ($(objdump -T "$program" | grep "$floor" | head -3))"
done
objdump -p build-package/kilnctl | grep -q 'NEEDED.*libstdc++' && fail "kilnctl links libstdc++ dynamically"
needed=$(objdump -p "$binary" | awk '/NEEDED/ {print $2}' | sort | paste -sd' ' -)
echo "NEEDED: $needed"
for lib in libyaml-cpp libre2 libarchive libboost libspdlog libfmt libstdc++ libzstd liblz4 liblzma libbz2 libz.so; do
  case " $needed " in *" $lib"*) fail "$lib is linked dynamically; the portable build links it statically" ;; esac
done
# The test hooks (agent/base/test_hooks.h: KILN_TEST_SKIP_SYNC turns every fsync off) are
# compiled out of what packages ship.
grep -aq 'KILN_TEST_' "$binary" && fail "the portable kiln has the test hooks compiled in (KILN_TEST_HOOKS must be OFF)"
ldd "$binary"
echo "binary size: $(stat -c %s "$binary") bytes unstripped; in the packages (stripped): $(dpkg-deb --fsys-tarfile "$deb" | tar -tvf - ./usr/bin/kiln | awk '{print $3}') bytes"

step "2. the .rpm"
rpm_files=$(rpm -qlp "$rpm" 2>/dev/null)
for f in /usr/bin/kiln /usr/bin/awstoe /usr/bin/kilnctl /usr/lib/systemd/system/kiln-resume.service \
         /usr/share/man/man1/kiln.1.gz /usr/share/man/man1/kilnctl.1.gz /usr/share/man/man1/awstoe.1.gz \
         /usr/share/bash-completion/completions/kiln /usr/share/bash-completion/completions/awstoe \
         /usr/share/kiln/schemas/component.schema.json /usr/share/kiln/schemas/kiln-component.schema.json \
         /usr/share/doc/kiln/examples/hello-world.yml /usr/share/doc/kiln/copyright; do
  grep -qx "$f" <<<"$rpm_files" || fail "the .rpm lacks $f"
done
grep -qE '^/usr/lib/systemd/system$|^/usr/share/man/man1$|^/usr/bin$' <<<"$rpm_files" &&
  fail "the .rpm claims a folder other packages own: $(grep -E '^/usr/lib/systemd/system$|^/usr/share/man/man1$|^/usr/bin$' <<<"$rpm_files")"
rpm_requires=$(rpm -qRp "$rpm" 2>/dev/null)
for r in 'libcurl.so.4()(64bit)' 'libcrypto.so.3()(64bit)' 'libc.so.6(GLIBC_2.34)(64bit)'; do
  grep -qxF "$r" <<<"$rpm_requires" || fail "the .rpm does not require $r: $rpm_requires"
done
grep -q 'GLIBC_2.3[5-9]' <<<"$rpm_requires" && fail "the .rpm requires a glibc above 2.34"
grep -q 'CURL_OPENSSL' <<<"$rpm_requires" && fail "the .rpm requires Debian's libcurl symbol version (CURL_OPENSSL_4)"
grep -qE 'yaml-cpp|libre2|libarchive|boost|libstdc\+\+' <<<"$rpm_requires" && fail "the .rpm requires a library that is linked statically"
# The scriptlets: the same removal of boot triggers as the deb's prerm, valid sh.
rpm_scripts=$(rpm -qp --scripts "$rpm" 2>/dev/null)
grep -q 'preuninstall scriptlet' <<<"$rpm_scripts" && grep -q 'kiln_remove_boot_triggers$' <<<"$rpm_scripts" ||
  fail "the .rpm's %preun does not remove boot triggers"
for script in build-package/packaging-scripts/rpm/*.sh build-package/packaging-scripts/deb/*; do
  sh -n "$script" || fail "$script is not valid sh"
done
echo "rpm: $(wc -l <<<"$rpm_files") files; requires: $(grep -E '^lib[a-z0-9_.-]+\.so\.[0-9]+\(\)' <<<"$rpm_requires" | paste -sd' ' -), glibc up to $(grep -o 'GLIBC_[0-9.]*' <<<"$rpm_requires" | sort -V | tail -1)"

step "3. the .deb on this machine"
dpkg-deb -f "$deb" Depends
for d in 'libc6 (>= 2.34)' libcurl4 libssl3; do
  dpkg-deb -f "$deb" Depends | grep -qF "$d" || fail "the .deb does not depend on $d"
done
echo "Installed-Size: $(dpkg-deb -f "$deb" Installed-Size) KiB"
# apt-get waits for the dpkg lock (another apt run on this machine may hold it); dpkg would fail.
lock=(-o DPkg::Lock::Timeout=300)
apt-get install "${lock[@]}" -y -q --no-install-recommends "$deb" >"$work/apt.log" 2>&1 || { cat "$work/apt.log"; fail "apt-get install $deb"; }
installed=$(dpkg -L kiln | sort)
for f in /usr/bin/kiln /usr/bin/awstoe /usr/lib/systemd/system/kiln-resume.service /usr/share/kiln/schemas/component.schema.json \
         /usr/share/kiln/schemas/kiln-component.schema.json /usr/share/kiln/schemas/actions/ExecuteBash.json /usr/share/doc/kiln/examples/hello-world.yml /usr/share/doc/kiln/copyright \
         /usr/share/kiln/ansible/roles/kiln/tasks/main.yml /usr/share/kiln/ssm/kiln-run-component.json; do
  [ -e "$f" ] || fail "$f is not installed"
done
[ "$(readlink /usr/bin/awstoe)" = kiln ] || fail "/usr/bin/awstoe is not a symlink to kiln"
grep -q "^ExecStart='/usr/bin/kiln' resume" /usr/lib/systemd/system/kiln-resume.service || fail "the unit does not run /usr/bin/kiln resume"
# kilnctl: installed with its man page and completion, and it drives the installed kiln.
for f in /usr/bin/kilnctl /usr/share/man/man1/kilnctl.1.gz /usr/share/bash-completion/completions/kilnctl; do
  [ -e "$f" ] || fail "$f is not installed"
done
(cd "$work" && /usr/bin/kilnctl run --target local --documents /usr/share/doc/kiln/examples/hello-world.yml \
   --phases build --work-directory "$work/kilnctl-work" --logs "$work/kilnctl-logs" >"$work/kilnctl.out" 2>&1) ||
  { cat "$work/kilnctl.out"; fail "kilnctl run --target local with the installed kiln"; }
grep -rq 'Stdout: Hello, world!' "$work"/kilnctl-logs/*/TOE_*/console.log || fail "kilnctl brought back no console.log with the greeting"
# kilnctl image with the .deb as the agent: installed into the build and test roots by their
# own dpkg and purged from the snapshot. The parent is the systemd root the nspawn tests
# cached (it has the package's dependencies); the roots are booted.
parent=/var/cache/kiln-test/roots/bookworm-minbase+systemd+kiln-runtime.tar
if [ -f "$parent" ] && command -v systemd-nspawn >/dev/null; then
  mkdir -p "$work/image"
  printf 'name: Mark\nschemaVersion: 1.0\nphases:\n  - name: build\n    steps:\n      - name: Mark\n        action: ExecuteBash\n        inputs:\n          commands:\n            - kiln --version > /etc/built-by\n' >"$work/image/mark.yaml"
  printf 'name: Check\nschemaVersion: 1.0\nphases:\n  - name: test\n    steps:\n      - name: Marked\n        action: ExecuteBash\n        inputs:\n          commands:\n            - grep -q "^kiln " /etc/built-by\n' >"$work/image/check.yaml"
  printf 'name: packaged\nsemanticVersion: 0.1.0\nparentImage: %s\ncomponents:\n  - component: mark.yaml\ntestComponents:\n  - component: check.yaml\n' "$parent" >"$work/image/recipe.yaml"
  /usr/bin/kilnctl image build "$work/image/recipe.yaml" --output "$work/image/out" --agent "$(realpath "$deb")" >"$work/image.out" 2>&1 ||
    { cat "$work/image.out"; fail "kilnctl image build with the .deb as the agent"; }
  grep -q 'install agent' "$work/image.out" && [ -f "$work/image/out/rootfs.tar" ] && [ -f "$work/image/out/oci/index.json" ] ||
    { cat "$work/image.out"; fail "kilnctl image build wrote no image"; }
  tar -tf "$work/image/out/rootfs.tar" | grep -qx './usr/bin/kiln' && fail "the snapshot kept the kiln package the build installed"
  tar -xOf "$work/image/out/rootfs.tar" ./var/lib/dpkg/status | grep -q '^Package: kiln$' && fail "the snapshot's dpkg still lists kiln"
  echo "kilnctl image build with the .deb: $(grep -o 'success in [0-9.]* s' "$work/image.out" | tail -1)"
elif [ "${CI:-}" = "true" ]; then
  fail "kilnctl image with the .deb: no cached systemd root ($parent, made by the nspawn tests) or no systemd-nspawn"
else
  echo "SKIPPED: kilnctl image with the .deb: no cached systemd root ($parent, made by the nspawn tests) or no systemd-nspawn"
fi
# The editors' schema the package ships is the one the installed binary prints.
cmp -s <(/usr/bin/kiln schema) /usr/share/kiln/schemas/kiln-component.schema.json || fail "the installed bundled schema differs from kiln schema"
/usr/bin/kiln --version | grep -Eq '^kiln [0-9.]+ \(commit [0-9a-f]{7}' || fail "kiln --version names no commit: $(/usr/bin/kiln --version)"
[ "$(man -w kiln)" = /usr/share/man/man1/kiln.1.gz ] || fail "man -w kiln: $(man -w kiln 2>&1)"
[ "$(readlink /usr/share/man/man1/awstoe.1.gz)" = kiln.1.gz ] && man -w awstoe >/dev/null || fail "man -w awstoe: $(man -w awstoe 2>&1)"
man_text=$(zcat /usr/share/man/man1/kiln.1.gz)
for option in $(kiln --help | grep -oE -- '--[a-z][a-z0-9-]*' | sort -u); do
  grep -qF -- "${option//-/\\-}" <<<"$man_text" || fail "kiln.1 does not mention $option from kiln --help"
done
# The completion offers exactly the commands and options the installed binary prints.
completion=/usr/share/bash-completion/completions/kiln
[ -f "$completion" ] && [ "$(readlink /usr/share/bash-completion/completions/awstoe)" = kiln ] || fail "completion files missing"
complete_words() {  # complete_words WORD... : what <TAB> offers after those words
  bash -c 'source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _kiln; printf "%s\n" "${COMPREPLY[@]}" | sort -u' _ "$completion" "$@"
}
. packaging/help-words.sh
expected_commands=$(kiln_help_commands "$(kiln --help)")
[ "$(complete_words kiln '')" = "$expected_commands" ] || fail "completion offers commands '$(complete_words kiln '' | paste -sd' ')', kiln --help names '$(paste -sd' ' <<<"$expected_commands")'"
for command in $expected_commands; do
  expected=$(kiln_help_options "$(kiln "$command" --help 2>/dev/null || kiln --help)")
  offered=$(complete_words awstoe "$command" --)
  [ "$offered" = "$expected" ] || fail "completion of 'kiln $command --' differs from kiln $command --help: $(diff <(echo "$offered") <(echo "$expected") | tr '\n' ' ')"
done
[ "$(complete_words kiln validate --format '')" = "$(printf 'json\ntext')" ] || fail "completion of --format"
# A subcommand with help of its own has a page of its own.
for command in $expected_commands; do
  help=$(kiln "$command" --help 2>/dev/null) || continue
  [ "$help" = "$(kiln --help)" ] && continue
  man -w "kiln-$command" >/dev/null 2>&1 || fail "kiln $command --help prints its own help but there is no kiln-$command man page"
done
echo "installed: $(wc -l <<<"$installed") paths; man -w kiln: $(man -w kiln); completion matches kiln --help"

mkdir -p "$work/host/logs" "$work/host/state"
(cd "$work/host" && awstoe validate --documents /usr/share/doc/kiln/examples/hello-world.yml) || fail "awstoe validate of the installed example"
(cd "$work/host" && kiln run --documents /usr/share/doc/kiln/examples/hello-world.yml --log-directory "$work/host/logs" \
  --state-directory "$work/host/state" >"$work/host/summary.json" 2>"$work/host/stderr") || { cat "$work/host/stderr"; fail "kiln run of the installed example"; }
check_hello_run "$work/host/summary.json" "$work/host/logs"
echo "installed kiln ran the example: status success, 3 steps, greeting in console.log"

# Boot triggers as --reboot-mode system arms them (one systemd unit, one cron entry), then
# removal: prerm must take them away, since the binary they start is going.
printf 'name: Reboots\nschemaVersion: 1.0\nphases:\n  - name: build\n    steps:\n      - name: Restart\n        action: Reboot\n' >"$work/host/reboot.yml"
for kind in systemd cron; do
  rc=0
  kiln run --documents "$work/host/reboot.yml" --log-directory "$work/host/logs" --state-directory "$work/host/state-$kind" \
    --resume-trigger "$kind" --reboot-command true >/dev/null 2>&1 || rc=$?
  [ "$rc" -eq 194 ] || fail "the Reboot document exited $rc, expected 194"
done
armed=$(ls /etc/systemd/system/kiln-resume-*.service /etc/systemd/system/multi-user.target.wants/kiln-resume-*.service /etc/cron.d/kiln-resume-* 2>/dev/null | wc -l)
[ "$armed" -eq 3 ] || fail "expected 3 trigger files (unit, its wants link, cron entry), found $armed"
echo "armed boot triggers: $armed files"

apt-get remove "${lock[@]}" -y -q kiln >"$work/remove.log" 2>&1 || { cat "$work/remove.log"; fail "dpkg -r kiln (apt-get remove)"; }
left=""
while read -r path; do
  [ -n "$path" ] && { [ -f "$path" ] || [ -L "$path" ]; } && left+="$path "
done <<<"$installed"
[ -z "$left" ] || fail "dpkg -r left files of the package: $left"
stray=$(find /usr /etc -xdev \( -name '*kiln*' -o -name 'awstoe*' \) 2>/dev/null | paste -sd' ' -)
[ -z "$stray" ] || fail "after dpkg -r, kiln files remain: $stray"
apt-get purge "${lock[@]}" -y -q kiln >/dev/null 2>&1 || fail "dpkg -P kiln (apt-get purge)"
dpkg-query -W -f='${Status}' kiln 2>/dev/null | grep -qE ' (installed|config-files)$' && fail "kiln still known to dpkg after purge"
echo "removed and purged: no package file, no boot trigger left under /usr or /etc"

step "4. the .deb in a Debian 13 (trixie) root"
trixie=$(tests/packaging/make-root.sh trixie) || fail "cannot make the trixie root"
enter_root "$trixie" trixie
cp "$deb" "$repo/examples/hello-world.yml" "$work/trixie/tmp/"
in_root trixie apt-get update -q >"$work/trixie-apt.log" 2>&1 &&
  in_root trixie apt-get install -y -q --no-install-recommends "/tmp/$(basename "$deb")" >>"$work/trixie-apt.log" 2>&1 ||
  { tail -30 "$work/trixie-apt.log"; fail "apt-get install of the .deb in trixie"; }
in_root trixie dpkg-query -W -f='${Package} ${Version}\n' libcurl4t64 libssl3t64 kiln || fail "trixie: expected libcurl4t64, libssl3t64 and kiln installed"
in_root trixie sh -c 'cd /tmp && awstoe validate --documents /usr/share/doc/kiln/examples/hello-world.yml' || fail "trixie: awstoe validate"
in_root trixie sh -c 'mkdir -p /tmp/logs && cd /tmp && kiln run --documents /usr/share/doc/kiln/examples/hello-world.yml --log-directory /tmp/logs' \
  >"$work/trixie-summary.json" 2>"$work/trixie-stderr" || { cat "$work/trixie-stderr"; fail "trixie: kiln run"; }
check_hello_run "$work/trixie-summary.json" "$work/trixie/tmp/logs"
echo "trixie: installed with its renamed libraries, validate and run succeed"

step "5. the .tar.gz in a minimal Debian 12 root with only libcurl4 added"
bookworm=$(tests/packaging/make-root.sh bookworm libcurl4) || fail "cannot make the bookworm root"
enter_root "$bookworm" bookworm
absent=$(in_root bookworm dpkg-query -W -f='${Package} ${Status}\n' 2>/dev/null |
  grep -E '^(libyaml-cpp|libspdlog|libfmt|libre2|libarchive|libboost)[^ ]* .*installed' || true)
[ -z "$absent" ] || fail "the bookworm root has kiln's build libraries: $absent"
folder="/srv/any folder/kiln"
mkdir -p "$work/bookworm$folder"
tar -C "$work/bookworm$folder" -xzf "$tgz"
top=$(basename "$tgz" .tar.gz)
bin="$folder/$top/bin"
in_root bookworm ldd "$bin/kiln" | tee "$work/bookworm-ldd.txt"
grep -q 'not found' "$work/bookworm-ldd.txt" && fail "the tarball's kiln misses a library in a minimal root"
in_root bookworm sh -c "cd /tmp && '$bin/awstoe' validate --documents '$folder/$top/share/doc/kiln/examples/hello-world.yml'" || fail "tarball: awstoe validate"
in_root bookworm sh -c "mkdir -p /tmp/logs && cd /tmp && '$bin/kiln' run --documents '$folder/$top/share/doc/kiln/examples/hello-world.yml' --log-directory /tmp/logs" \
  >"$work/bookworm-summary.json" 2>"$work/bookworm-stderr" || { cat "$work/bookworm-stderr"; fail "tarball: kiln run"; }
check_hello_run "$work/bookworm-summary.json" "$work/bookworm/tmp/logs"
echo "tarball: ran from '$bin' in a root without yaml-cpp, spdlog, RE2, libarchive or Boost"

step "6. the .rpm and the tarball on Amazon Linux 2023 (tests/packaging/al2023.sh)"
# Opt-in: it fetches the official AL2023 image and dnf reaches AL2023's repositories,
# neither of which the machines this project's CI runs on can reach.
if [ "${KILN_TEST_AL2023:-}" = 1 ]; then
  tests/packaging/al2023.sh "$rpm" "$tgz" || fail "Amazon Linux 2023 (tests/packaging/al2023.sh)"
else
  echo "not run: set KILN_TEST_AL2023=1 where the image registry and AL2023's repositories are reachable"
fi

echo "packaging test: passed in $(($(date +%s) - start)) s"
