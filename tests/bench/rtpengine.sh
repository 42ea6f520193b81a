# Sourced by the media benchmarks (media_relay.sh, webrtc.sh): a fresh rtpengine per run, in
# userspace (table -1), one worker thread on the relay CPU (1), ng on 127.0.0.1:2223; its pid file,
# log and the caller's other files go in $WORK, which this removes on exit.
command -v rtpengine >/dev/null || { echo "rtpengine not installed (apt-get install rtpengine-daemon)"; exit 1; }
WORK=$(mktemp -d)
stop_rtpengine() {
  if [ -s "$WORK/rtpengine.pid" ]; then
    local pid
    pid=$(cat "$WORK/rtpengine.pid")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    rm -f "$WORK/rtpengine.pid"
  fi
}
trap 'stop_rtpengine; rm -rf "$WORK"' EXIT

start_rtpengine() {
  taskset -c 1 rtpengine --table=-1 --interface=127.0.0.1 --listen-ng=127.0.0.1:2223 \
    --port-min=30000 --port-max=49999 --num-threads=1 --foreground --log-stderr --log-level=3 \
    --pidfile="$WORK/rtpengine.pid" >>"$WORK/rtpengine.log" 2>&1 &
  for _ in $(seq 50); do [ -s "$WORK/rtpengine.pid" ] && break; sleep 0.1; done
  RTPENGINE_PID=$(cat "$WORK/rtpengine.pid")
}
