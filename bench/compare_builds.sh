#!/usr/bin/env bash
# Compares two kiln binaries on the per-step rows of bench/run.sh (1: 500 x ExecuteBash,
# 2: 500 x ExecuteBinary, 3b: validating a 10,000-step document) and J2/J3 (the same 500
# steps with the state directory, the durable journal, on the real disk: KILN_COMPARE_DISK,
# default /var/tmp), measured interleaved in one hyperfine run each, so a busy machine slows
# both alike. For a refactor or added syncs: is the new build any slower than the old one?
#
#   bench/compare_builds.sh OLD_KILN NEW_KILN [RUNS]
set -euo pipefail
OLD=$1 NEW=$2 RUNS=${3:-10}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=$(mktemp -d /dev/shm/kiln-compare.XXXXXX 2>/dev/null || mktemp -d)
trap 'rm -rf "$WORK"' EXIT
cc -O2 -o "$WORK/spawn_true" "$ROOT/bench/spawn_true.c"
DOCS=$WORK
# shellcheck source=bench/documents.sh
source "$ROOT/bench/documents.sh"
steps bash500 500 ExecuteBash 'commands:' '  - "true"'
steps bin500 500 ExecuteBinary 'path: /bin/true'
big10k
run() { echo "$1 run --documents $WORK/$2.yml --state-directory $WORK/st --log-directory $WORK/logs"; }
clean="rm -rf $WORK/st $WORK/logs"
DISK=$(mktemp -d "${KILN_COMPARE_DISK:-/var/tmp}/kiln-compare.XXXXXX")
trap 'rm -rf "$WORK" "$DISK"' EXIT
mkdir -p "$DISK/trash"
# State on the disk, logs on WORK. On ext4, files created right after thousands were deleted
# cost more (bench/run.sh): the state folder is moved aside between runs, not deleted.
run_disk() { echo "$1 run --documents $WORK/$2.yml --state-directory $DISK/st --log-directory $WORK/logs"; }
clean_disk="bash -c '[ -e $DISK/st ] && mv $DISK/st $DISK/trash/\$(date +%s%N); rm -rf $WORK/logs; true'"
# hyperfine takes either one --prepare for all commands or one per command, in order.
hyperfine -N --runs "$RUNS" --warmup 1 --export-json "$WORK/r.json" \
  --prepare true -n bash-baseline "bash -c 'for i in \$(seq 500); do bash -c true; done'" \
  --prepare "$clean" -n old-bash500 "$(run "$OLD" bash500)" \
  --prepare "$clean" -n new-bash500 "$(run "$NEW" bash500)" \
  --prepare true -n spawn-baseline "$WORK/spawn_true 500" \
  --prepare "$clean" -n old-bin500 "$(run "$OLD" bin500)" \
  --prepare "$clean" -n new-bin500 "$(run "$NEW" bin500)" \
  --prepare "$clean_disk" -n old-bash500-disk "$(run_disk "$OLD" bash500)" \
  --prepare "$clean_disk" -n new-bash500-disk "$(run_disk "$NEW" bash500)" \
  --prepare "$clean_disk" -n old-bin500-disk "$(run_disk "$OLD" bin500)" \
  --prepare "$clean_disk" -n new-bin500-disk "$(run_disk "$NEW" bin500)" \
  --prepare true -n old-validate10k "$OLD validate --documents $WORK/big10k.yml" \
  --prepare true -n new-validate10k "$NEW validate --documents $WORK/big10k.yml" >/dev/null
python3 - "$WORK/r.json" <<'PY'
import json, sys, statistics
r = {x["command"]: statistics.median(x["times"]) for x in json.load(open(sys.argv[1]))["results"]}
def row(name, base, old, new):
    o, n = r[old], r[new]
    if base:
        b = r[base]
        print(f"{name:32s} old {o/b:5.2f}x  new {n/b:5.2f}x  of baseline {b*1000:7.1f} ms   new/old {n/o:5.3f}")
    else:
        print(f"{name:32s} old {o*1000:7.1f} ms  new {n*1000:7.1f} ms   new/old {n/o:5.3f}")
row("1  500 x ExecuteBash", "bash-baseline", "old-bash500", "new-bash500")
row("2  500 x ExecuteBinary", "spawn-baseline", "old-bin500", "new-bin500")
row("3b validate 10,000 steps", None, "old-validate10k", "new-validate10k")
row("J2 500 x ExecuteBash, disk", "new-bash500", "old-bash500-disk", "new-bash500-disk")
row("J3 500 x ExecuteBinary, disk", "new-bin500", "old-bin500-disk", "new-bin500-disk")
PY
