#!/usr/bin/env bash
# kiln's benchmark suite: one command, not part of the default test run.
#
#   bench/run.sh [--runs N] [--rounds N] [--quick] [--no-profile] [--no-write]
#
# Installs what it needs (Debian packages), builds kiln in Release into build-bench/,
# generates the documents and file trees into a temporary folder, measures every row
# (hyperfine for whole processes, Google Benchmark for the micro-benchmarks, GNU time
# for peak RSS, callgrind/massif for the profiles), prints the table and writes
# docs/BENCHMARKS.md. Baseline and kiln are measured in the same run, interleaved in
# rounds, so a busy machine slows both alike; every ratio is of medians.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"

RUNS=5          # hyperfine runs per command and round
ROUNDS=3        # rounds: each round measures baseline and kiln back to back
PROFILE=1
WRITE=1
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) RUNS=$2; shift 2 ;;
    --rounds) ROUNDS=$2; shift 2 ;;
    --quick) RUNS=2; ROUNDS=1; shift ;;
    --no-profile) PROFILE=0; shift ;;
    --no-write) WRITE=0; shift ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) echo "bench/run.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
BIG_RUNS=$(( RUNS > 2 ? RUNS / 2 : 1 ))   # for the 1 GiB output row

# --- what the benchmarks need ------------------------------------------------------
scripts/setup.sh >/dev/null
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
need=()
for p in hyperfine time libbenchmark-dev valgrind ansible-core python3 curl binutils; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
  echo "bench: installing ${need[*]}"
  $SUDO apt-get update -q >/dev/null
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${need[@]}" >/dev/null
fi

# --- build (Release; -O2: GCC 12 at -O3 reports a false -Wrestrict in std::string, PR 105329)
echo "bench: building kiln (Release) into build-bench/"
cmake -S . -B build-bench -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_CXX_FLAGS_RELEASE="-O2 -DNDEBUG" -DCMAKE_C_FLAGS_RELEASE="-O2 -DNDEBUG" \
  -DBUILD_TESTING=OFF -DKILN_BENCH=ON >/dev/null
cmake --build build-bench -j "$(nproc)" >/dev/null
K=$ROOT/build-bench/kiln

# --- folders: DISK is on the real disk (durable journal, file trees, 1 GiB output),
# FAST is tmpfs (state and logs where the row is about the agent, not the disk).
DISK=$(mktemp -d "${KILN_BENCH_DISK:-/var/tmp}/kiln-bench.XXXXXX")
if [ -d /dev/shm ] && [ -w /dev/shm ]; then FAST=$(mktemp -d /dev/shm/kiln-bench.XXXXXX); else FAST=$(mktemp -d); fi
RES=$DISK/results
DOCS=$DISK/docs
mkdir -p "$RES" "$DOCS"
SERVER_PID=""
cleanup() {
  [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null || true
  # Keep the raw results (hyperfine exports, values, profiles) for inspection:
  # python3 bench/report.py build-bench/bench-results regenerates the table from them.
  if [ -d "$RES" ]; then rm -rf "$ROOT/build-bench/bench-results" && cp -r "$RES" "$ROOT/build-bench/bench-results"; fi
  rm -rf "$DISK" "$FAST"
}
trap cleanup EXIT
record() { printf '%s\t%s\n' "$1" "$2" >>"$RES/values.tsv"; }
# CPU counters (jiffies): busy and total, to report how busy the machine was meanwhile.
cpu_counters() { awk '/^cpu / {print $2+$3+$4+$7+$8+$9, $2+$3+$4+$5+$6+$7+$8+$9}' /proc/stat; }

# bench NAME [-i] PREPARE1 COMMAND1 [PREPARE2 COMMAND2 ...]
# ROUNDS hyperfine calls, each running every command RUNS times (after one warm-up run).
bench() {
  local name=$1; shift
  local extra=()
  if [ "$1" = "-i" ]; then extra+=(-i); shift; fi
  local runs=${BENCH_RUNS:-$RUNS}
  local args=() cmds=()
  while [ $# -gt 0 ]; do args+=(--prepare "$1"); shift; cmds+=("$1"); shift; done
  for ((r = 1; r <= ROUNDS; r++)); do
    hyperfine -N --style basic --warmup 1 --runs "$runs" "${extra[@]}" "${args[@]}" "${cmds[@]}" \
      --export-json "$RES/$name.r$r.json" >>"$RES/hyperfine.log" 2>&1
  done
  echo "  $name: done"
}

# peak_rss NAME PREPARE COMMAND...: the largest max-RSS (KiB) of 3 runs, from wait4's rusage.
peak_rss() {
  local name=$1 prepare=$2; shift 2
  local best=0 kb
  for _ in 1 2 3; do
    bash -c "$prepare"
    kb=$(/usr/bin/time -f '%M' -o "$RES/time.out" "$@" >/dev/null 2>&1; tail -1 "$RES/time.out")
    [ "$kb" -gt "$best" ] && best=$kb
    bash -c "$prepare"
  done
  record "$name" "$best"
}

# --- machine -----------------------------------------------------------------------
record machine.cpu "$(lscpu | sed -n 's/^Model name: *//p' | head -1)"
record machine.cores "$(nproc)"
record machine.memory "$(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo)"
record machine.kernel "$(uname -sr)"
record machine.os "$(. /etc/os-release && echo "$PRETTY_NAME")"
record machine.disk "$(findmnt -no FSTYPE,SOURCE -T "$DISK" | head -1 | tr -s ' ') at $(findmnt -no TARGET -T "$DISK" | head -1) ($DISK)"
record machine.fast "$(findmnt -no FSTYPE -T "$FAST" | head -1) ($FAST)"
record machine.load "$(cut -d' ' -f1-3 /proc/loadavg)"
record machine.date "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
record tool.hyperfine "$(hyperfine --version)"
record tool.compiler "$(c++ --version | head -1)"
record tool.bash "$(bash --version | head -1)"
record tool.ansible "$(ansible --version 2>/dev/null | head -1)"
record tool.kiln "$($K --version)"
record settings "runs=$RUNS rounds=$ROUNDS"

# --- documents ---------------------------------------------------------------------
# shellcheck source=bench/documents.sh
source "$ROOT/bench/documents.sh"
echo "bench: generating documents and data in $DISK"
steps bash500 500 ExecuteBash 'commands:' '  - "true"'
steps bash50 50 ExecuteBash 'commands:' '  - "true"'
steps bin500 500 ExecuteBinary 'path: /bin/true'
steps out1g 1 ExecuteBash 'commands:' "  - cat $DISK/1g.txt"
steps out4m 1 ExecuteBash 'commands:' "  - head -c 4194304 $DISK/1g.txt"
steps copy 1 CopyFolder '- source: '"$FAST/tree" '  destination: '"$FAST/copy-dst"
steps delete 1 DeleteFolder '- path: '"$FAST/victim" '  force: true'
big10k
{
  printf -- '- hosts: localhost\n  connection: local\n  gather_facts: false\n  tasks:\n'
  for ((i = 0; i < 50; i++)); do printf '    - name: step %d\n      shell: "true"\n' "$i"; done
} >"$DOCS/ansible50.yml"
# 1 GiB of 100-byte lines.
{ yes "$(printf '%099d' 0 | tr 0 x)" || true; } | head -c 1073741824 >"$DISK/1g.txt"
# 20,000 small files (100 folders x 200 files, 200-2000 bytes).
python3 - "$FAST/tree" <<'EOF'
import os, sys
root = sys.argv[1]
for d in range(100):
    folder = os.path.join(root, f"dir{d:03d}")
    os.makedirs(folder)
    for f in range(200):
        with open(os.path.join(folder, f"file{f:03d}.txt"), "wb") as out:
            out.write(b"k" * (200 + (d * 200 + f) * 7 % 1800))
EOF
CORPUS=$(ls "$ROOT"/tests/corpus/docs/* | paste -sd, -)
record corpus.count "$(ls "$ROOT"/tests/corpus/docs | wc -l)"
sync

# State and logs on tmpfs; state on the real disk (logs on tmpfs); both on the real disk.
run_fast() { echo "$K run --documents $DOCS/$1.yml --state-directory $FAST/st --log-directory $FAST/logs"; }
run_state_disk() { echo "$K run --documents $DOCS/$1.yml --state-directory $DISK/st --log-directory $FAST/logs"; }
run_disk() { echo "$K run --documents $DOCS/$1.yml --state-directory $DISK/st --log-directory $DISK/logs"; }
CLEAN_FAST="rm -rf $FAST/st $FAST/logs"
# On ext4, files created right after thousands were deleted cost far more (the inode
# allocator skips recently deleted inodes: perf shows recently_deleted and
# find_get_block_common), so folders on the disk are moved aside between runs, never
# deleted while measuring.
mkdir -p "$DISK/trash"
CLEAN_DISK="bash -c 'for d in $DISK/st $DISK/logs; do [ -e \$d ] && mv \$d $DISK/trash/\$(date +%s%N)-\${d##*/}; done; rm -rf $FAST/logs; true'"

# --- rows ----------------------------------------------------------------------------
echo "bench: measuring (runs=$RUNS per round, rounds=$ROUNDS)"
read -r busy0 total0 < <(cpu_counters)
# 1, 2, J2, J3. Per-step overhead of ExecuteBash and ExecuteBinary against their baselines,
# the same documents with the state directory (durable journal) on the real disk, and the
# disk's flush latency at the same moments (500 O_DSYNC appends of 512 bytes), all in one
# interleaved set: the disk's flush time drifts a lot over minutes on this machine.
bench steps \
  true "bash -c 'for i in \$(seq 500); do bash -c true; done'" \
  "$CLEAN_FAST" "$(run_fast bash500)" \
  "$CLEAN_DISK" "$(run_state_disk bash500)" \
  true "$ROOT/build-bench/bench_spawn_true 500" \
  "$CLEAN_FAST" "$(run_fast bin500)" \
  "$CLEAN_DISK" "$(run_state_disk bin500)" \
  "rm -f $DISK/flush.bin" "dd if=/dev/zero of=$DISK/flush.bin bs=512 count=500 oflag=dsync status=none"
# 1b. For context: 50 steps through Ansible's shell module (local connection).
export ANSIBLE_HOME=$DISK/ansible ANSIBLE_LOCALHOST_WARNING=False ANSIBLE_INVENTORY_UNPARSED_WARNING=False \
  ANSIBLE_NOCOLOR=1 ANSIBLE_RETRY_FILES_ENABLED=False ANSIBLE_PYTHON_INTERPRETER=/usr/bin/python3
BENCH_RUNS=$(( RUNS > 3 ? 3 : RUNS )) bench ansible \
  true "ansible-playbook -i localhost, -c local $DOCS/ansible50.yml" \
  "$CLEAN_FAST" "$(run_fast bash50)"
# 3. Validation.
bench validate -i \
  true "$K validate --documents $CORPUS" \
  true "$K validate --documents $DOCS/big10k.yml"
# 4. 1 GiB of output: cat into a file; kiln (console.log on the same disk); a pipe for context.
BENCH_RUNS=$BIG_RUNS bench output \
  "rm -f $DISK/cat.out" "bash -c 'cat $DISK/1g.txt > $DISK/cat.out'" \
  "rm -rf $DISK/st $DISK/logs" "$(run_disk out1g)" \
  "rm -f $DISK/cat.out" "bash -c 'cat $DISK/1g.txt | cat > $DISK/cat.out'"
rm -f "$DISK/cat.out"
peak_rss output.rss "rm -rf $DISK/st $DISK/logs" $(run_disk out1g)
peak_rss output4m.rss "rm -rf $DISK/st $DISK/logs" $(run_disk out4m)
# 5. CopyFolder and DeleteFolder, on tmpfs: on ext4 the same `cp -a` took 1.3 s to 33 s
# here depending on what was deleted just before (see CLEAN_DISK), which drowns the tools.
if grep -q '"CopyFolder"' actions/registry.cpp; then
  bench copy \
    "rm -rf $FAST/copy-dst" "cp -a $FAST/tree $FAST/copy-dst" \
    "rm -rf $FAST/copy-dst $FAST/st $FAST/logs" "$(run_fast copy)"
  rm -rf "$FAST/copy-dst"
else record copy.missing 1; fi
if grep -q '"DeleteFolder"' actions/registry.cpp; then
  bench delete \
    "bash -c 'rm -rf $FAST/victim && cp -a $FAST/tree $FAST/victim'" "rm -rf $FAST/victim" \
    "bash -c 'rm -rf $FAST/victim $FAST/st $FAST/logs && cp -a $FAST/tree $FAST/victim'" "$(run_fast delete)"
  rm -rf "$FAST/victim"
else record delete.missing 1; fi
# 6. Network actions (the network issue).
for action in S3Download WebDownload; do
  grep -q "\"$action\"" actions/registry.cpp && record "net.$action" registered || record "net.$action" missing
done
if grep -q '"WebDownload"' actions/registry.cpp; then
  mkdir -p "$DISK/www" && head -c 268435456 "$DISK/1g.txt" >"$DISK/www/256m.bin"
  port=18089
  (cd "$DISK/www" && exec python3 -m http.server "$port" --bind 127.0.0.1 >/dev/null 2>&1) &
  SERVER_PID=$!
  sleep 1
  steps web 1 WebDownload "- source: http://127.0.0.1:$port/256m.bin" "  destination: $DISK/web.out"
  bench web \
    "rm -f $DISK/web.out" "curl -s -o $DISK/web.out http://127.0.0.1:$port/256m.bin" \
    "rm -rf $DISK/web.out $FAST/st $FAST/logs" "$(run_fast web)"
  kill "$SERVER_PID" 2>/dev/null || true; SERVER_PID=""
fi
# 7. Footprint: peak RSS of a small document, binary size, startup.
peak_rss small.rss "$CLEAN_FAST" "$K" run --documents "$ROOT/examples/hello-world.yml" \
  --state-directory "$FAST/st" --log-directory "$FAST/logs"
bench startup true "/bin/true" true "$K --version"
record binary.bytes "$(stat -c %s "$K")"
strip -o "$DISK/kiln.stripped" "$K"
record binary.stripped "$(stat -c %s "$DISK/kiln.stripped")"
record binary.libs "$(ldd "$K" | grep -c '=>')"
# 7b. The same small document with a state directory holding 10 finished 500-step runs.
for _ in $(seq 10); do $K run --documents "$DOCS/bin500.yml" --state-directory "$FAST/history" --log-directory "$FAST/hlogs" >/dev/null; done
rm -rf "$FAST/hlogs"
record history.bytes "$(du -sb "$FAST/history" | cut -f1)"
peak_rss history.rss "rm -rf $FAST/logs" "$K" run --documents "$ROOT/examples/hello-world.yml" \
  --state-directory "$FAST/history" --log-directory "$FAST/logs"
bench history \
  "$CLEAN_FAST" "$K run --documents $ROOT/examples/hello-world.yml --state-directory $FAST/st --log-directory $FAST/logs" \
  "rm -rf $FAST/logs" "$K run --documents $ROOT/examples/hello-world.yml --state-directory $FAST/history --log-directory $FAST/logs"
# Micro-benchmarks: journal appends (on the real disk), spawn vs agent memory, console.log.
echo "  micro: running kiln_micro"
KILN_BENCH_DIR=$DISK "$ROOT/build-bench/kiln_micro" --benchmark_repetitions=5 --benchmark_enable_random_interleaving=true \
  --benchmark_report_aggregates_only=true \
  --benchmark_out="$RES/micro.json" --benchmark_out_format=json >>"$RES/micro.log" 2>&1

read -r busy1 total1 < <(cpu_counters)
record machine.busy "$(( 100 * (busy1 - busy0) / (total1 - total0) ))"
record machine.load_end "$(cut -d' ' -f1-3 /proc/loadavg)"

# --- profiles (callgrind instruction counts are repeatable; massif for heap) -----------
if [ "$PROFILE" = 1 ]; then
  echo "  profiles: callgrind and massif"
  rm -rf "$FAST/st" "$FAST/logs"
  valgrind --tool=callgrind --callgrind-out-file="$RES/cg.bin500" $(run_fast bin500) >/dev/null 2>"$RES/cg.bin500.log"
  callgrind_annotate --inclusive=yes "$RES/cg.bin500" >"$RES/cg.bin500.txt" 2>/dev/null
  valgrind --tool=callgrind --callgrind-out-file="$RES/cg.validate" "$K" validate --documents "$DOCS/big10k.yml" >/dev/null 2>"$RES/cg.validate.log"
  callgrind_annotate --inclusive=yes "$RES/cg.validate" >"$RES/cg.validate.txt" 2>/dev/null
  rm -rf "$DISK/st" "$DISK/logs"
  valgrind --tool=massif --massif-out-file="$RES/massif.out4m" $(run_disk out4m) >/dev/null 2>"$RES/massif.log"
  ms_print "$RES/massif.out4m" >"$RES/massif.out4m.txt"
  rm -rf "$DISK/st" "$DISK/logs"
fi

# --- report ----------------------------------------------------------------------------
args=("$RES")
[ "$WRITE" = 1 ] && args+=(--write "$ROOT/docs/BENCHMARKS.md")
python3 "$ROOT/bench/report.py" "${args[@]}"
