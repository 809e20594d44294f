#!/usr/bin/env bash
# Row 6 of docs/BENCHMARKS.md: S3Download against s3rver on loopback, kiln (`kiln run` of a
# one-step document) against the AWS CLI (/usr/bin/aws), interleaved, RUNS runs each:
#   a) one 200 MB object:            kiln vs `aws s3 cp s3://b/big.bin FILE`   (target <= 1.0x)
#   b) 1,000 x 4 KiB under a prefix: kiln vs `aws s3 cp --recursive`           (target <= 0.5x)
# kiln talks to s3rver directly here (no verifying proxy: the proxy is a test fixture and
# would measure Python). Destinations and data live in /tmp and are deleted at the end.
#
#   bench/s3.sh [KILN_BINARY] [RUNS]     (default build/kiln, 3)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
KILN=${1:-$ROOT/build/kiln}
RUNS=${2:-3}
S3RVER=${KILN_S3RVER:-/var/cache/kiln-test/s3rver/node_modules/.bin/s3rver}
AWS=/usr/bin/aws
WORK=$(mktemp -d /tmp/kiln-bench-s3.XXXXXX)
S3_PID=""
cleanup() {
  [ -n "$S3_PID" ] && kill "$S3_PID" 2>/dev/null && wait "$S3_PID" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

# s3rver 3.7's ListObjectsV2 continuation tokens use DES: node 20 needs the legacy provider.
NODE_OPTIONS=--openssl-legacy-provider "$S3RVER" -d "$WORK/data" -a 127.0.0.1 -p 0 --silent \
  --configure-bucket kiln-bench --no-vhost-buckets > "$WORK/s3rver.out" 2>&1 &
S3_PID=$!
for _ in $(seq 100); do grep -q 'listening on' "$WORK/s3rver.out" 2>/dev/null && break; sleep 0.1; done
PORT=$(grep -o 'listening on [0-9.]*:[0-9]*' "$WORK/s3rver.out" | sed 's/.*://')
if [ -z "$PORT" ]; then  # --silent hides the banner: find the port from the socket table
  PORT=$(ss -ltnp | awk -v pid="pid=$S3_PID," '$0 ~ pid {split($4, a, ":"); print a[2]; exit}')
fi
ENDPOINT="http://127.0.0.1:$PORT"
export AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1 \
  AWS_EC2_METADATA_DISABLED=true AWS_ENDPOINT_URL_S3=$ENDPOINT
unset AWS_PROFILE AWS_SESSION_TOKEN AWS_ENDPOINT_URL
awsq() { "$AWS" --endpoint-url "$ENDPOINT" "$@" --only-show-errors; }

mkdir -p "$WORK/src/many"
head -c $((200 * 1000 * 1000)) /dev/urandom > "$WORK/src/big.bin"
for i in $(seq -w 1 1000); do head -c 4096 /dev/urandom > "$WORK/src/many/f$i.bin"; done
awsq s3 cp "$WORK/src/big.bin" s3://kiln-bench/big.bin
awsq s3 cp --recursive "$WORK/src/many" s3://kiln-bench/many/
BIG_SHA=$(sha256sum < "$WORK/src/big.bin")

doc() {  # doc NAME SOURCE DESTINATION
  cat > "$WORK/$1.yml" <<DOC
schemaVersion: 1.0
phases:
  - name: build
    steps:
      - name: Download
        action: S3Download
        inputs:
          - source: $2
            destination: $3
DOC
}
doc single s3://kiln-bench/big.bin "$WORK/dest/big.bin"
doc prefix 's3://kiln-bench/many/*' "$WORK/dest/many"

now() { date +%s%N; }
declare -A times
n=0
run() {  # run LABEL COMMAND...; times in ms appended to times[LABEL]
  # Moved aside, not deleted: on ext4, creating files right after thousands were deleted
  # costs ~0.8 ms per file (the inode allocator scans recently deleted inodes; see
  # docs/BENCHMARKS.md, Method), which would measure the deletion, not the download.
  n=$((n + 1)); mkdir -p "$WORK/trash"
  [ -d "$WORK/dest" ] && mv "$WORK/dest" "$WORK/trash/$n"
  rm -rf "$WORK/state" "$WORK/logs"; mkdir -p "$WORK/dest"; sync
  local t0 t1; t0=$(now); "${@:2}" > "$WORK/out.txt" 2>&1 || { cat "$WORK/out.txt"; exit 1; }; t1=$(now)
  times[$1]+="$(( (t1 - t0) / 1000000 )) "
}
check_single() { [ "$(sha256sum < "$WORK/dest/big.bin")" = "$BIG_SHA" ] || { echo "bad download"; exit 1; }; }
check_many() { [ "$(find "$WORK/dest/many" -type f | wc -l)" = 1000 ] || { echo "missing files"; exit 1; }; }
kiln_run() { "$KILN" run --documents "$WORK/$1.yml" --log-directory "$WORK/logs" --state-directory "$WORK/state"; }

for r in $(seq "$RUNS"); do
  run aws_single awsq s3 cp s3://kiln-bench/big.bin "$WORK/dest/big.bin"; check_single
  run kiln_single kiln_run single; check_single
  run aws_many awsq s3 cp --recursive s3://kiln-bench/many/ "$WORK/dest/many"; check_many
  run kiln_many kiln_run prefix; check_many
  echo "round $r: ${times[aws_single]}| ${times[kiln_single]}| ${times[aws_many]}| ${times[kiln_many]}"
done

median() { tr ' ' '\n' <<< "$1" | grep . | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
for pair in single many; do
  a=$(median "${times[aws_$pair]}"); k=$(median "${times[kiln_$pair]}")
  echo "$pair: aws ${times[aws_$pair]}ms (median $a) | kiln ${times[kiln_$pair]}ms (median $k) | ratio $(awk -v k="$k" -v a="$a" 'BEGIN {printf "%.2f", k / a}')x"
done
echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ); $(nproc) cores; load $(cut -d' ' -f1-3 /proc/loadavg); s3rver on loopback, no proxy"
