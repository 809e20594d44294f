#!/usr/bin/env bash
# Row 6 of docs/BENCHMARKS.md: WebDownload of a 1 GiB file from nginx on loopback, kiln
# (`kiln run` of a one-step document) against `curl -s -o` of the same URL, interleaved,
# RUNS runs each. Prints each run, the median throughputs, their ratio (target >= 0.9x
# curl) and kiln's peak RSS from /usr/bin/time -v (target <= 20 MB).
#
#   bench/web_download.sh [KILN_BINARY] [RUNS]     (default build/kiln, 3)
#
# The destination is on /dev/shm (tmpfs) by default so that the disk's write-back speed
# does not decide the race; DEST_DIR=/var/tmp/x measures on the disk (kiln fsyncs the
# file before its rename, curl does not). The 1 GiB source lives in /tmp and is deleted
# at the end.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
KILN=${1:-$ROOT/build/kiln}
RUNS=${2:-3}
DEST_DIR=${DEST_DIR:-/dev/shm/kiln-bench-web.$$}
WORK=$(mktemp -d /tmp/kiln-bench-web.XXXXXX)
chmod 755 "$WORK"
mkdir -p "$WORK/www" "$WORK/tmp" "$DEST_DIR"
NGINX_PID=""
cleanup() {
  [ -n "$NGINX_PID" ] && kill "$NGINX_PID" 2>/dev/null && wait "$NGINX_PID" 2>/dev/null || true
  rm -rf "$WORK" "$DEST_DIR"
}
trap cleanup EXIT

head -c $((1024 * 1024 * 1024)) /dev/urandom > "$WORK/www/big.bin"
chmod 644 "$WORK/www/big.bin"
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat > "$WORK/nginx.conf" <<EOF
daemon off; worker_processes 1; pid $WORK/nginx.pid; error_log $WORK/error.log;
events { worker_connections 64; }
http { access_log off; sendfile on; client_body_temp_path $WORK/tmp; proxy_temp_path $WORK/tmp;
       fastcgi_temp_path $WORK/tmp; uwsgi_temp_path $WORK/tmp; scgi_temp_path $WORK/tmp;
       server { listen 127.0.0.1:$PORT; root $WORK/www; } }
EOF
/usr/sbin/nginx -c "$WORK/nginx.conf" -e "$WORK/error.log" -p "$WORK" &
NGINX_PID=$!
for _ in $(seq 50); do curl -s -o /dev/null "http://127.0.0.1:$PORT/" && break; sleep 0.1; done
URL="http://127.0.0.1:$PORT/big.bin"
cat > "$WORK/doc.yml" <<EOF
schemaVersion: 1.0
phases:
  - name: build
    steps:
      - name: Download
        action: WebDownload
        inputs:
          - source: $URL
            destination: $DEST_DIR/kiln.bin
EOF
# Warm the page cache with the source once.
cat "$WORK/www/big.bin" > /dev/null
unset http_proxy HTTP_PROXY

seconds() { python3 -c 'import sys; print("%.3f" % (float(sys.argv[2]) - float(sys.argv[1])))' "$1" "$2"; }
kiln_times=() curl_times=() rss=()
for i in $(seq "$RUNS"); do
  rm -f "$DEST_DIR"/*.bin
  t0=$(date +%s.%N)
  curl -s -o "$DEST_DIR/curl.bin" "$URL"
  t1=$(date +%s.%N)
  curl_times+=("$(seconds "$t0" "$t1")")
  rm -f "$DEST_DIR"/*.bin
  t0=$(date +%s.%N)
  /usr/bin/time -v -o "$WORK/time.txt" "$KILN" run --documents "$WORK/doc.yml" --log-directory "$WORK/logs" \
    --state-directory "$WORK/state" > "$WORK/kiln.out" 2>&1 || { cat "$WORK/kiln.out"; exit 1; }
  t1=$(date +%s.%N)
  kiln_times+=("$(seconds "$t0" "$t1")")
  cmp -s "$DEST_DIR/kiln.bin" "$WORK/www/big.bin" || { echo "kiln's file differs from the source" >&2; exit 1; }
  rss+=("$(awk -F': ' '/Maximum resident set size/ {print $2}' "$WORK/time.txt")")
  echo "run $i: curl ${curl_times[-1]} s, kiln ${kiln_times[-1]} s, kiln peak RSS ${rss[-1]} KiB"
done
python3 - "${curl_times[*]}" "${kiln_times[*]}" "${rss[*]}" <<'EOF'
import statistics, sys
curl = [float(x) for x in sys.argv[1].split()]
kiln = [float(x) for x in sys.argv[2].split()]
rss = [int(x) for x in sys.argv[3].split()]
gib = 1.0
c, k = statistics.median(curl), statistics.median(kiln)
print("median: curl %.3f s (%.2f GiB/s), kiln %.3f s (%.2f GiB/s)" % (c, gib / c, k, gib / k))
print("throughput ratio kiln/curl: %.2fx of medians, %.2fx of best runs (target >= 0.9x)" % (c / k, min(curl) / min(kiln)))
print("kiln peak RSS: max %.1f MiB (target <= 20 MB)" % (max(rss) / 1024.0))
EOF
