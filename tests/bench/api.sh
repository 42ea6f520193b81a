#!/usr/bin/env bash
# API figures for BENCHMARKS.md §11: logins per second (argon2id verification, one and several clients)
# and the live-event fan-out (a presence change to CLIENTS receptionists on /api/v1/events). Release
# build, demo data, SQLite. Needs python3 (stdlib only).
# Usage: tests/bench/api.sh [secs]   (CLIENTS=500 ROUNDS=20)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
secs=${1:-10}
[ -n "${SWITCHBOARD_BIN:-}" ] || (cd "$root" && cargo build --release --locked --bin switchboard >/dev/null 2>&1)
bin=${SWITCHBOARD_BIN:-$root/target/release/switchboard}
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; sleep 0.5; rm -rf "$work"' EXIT
http=127.0.0.1:18073
hz=$(getconf CLK_TCK)
cpu_ticks() { awk '{print $14+$15}' "/proc/$1/stat"; }
SWITCHBOARD_LOG=warn "$bin" serve --demo --sip 127.0.0.1:5071 --http $http \
  --db "sqlite://$work/sb.db?mode=rwc" >"$work/sb.log" 2>&1 &
server=$!
for _ in $(seq 100); do curl -sf "http://$http/healthz" >/dev/null && break; sleep 0.1; done
echo "# $(nproc) cores; $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
for concurrency in 1 2 4; do
  before=$(cpu_ticks $server)
  python3 "$here/api.py" logins 127.0.0.1 18073 "$secs" "$concurrency"
  after=$(cpu_ticks $server)
  echo "  node CPU: $(( (after - before) * 100 / hz / ${secs%.*} ))% of one core"
done
ulimit -n 4096
python3 "$here/api.py" events 127.0.0.1 18073 "${CLIENTS:-500}" "${ROUNDS:-20}"
