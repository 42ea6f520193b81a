#!/usr/bin/env bash
# WebRTC ⇄ RTP calls, side by side in one run: Switchboard's media runtime vs rtpengine (ng
# protocol, ICE-lite towards the browser, DTLS passive), both driven by the same load tool
# (`switchboard-bench webrtc`: str0m peers playing browsers, a plain RTP/PCMU trunk side).
# PCMU on both legs (relay) and Opus ⇄ PCMU (transcoding). The relay runs on CPU 1, the load
# tool on CPU 0.
#
#   tests/bench/webrtc.sh                                  200 and 400 relayed, 100 and 200 transcoded
#   RELAY_CALLS="400" TRANSCODE_CALLS="200" tests/bench/webrtc.sh
#
# Needs: Debian rtpengine-daemon (apt-get install rtpengine-daemon), root (socket buffer sizes).
set -euo pipefail
cd "$(dirname "$0")/../.."
read -r -a RELAY_CALLS <<<"${RELAY_CALLS:-200 400}"
read -r -a TRANSCODE_CALLS <<<"${TRANSCODE_CALLS:-100 200}"
SECONDS_PER_RUN=${SECONDS_PER_RUN:-10}

cargo build --release --locked -p switchboard-bench >/dev/null
BENCH=target/release/switchboard-bench
. tests/bench/rtpengine.sh

echo "rtpengine $(rtpengine --version 2>&1 | head -1); $SECONDS_PER_RUN s per run"
run_pair() {
  local calls=$1; shift
  start_rtpengine
  "$BENCH" webrtc --target rtpengine --rtpengine-pid "$RTPENGINE_PID" \
    --calls "$calls" --seconds "$SECONDS_PER_RUN" "$@" 2>/dev/null | tail -n 1
  stop_rtpengine
  "$BENCH" webrtc --target switchboard --calls "$calls" --seconds "$SECONDS_PER_RUN" "$@" 2>/dev/null | tail -n 1
}
"$BENCH" webrtc --help >/dev/null
echo "| relay | calls | all connected in s | relay CPU ms per ICE+DTLS handshake | handshakes/s per core | packets sent | received | loss % | relay CPU % of a core | CPU % per call | calls per core | relay RSS growth KiB/call | load tool RSS growth after making its browsers KiB/call |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
for n in "${RELAY_CALLS[@]}"; do run_pair "$n"; done
for n in "${TRANSCODE_CALLS[@]}"; do run_pair "$n" --opus; done
