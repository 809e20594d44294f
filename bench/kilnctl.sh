#!/usr/bin/env bash
# Row K1 of docs/BENCHMARKS.md: kilnctl's own cost over SSH. A private sshd on loopback (as
# in the tests: generated keys, nothing of the system's sshd touched); a document with three
# phases of five ExecuteBash steps; measured interleaved with hyperfine:
#   by hand: what a person types for the same work over one shared connection: open a
#            ControlMaster, mkdir + scp the document, `kiln run --phases P --execution-id
#            ID-P --reboot-mode exit ...` once per phase, tar the log folder back, close;
#   kilnctl: `kilnctl run --target ssh://... --documents DOC` doing the same.
# The ratio of medians, divided by nothing: it is per run of three phases, so the per-phase
# overhead is (kilnctl - by hand) / 3. Target: <= 1.1x.
#
#   bench/kilnctl.sh [BUILD_FOLDER] [RUNS]     (default build, 10)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=$(cd "${1:-$ROOT/build}" && pwd)
RUNS=${2:-10}
KILN=$BUILD/kiln
KILNCTL=$BUILD/kilnctl
command -v hyperfine >/dev/null || { echo "bench/kilnctl.sh: needs hyperfine (apt-get install hyperfine)" >&2; exit 2; }
W=$(mktemp -d /tmp/kiln-bench-ssh.XXXXXX)
SSHD_PID=""
cleanup() {
  [ -n "$SSHD_PID" ] && kill "$SSHD_PID" 2>/dev/null || true
  pkill -f "ControlPath=$W/cm" 2>/dev/null || true  # a master left by a failed run
  rm -rf "$W"
}
trap cleanup EXIT

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
ssh-keygen -q -t ed25519 -N '' -f "$W/host_key"
ssh-keygen -q -t ed25519 -N '' -f "$W/client_key"
cp "$W/client_key.pub" "$W/authorized_keys"
cat > "$W/sshd_config" <<EOF
Port $PORT
ListenAddress 127.0.0.1
HostKey $W/host_key
PidFile $W/sshd.pid
AuthorizedKeysFile $W/authorized_keys
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
UsePAM no
StrictModes no
Subsystem sftp internal-sftp
EOF
mkdir -p /run/sshd
/usr/sbin/sshd -D -f "$W/sshd_config" -E "$W/sshd.log" &
SSHD_PID=$!
for _ in $(seq 100); do [ -s "$W/sshd.pid" ] && break; sleep 0.05; done

{
  echo "name: bench-three-phases"
  echo "schemaVersion: 1.0"
  echo "phases:"
  for phase in build validate test; do
    echo "  - name: $phase"
    echo "    steps:"
    for i in 1 2 3 4 5; do
      echo "      - name: S$i"
      echo "        action: ExecuteBash"
      echo "        inputs:"
      echo "          commands:"
      echo "            - \"true\""
    done
  done
} > "$W/doc.yml"

SSH_OPTS="-i $W/client_key -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR -o BatchMode=yes"
DEST=root@127.0.0.1
REMOTE=$W/remote   # the target is this machine: its work folder is a local path too
cat > "$W/by_hand.sh" <<EOF
#!/usr/bin/env bash
set -euo pipefail
ssh $SSH_OPTS -p $PORT -o ControlMaster=yes -o ControlPath=$W/cm -o ControlPersist=no -N -f $DEST > /dev/null 2>&1 < /dev/null
S="ssh $SSH_OPTS -p $PORT -o ControlPath=$W/cm"
\$S $DEST mkdir -p $REMOTE/documents
scp -q $SSH_OPTS -P $PORT -o ControlPath=$W/cm $W/doc.yml $DEST:$REMOTE/documents/doc.yml
for phase in build validate test; do
  \$S $DEST $KILN run --documents $REMOTE/documents/doc.yml --phases \$phase --execution-id hand-\$phase \\
    --reboot-mode exit --log-directory $REMOTE/logs --state-directory $REMOTE/state > /dev/null
done
mkdir -p $W/local-logs/hand
\$S $DEST tar -C $REMOTE/logs -cf - . | tar -C $W/local-logs/hand -xf -
\$S -O exit $DEST 2>/dev/null
EOF
chmod +x "$W/by_hand.sh"
clean="rm -rf $REMOTE $W/local-logs"
kilnctl_cmd="$KILNCTL run --target ssh://$DEST:$PORT --identity $W/client_key --ssh-option StrictHostKeyChecking=no \
--ssh-option UserKnownHostsFile=/dev/null --ssh-option LogLevel=ERROR --agent $KILN --documents $W/doc.yml \
--work-directory $REMOTE --logs $W/local-logs --execution-id ctl"

# Both must work before they are timed.
bash -c "$clean" && "$W/by_hand.sh" && bash -c "$clean" && $kilnctl_cmd > /dev/null
hyperfine -N --runs "$RUNS" --warmup 2 --style basic --export-json "$W/r.json" \
  --prepare "$clean" -n "by hand (ssh + scp + 3 x kiln run + tar)" "$W/by_hand.sh" \
  --prepare "$clean" -n "kilnctl run (3 phases)" "$kilnctl_cmd" > "$W/hyperfine.log" 2>&1 \
  || { cat "$W/hyperfine.log"; exit 1; }
python3 - "$W/r.json" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))["results"]
hand, ctl = (x["median"] * 1000 for x in r)
print(f"by hand: {hand:.0f} ms median; kilnctl: {ctl:.0f} ms median; ratio {ctl / hand:.2f}x; "
      f"per phase {(ctl - hand) / 3:+.1f} ms")
EOF
