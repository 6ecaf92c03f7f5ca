#!/usr/bin/env bash
# Throughput of `scp` of a 200 MB file through the proxy with recording on, against the same
# scp through the same proxy binary with --no-record (and, for reference, straight to sshd).
# Medians of 3 runs of each, interleaved, in one run. Needs OpenSSH (sshd, ssh, scp).
#
#   bash examples/ssh-recording-proxy/bench-scp.sh [SIZE_MB]
set -euo pipefail
cd "$(dirname "$0")/../.."
SIZE_MB=${1:-200}
RUNS=3

cargo build --release --locked -q -p ssh-recording-proxy
PROXY=$PWD/target/release/ssh-recording-proxy
KEK=$PWD/testdata/keys/test-kek.hex
RECKEY=$PWD/testdata/keys/test-recorder.key

T=$(mktemp -d /tmp/bsr-bench-scp.XXXXXX)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$T"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
for k in host_key proxy_host_key client_key upstream_key; do ssh-keygen -q -t ed25519 -N '' -f "$T/$k"; done
cp "$T/upstream_key.pub" "$T/sshd_authorized_keys"
cat "$T/client_key.pub" >> "$T/sshd_authorized_keys"   # for the direct reference run
cp "$T/client_key.pub" "$T/proxy_authorized_keys"
mkdir -p /run/sshd 2>/dev/null || true

SSHD_PORT=$(free_port)
cat > "$T/sshd_config" <<EOF
Port $SSHD_PORT
ListenAddress 127.0.0.1
HostKey $T/host_key
PidFile $T/sshd.pid
AuthorizedKeysFile $T/sshd_authorized_keys
StrictModes no
UsePAM no
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
Subsystem sftp internal-sftp
LogLevel ERROR
EOF
/usr/sbin/sshd -D -e -f "$T/sshd_config" 2>"$T/sshd.log" & PIDS+=($!)

start_proxy() { # name, extra args... -> sets PORT (not in a subshell: the pid must reach PIDS)
  local name=$1; shift
  "$PROXY" --listen 127.0.0.1:0 --host-key "$T/proxy_host_key" --authorized-keys "$T/proxy_authorized_keys" \
    --upstream "127.0.0.1:$SSHD_PORT" --upstream-key "$T/upstream_key" --upstream-host-key "$T/host_key.pub" \
    "$@" >"$T/$name.out" 2>"$T/$name.log" & PIDS+=($!)
  for _ in $(seq 100); do grep -q '^listening on' "$T/$name.out" 2>/dev/null && break; sleep 0.05; done
  PORT=$(sed -n 's/^listening on .*:\([0-9]*\)$/\1/p' "$T/$name.out")
  [ -n "$PORT" ] || { echo "proxy $name did not start:" >&2; cat "$T/$name.log" >&2; exit 1; }
}
start_proxy rec --recordings "$T/recordings" --kek "$KEK" --recorder-key "$RECKEY"; REC_PORT=$PORT
start_proxy norec --no-record; NOREC_PORT=$PORT
for _ in $(seq 100); do (echo >/dev/tcp/127.0.0.1/"$SSHD_PORT") 2>/dev/null && break; sleep 0.05; done

head -c "$((SIZE_MB * 1000 * 1000))" /dev/urandom > "$T/payload.bin"
OPTS=(-F /dev/null -i "$T/client_key" -o IdentitiesOnly=yes -o StrictHostKeyChecking=no
      -o UserKnownHostsFile=/dev/null -o BatchMode=yes -o LogLevel=ERROR -q)
USER_NAME=$(id -un)

one() { # port -> seconds
  local t0 t1
  t0=$(date +%s.%N)
  scp "${OPTS[@]}" -P "$1" "$T/payload.bin" "$USER_NAME@127.0.0.1:$T/copy.bin"
  t1=$(date +%s.%N)
  cmp -s "$T/payload.bin" "$T/copy.bin" || { echo "copy differs" >&2; exit 1; }
  rm -f "$T/copy.bin"
  echo "$t1 - $t0" | bc -l
}
median() { printf '%s\n' "$@" | sort -g | sed -n "$(( ($# + 1) / 2 ))p"; }

declare -a REC NOREC DIRECT
for i in $(seq $RUNS); do
  NOREC+=("$(one "$NOREC_PORT")")
  REC+=("$(one "$REC_PORT")")
  DIRECT+=("$(one "$SSHD_PORT")")
done
# Every recorded run must have left a finished recording.
for _ in $(seq 100); do [ "$(ls "$T"/recordings/*/SHA256SUM.sig 2>/dev/null | wc -l)" -ge $RUNS ] && break; sleep 0.1; done
cargo build --release --locked -q -p bsr-verify
"$PWD/target/release/bsr-verify" -q --kek "$KEK" "$T"/recordings >/dev/null \
  || { echo "a recording did not verify" >&2; exit 1; }
REC_BYTES=$(du -sb "$T/recordings" | cut -f1)

mbps() { echo "scale=1; $SIZE_MB / $1" | bc -l; }
m_rec=$(median "${REC[@]}"); m_norec=$(median "${NOREC[@]}"); m_direct=$(median "${DIRECT[@]}")
echo "scp of $SIZE_MB MB (10^6 bytes), median of $RUNS, $(nproc) cores, $(ssh -V 2>&1)"
printf '  through the proxy, recording on : %6.2f s  %6s MB/s   (runs: %s)\n' "$m_rec" "$(mbps "$m_rec")" "${REC[*]}"
printf '  through the proxy, --no-record  : %6.2f s  %6s MB/s   (runs: %s)\n' "$m_norec" "$(mbps "$m_norec")" "${NOREC[*]}"
printf '  straight to sshd (reference)    : %6.2f s  %6s MB/s   (runs: %s)\n' "$m_direct" "$(mbps "$m_direct")" "${DIRECT[*]}"
echo "  recordings: $RUNS, $REC_BYTES bytes on disk, all intact and authentic (bsr-verify --kek)"
