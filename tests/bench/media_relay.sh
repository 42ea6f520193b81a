#!/usr/bin/env bash
# Media benchmarks, side by side in one run with the same load tool (media/loadgen):
#  1. relay: Switchboard's media relay vs rtpengine (userspace, ng protocol) vs a bare relay;
#  2. transcoding Opus ⇄ PCMU: Switchboard vs rtpengine.
# The relay under test runs on CPU 1, the load generator on CPU 0.
#
#   tests/bench/media_relay.sh                      relay at 1000 1800 2500 calls, transcoding
#   CALLS="1800" TRANSCODE_CALLS="250" tests/bench/media_relay.sh
#
# Needs: Debian rtpengine-daemon (apt-get install rtpengine-daemon), root (socket buffer sizes).
set -euo pipefail
cd "$(dirname "$0")/../.."
read -r -a CALLS <<<"${CALLS:-1000 1800 2500}"
read -r -a TRANSCODE_CALLS <<<"${TRANSCODE_CALLS:-250}"
RTPENGINE_TRANSCODE_CALLS=${RTPENGINE_TRANSCODE_CALLS:-60}
SECONDS_PER_RUN=${SECONDS_PER_RUN:-10}

cargo build --release --locked -p switchboard-bench >/dev/null
BENCH=target/release/switchboard-bench
. tests/bench/rtpengine.sh

echo "rtpengine $(rtpengine --version 2>&1 | head -1); $SECONDS_PER_RUN s per run"
run() { # target calls [extra args]
  local target=$1 calls=$2; shift 2
  local extra=()
  if [ "$target" = rtpengine ]; then start_rtpengine; extra=(--rtpengine-pid "$RTPENGINE_PID"); fi
  $BENCH media --target "$target" --calls "$calls" --seconds "$SECONDS_PER_RUN" "${extra[@]}" "$@" 2>/dev/null | tail -1
  if [ "$target" = rtpengine ]; then stop_rtpengine; fi
}

echo
echo "| target | calls | relayed pps | sent | received | loss % | latency p50 µs | p99 µs | max µs | relay CPU % of a core | CPU µs/packet | CPU % per call | memory KiB/call | generator CPU % |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
for calls in "${CALLS[@]}"; do
  for target in bare switchboard rtpengine; do run "$target" "$calls"; done
done

echo
echo "| target | calls | packets/s out of the relay | expected | loss % | relay CPU % of a core | CPU µs per packet | calls per core (CPU per packet × 100 packets/s) | memory KiB/call |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
for calls in "${TRANSCODE_CALLS[@]}"; do run switchboard "$calls" --transcode; done
run rtpengine "$RTPENGINE_TRANSCODE_CALLS" --transcode
