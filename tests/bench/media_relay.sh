#!/usr/bin/env bash
# Relay benchmark: Switchboard's media relay vs rtpengine (userspace, ng protocol) vs a bare relay, with
# the same load tool, in one run. The relay under test runs on CPU 1, the load generator on CPU 0.
#
#   tests/bench/media_relay.sh [CALLS...]        (default: 1000 1800 2500)
#
# Needs: Debian rtpengine-daemon (apt-get install rtpengine-daemon), root (rtpengine's socket buffers).
set -euo pipefail
cd "$(dirname "$0")/../.."
CALLS=("${@:-1000 1800 2500}")
read -r -a CALLS <<<"${CALLS[*]}"
SECONDS_PER_RUN=${SECONDS_PER_RUN:-10}

cargo build --release --locked -p switchboard-bench >/dev/null
BENCH=target/release/switchboard-bench

command -v rtpengine >/dev/null || { echo "rtpengine not installed (apt-get install rtpengine-daemon)"; exit 1; }
WORK=$(mktemp -d)
trap 'kill $(cat "$WORK/rtpengine.pid" 2>/dev/null) 2>/dev/null || true; rm -rf "$WORK"' EXIT

# Userspace forwarding (table -1), one worker thread, on the relay CPU.
taskset -c 1 rtpengine --table=-1 --interface=127.0.0.1 --listen-ng=127.0.0.1:2223 \
  --port-min=30000 --port-max=39999 --num-threads=1 --foreground --log-stderr --log-level=3 \
  --pidfile="$WORK/rtpengine.pid" >"$WORK/rtpengine.log" 2>&1 &
for _ in $(seq 50); do [ -s "$WORK/rtpengine.pid" ] && break; sleep 0.1; done
RTPENGINE_PID=$(cat "$WORK/rtpengine.pid")
echo "rtpengine $(rtpengine --version 2>&1 | head -1) pid $RTPENGINE_PID"
echo

for calls in "${CALLS[@]}"; do
  for target in bare switchboard rtpengine; do
    extra=()
    [ "$target" = rtpengine ] && extra=(--rtpengine-pid "$RTPENGINE_PID")
    $BENCH media --target "$target" --calls "$calls" --seconds "$SECONDS_PER_RUN" "${extra[@]}" | tail -1
  done
done
