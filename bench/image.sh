#!/usr/bin/env bash
# "Image pipeline" (row I1 and its section in docs/BENCHMARKS.md): `kilnctl image build` of
# examples/image-recipe.yaml (debootstrap:bookworm; apt-get install hello, a Reboot step, a
# CreateFile with a parameter; test component check-image.yaml) with the parent already in
# the debootstrap cache, against the same pipeline scripted by hand with the same tools.
# Interleaved, the order rotating every round, RUNS rounds of:
#   booted:  kilnctl image build ... --instance booted   (systemd-nspawn --boot: two boots,
#            two power-offs and a real reboot of the container)
#   chroot:  kilnctl image build ... --instance chroot
#   by hand: what a person would script, chroot-based: tar -x the cached base tarball; cp
#            kiln in; mount proc, sysfs, /dev and /dev/pts (bind) as kilnctl's chroot target
#            does; `chroot ROOT kiln run --phases build,validate --reboot-mode exit` per
#            component (run again after exit 194: a reboot in a chroot); unmount; remove kiln,
#            its state, /tmp, /var/tmp, truncate /etc/machine-id (kilnctl's clean); tar -c with
#            kilnctl's flags; sha256sum (the layer digest); tar -x into a second root; kiln in,
#            mount, `kiln run --phases test` of install-hello.yaml and check-image.yaml;
#            unmount; rm -rf the roots.
# Each by-hand stage is timed like kilnctl's stages (image.json "stages", summed by stage
# name per run), so the two chroot pipelines compare stage by stage; "outside the stages" is
# each run's wall time minus its stages (kilnctl: starting, reading the recipe, computing the
# parent's cache key, removing the roots; by hand: removing the roots). Reports medians and the
# ratios kilnctl chroot / by hand (target near 1.0) and kilnctl booted / kilnctl chroot.
# One warm-up of each (not counted) fills the cache (debootstrap, first time: minutes) and
# checks that all three work. install-hello.yaml runs apt-get update + install: the network
# (deb.debian.org) is part of every build stage, for all three alike.
#
#   sudo nice bench/image.sh [BUILD_FOLDER] [RUNS]     (default build, 3)
#   CACHE=DIR: the debootstrap cache (default /var/cache/kiln/images, kilnctl's default)
#
# Needs root, debootstrap (first run), systemd-nspawn, python3. Work in /var/tmp (the real
# disk, ~1 GB at a time), removed at the end; nothing mounted is ever removed: the trap
# unmounts what is under the work folder first and leaves the folder if that fails.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=$(cd "${1:-$ROOT/build}" && pwd)
RUNS=${2:-3}
CACHE=${CACHE:-/var/cache/kiln/images}
KILN=$BUILD/kiln
KILNCTL=$BUILD/kilnctl
RECIPE=$ROOT/examples/image-recipe.yaml
DOCS=$ROOT/examples/image
GREETING="hello from kiln"
[ "$(id -u)" = 0 ] || { echo "bench/image.sh: needs root (it mounts and chroots)" >&2; exit 2; }
for tool in "$KILN" "$KILNCTL"; do [ -x "$tool" ] || { echo "bench/image.sh: no $tool" >&2; exit 2; }; done
command -v python3 > /dev/null || { echo "bench/image.sh: needs python3" >&2; exit 2; }

W=$(mktemp -d /var/tmp/kiln-bench-image.XXXXXX)
# Copies: a rebuild of BUILD_FOLDER during the run must not change what is measured.
mkdir "$W/bin"
cp "$KILN" "$KILNCTL" "$W/bin/"
KILN=$W/bin/kiln
KILNCTL=$W/bin/kilnctl

# Mount points at or under $1, as /proc/self/mounts lists them (in mount order).
mounts_under() { awk -v p="$1" '$2 == p || index($2, p "/") == 1 { print $2 }' /proc/self/mounts; }
# Unmounts everything at or under $1, last mounted first; lazily if a mount stays busy.
unmount_under() {
  local m
  for m in $(mounts_under "$1" | tac); do umount "$m" 2> /dev/null || umount -l "$m" || true; done
}
# rm -rf, but never through a mount (a bind-mounted /dev inside would take the host's /dev).
remove_tree() {
  [ -e "$1" ] || return 0
  if [ -n "$(mounts_under "$1")" ]; then
    echo "bench/image.sh: not removing $1: still mounted there: $(mounts_under "$1" | tr '\n' ' ')" >&2
    return 1
  fi
  rm -rf "$1"
}
cleanup() {
  local rc=$?
  unmount_under "$W"
  if [ -n "$(mounts_under "$W")" ]; then
    echo "bench/image.sh: $W left in place: still mounted: $(mounts_under "$W" | tr '\n' ' ')" >&2
  else
    rm -rf "$W"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# After every run: nothing of ours mounted, no systemd-nspawn of ours left.
check_left_nothing() {
  if [ -n "$(mounts_under "$W")" ]; then
    echo "bench/image.sh: after $1: still mounted: $(mounts_under "$W" | tr '\n' ' ')" >&2
    exit 1
  fi
  if pgrep -f "systemd-nspawn.*$W" > /dev/null; then
    echo "bench/image.sh: after $1: a systemd-nspawn of this benchmark is still running" >&2
    exit 1
  fi
}

STAGES=$W/stages.tsv  # variant <tab> run <tab> stage <tab> component <tab> seconds
: > "$STAGES"
# elapsed T0 T1 (two $EPOCHREALTIME values): seconds between them, in bash (no fork in a timed span).
elapsed() {
  local us=$((10#${2/./} - 10#${1/./}))
  printf '%d.%06d' $((us / 1000000)) $((us % 1000000))
}

# ---- kilnctl ---------------------------------------------------------------------------
# kilnctl_build VARIANT RUN: one build; its stages from image.json, its wall time measured here.
kilnctl_build() {
  local variant=$1 run=$2 out=$W/out-$1-$2 t0 t1
  t0=$EPOCHREALTIME
  "$KILNCTL" image build "$RECIPE" --output "$out" --agent "$KILN" --cache-directory "$CACHE" \
    --instance "$variant" > "$W/kilnctl-$variant-$run.log" 2>&1 \
    || { echo "kilnctl --instance $variant failed:" >&2; tail -40 "$W/kilnctl-$variant-$run.log" >&2; exit 1; }
  t1=$EPOCHREALTIME
  python3 - "$out/image.json" "kilnctl $variant" "$run" "$(elapsed "$t0" "$t1")" >> "$STAGES" <<'EOF'
import json, sys
image = json.load(open(sys.argv[1]))
variant, run, total = sys.argv[2], sys.argv[3], sys.argv[4]
if image["status"] != "built":
    sys.exit("kilnctl: image.json says " + image["status"] + ": " + image.get("failure", ""))
for row in image["stages"]:
    print(f"{variant}\t{run}\t{row['stage']}\t{row['component']}\t{row['seconds']:.3f}")
print(f"{variant}\t{run}\ttotal\t-\t{total}")
EOF
  cp "$out/image.json" "$W/image-$variant-$run.json"
  remove_tree "$out"
  check_left_nothing "kilnctl --instance $variant"
}

# ---- by hand ---------------------------------------------------------------------------
TARBALL=""
HAND_RUN=""
timed() {  # timed STAGE COMPONENT COMMAND...: runs it, appends its seconds to $STAGES
  local stage=$1 component=$2 t0 t1
  shift 2
  t0=$EPOCHREALTIME
  "$@"
  t1=$EPOCHREALTIME
  printf 'by hand\t%s\t%s\t%s\t%s\n' "$HAND_RUN" "$stage" "$component" "$(elapsed "$t0" "$t1")" >> "$STAGES"
}
unpack() { mkdir -p "$2" && tar --extract --file "$1" --directory "$2" --numeric-owner --preserve-permissions --xattrs --xattrs-include='*'; }
install_kiln() { mkdir -p "$1/usr/local/bin" && cp "$KILN" "$1/usr/local/bin/kiln" && chmod 755 "$1/usr/local/bin/kiln"; }
mount_root() {  # what controller/chroot_target.cpp mounts, in its order
  mount -t proc -o nosuid,nodev,noexec proc "$1/proc"
  mount -t sysfs -o nosuid,nodev,noexec sysfs "$1/sys"
  mount --bind /dev "$1/dev"
  mount --bind /dev/pts "$1/dev/pts"
}
unmount_root() { umount "$1/dev/pts" "$1/dev" "$1/sys" "$1/proc"; }
# in_root ROOT NN DOC PHASES [PARAMETERS]: copies DOC in, runs kiln in the chroot (again after
# each exit 194), then copies the logs out (as kilnctl does).
in_root() {
  local root=$1 nn=$2 doc=$3 phases=$4 parameters=${5:-} rc work=/var/lib/kiln/hand/$2
  local -a args=(run --documents "$work/documents/$(basename "$doc")" --phases "$phases" --execution-id "hand-$nn"
                 --reboot-mode exit --log-directory "$work/logs" --state-directory "$work/state")
  [ -n "$parameters" ] && args+=(--parameters "$parameters")
  mkdir -p "$root$work/documents"
  cp "$doc" "$root$work/documents/"
  while :; do
    rc=0
    chroot "$root" /usr/bin/env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
      /usr/local/bin/kiln "${args[@]}" >> "$W/hand-$HAND_RUN.log" 2>&1 || rc=$?
    [ "$rc" = 194 ] || break
  done
  [ "$rc" = 0 ] || { echo "by hand: kiln run of $doc ($phases) exited $rc" >&2; tail -30 "$W/hand-$HAND_RUN.log" >&2; exit 1; }
  mkdir -p "$W/hand-logs-$HAND_RUN/$nn"
  cp -a "$root$work/logs/." "$W/hand-logs-$HAND_RUN/$nn/"
}
clean_root() {  # what kilnctl's clean stage does: kiln, its work folder, /tmp, /var/tmp, machine-id
  rm -f "$1/usr/local/bin/kiln"
  rm -rf "$1/var/lib/kiln/hand"
  rmdir "$1/var/lib/kiln" 2> /dev/null || true
  find "$1/tmp" "$1/var/tmp" -mindepth 1 -delete
  [ -f "$1/etc/machine-id" ] && : > "$1/etc/machine-id"
  return 0
}
pack() {  # kilnctl's pack_root (controller/image/root_filesystem.cpp)
  mkdir -p "$2"
  tar --create --file "$2/rootfs.tar" --directory "$1" --numeric-owner --xattrs --xattrs-include='*' --sort=name \
    --one-file-system .
}
by_hand() {
  HAND_RUN=$1
  local h=$W/hand-$1 t0 t1
  local b=$h/build t=$h/test
  t0=$EPOCHREALTIME
  timed parent debootstrap:bookworm test -s "$TARBALL"
  timed unpack - unpack "$TARBALL" "$b"
  timed "install agent" build install_kiln "$b"
  timed boot build mount_root "$b"
  timed build 01-install-hello in_root "$b" 01 "$DOCS/install-hello.yaml" build,validate
  timed build 02-reboot-once in_root "$b" 02 "$DOCS/reboot-once.yaml" build,validate
  timed build 03-write-greeting in_root "$b" 03 "$DOCS/write-greeting.yaml" build,validate "Greeting=$GREETING"
  timed "power off" build unmount_root "$b"
  timed clean - clean_root "$b"
  timed snapshot rootfs.tar pack "$b" "$h/out"
  timed snapshot sha256sum sha256sum "$h/out/rootfs.tar" > "$h/out/rootfs.tar.sha256"  # the OCI layer digest
  remove_tree "$b"
  timed unpack test unpack "$h/out/rootfs.tar" "$t"
  timed "install agent" test install_kiln "$t"
  timed boot test mount_root "$t"
  timed test 01-install-hello in_root "$t" 01 "$DOCS/install-hello.yaml" test
  timed test 04-check-image in_root "$t" 04 "$DOCS/check-image.yaml" test "ExpectedGreeting=$GREETING"
  timed "power off" test unmount_root "$t"
  remove_tree "$t"
  t1=$EPOCHREALTIME
  printf 'by hand\t%s\ttotal\t-\t%s\n' "$1" "$(elapsed "$t0" "$t1")" >> "$STAGES"
  remove_tree "$h"
  rm -rf "$W/hand-logs-$1"
  check_left_nothing "by hand"
}

# ---- warm-up: the cache, and all three work -------------------------------------------
echo "load average at the start: $(cut -d' ' -f1-3 /proc/loadavg) ($(nproc) CPUs)"
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
"$KILNCTL" image build "$RECIPE" --output "$W/warm" --agent "$KILN" --cache-directory "$CACHE" --instance chroot \
  > "$W/warm.log" 2>&1 || { echo "warm-up kilnctl build failed:" >&2; tail -40 "$W/warm.log" >&2; exit 1; }
TARBALL=$(sed -n -e 's/.*from the cache (\(.*\.tar\)).*/\1/p' -e 's/.*cached as \(.*\.tar\)).*/\1/p' "$W/warm.log" | head -1)
[ -s "$TARBALL" ] || { echo "bench/image.sh: cannot find the cached parent in kilnctl's output" >&2; exit 1; }
echo "cached parent: $TARBALL ($(du -m "$TARBALL" | cut -f1) MiB)"
remove_tree "$W/warm"
check_left_nothing "the warm-up"
kilnctl_build booted 0
by_hand 0
: > "$STAGES"

# ---- measured rounds, the order rotating -----------------------------------------------
ORDER=(booted chroot hand)
for run in $(seq "$RUNS"); do
  for k in 0 1 2; do
    what=${ORDER[$(((k + run - 1) % 3))]}
    if [ "$what" = hand ]; then by_hand "$run"; else kilnctl_build "$what" "$run"; fi
    printf 'round %s: %-8s %s s\n' "$run" "$what" "$(awk -F'\t' -v r="$run" '$2 == r && $3 == "total" { t = $5 } END { print t }' "$STAGES")"
  done
done
LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)
echo "load average at the end: $LOAD_END"

python3 - "$STAGES" "$RUNS" "$LOAD_START" "$LOAD_END" <<'EOF'
import collections, statistics, sys
rows = [line.rstrip("\n").split("\t") for line in open(sys.argv[1]) if line.strip()]
runs, load_start, load_end = int(sys.argv[2]), sys.argv[3], sys.argv[4]
variants = ["by hand", "kilnctl chroot", "kilnctl booted"]
order = ["parent", "unpack", "install agent", "boot", "build", "power off", "clean", "snapshot", "test"]
per_run = collections.defaultdict(lambda: collections.defaultdict(float))   # (variant, run) -> stage -> s
detail = collections.defaultdict(list)                                      # (variant, stage, component) -> [s]
for variant, run, stage, component, seconds in rows:
    per_run[(variant, run)][stage] += float(seconds)
    if stage != "total":
        detail[(variant, stage, component)].append(float(seconds))
for key, stages in per_run.items():
    stages["outside the stages"] = stages["total"] - sum(v for k, v in stages.items() if k != "total")
def med(variant, stage):
    values = [s[stage] for (v, _), s in per_run.items() if v == variant]
    return statistics.median(values) if values else float("nan")
lines = ["| stage | " + " | ".join(variants) + " |", "|---|" + "---:|" * len(variants)]
for stage in order + ["outside the stages", "total"]:
    cells = [f"{med(v, stage):.2f}" for v in variants]
    if stage == "total":
        cells = [f"**{c}**" for c in cells]
    lines.append(f"| {'**total** (wall)' if stage == 'total' else stage} | " + " | ".join(cells) + " |")
print(f"\nmedian seconds of {runs} runs each (load average {load_start} -> {load_end}):\n")
print("\n".join(lines))
hand, chroot, booted = (med(v, "total") for v in variants)
print(f"\nkilnctl chroot / by hand: {chroot / hand:.2f}x   kilnctl booted / kilnctl chroot: {booted / chroot:.2f}x")
print("per run totals: " + "; ".join(
    v + ": " + " ".join(f"{s['total']:.1f}" for (vv, _), s in sorted(per_run.items()) if vv == v) for v in variants))
print("\nmedian seconds by stage and component:\n")
print("| stage | component | " + " | ".join(variants) + " |\n|---|---|" + "---:|" * len(variants))
seen = []
for (v, stage, component) in detail:
    if (stage, component) not in seen:
        seen.append((stage, component))
seen.sort(key=lambda sc: order.index(sc[0]) if sc[0] in order else len(order))
for stage, component in seen:
    cells = []
    for v in variants:
        values = detail.get((v, stage, component))
        cells.append(f"{statistics.median(values):.2f}" if values else "–")
    print(f"| {stage} | {component} | " + " | ".join(cells) + " |")
EOF
