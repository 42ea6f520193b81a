#!/usr/bin/env bash
# REGISTER throughput, measured with SIPp against `switchboard serve` (release build, SQLite file, batched
# persistence) and against Kamailio 5.6 (in-memory usrloc) on the same machine in the same run.
# For each server and mode (with / without digest) it steps the offered rate up and reports, per step, the
# registrations completed per second, failed calls, retransmissions and the server's CPU time.
# SIPp gets 8 MB socket buffers (-buff_size): with its default the drops happen in SIPp's own receive
# buffer (UdpRcvbufErrors) and show up as retransmissions that no server caused.
# Traffic stays on 127.0.0.1. Usage: tests/bench/register_load.sh [seconds-per-step]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
step_secs=${1:-5}
rates=${RATES:-"5000 10000 15000 20000 25000 30000 35000 40000"}
kam_children=${KAMAILIO_CHILDREN:-4}
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; sleep 0.5; rm -rf "$work"' EXIT

command -v sipp >/dev/null && command -v kamailio >/dev/null || {
  echo "needs sipp and kamailio: apt-get install sip-tester kamailio" >&2; exit 1; }
(cd "$root" && cargo build --release --locked --bin switchboard >/dev/null 2>&1)
bin=$root/target/release/switchboard

cpu_ticks() { awk '{print $14+$15}' "/proc/$1/stat"; }
tree_ticks() { # sum over a process and its children (Kamailio forks workers)
  local total=0 p
  for p in $1 $(pgrep -P "$1" || true); do total=$((total + $(cpu_ticks "$p"))); done
  echo $total
}

start_switchboard() { # mode
  local cfg=$work/sb.toml
  : >"$cfg"
  if [ "$1" = noauth ]; then printf '[registrar]\ntrusted_sources = ["127.0.0.1/32"]\n' >"$cfg"; fi
  rm -f "$work"/sb.db*
  SWITCHBOARD_LOG=warn "$bin" serve --demo --config "$cfg" --sip 127.0.0.1:5070 --http 127.0.0.1:0 \
    --db "sqlite://$work/sb.db?mode=rwc" >"$work/sb.log" 2>&1 &
  server_pid=$!
  target=127.0.0.1:5070
  sleep 1.5
}

start_kamailio() { # mode
  sed "s/KAMAILIO_CHILDREN/$kam_children/" "$here/kamailio-registrar.cfg" >"$work/kam.cfg"
  local defs=()
  [ "$1" = auth ] && defs=(-A WITH_AUTH)
  kamailio -f "$work/kam.cfg" -DD -E -m 512 -M 16 -Y "$work" "${defs[@]}" >"$work/kam.log" 2>&1 &
  server_pid=$!
  target=127.0.0.1:5080
  sleep 1.5
}

run_step() { # server mode rate
  local scenario=$here/register_load_$2.xml calls=$(( $3 * step_secs ))
  local t0 c0 t1 c1
  c0=$(tree_ticks "$server_pid"); t0=$(date +%s.%N)
  sipp "$target" -sf "$scenario" -s 1001 -au 1001 -ap demo-1001 -m "$calls" -r "$3" -rp 1000 \
    -i 127.0.0.1 -nostdin -buff_size 8388608 -max_recv_loops 100000 -trace_stat -stf "$work/stat.csv" -fd 3600 >/dev/null 2>&1 || true
  t1=$(date +%s.%N); c1=$(tree_ticks "$server_pid")
  python3 - "$work/stat.csv" "$1" "$2" "$3" "$t0" "$t1" "$c0" "$c1" "$(getconf CLK_TCK)" <<'PY'
import csv, sys
path, server, mode, rate, t0, t1, c0, c1, hz = sys.argv[1:]
rows = list(csv.reader(open(path), delimiter=';'))
head, last = rows[0], rows[-1]
col = lambda name: int(last[head.index(name)])
ok, failed, retrans = col('SuccessfulCall(C)'), col('FailedCall(C)'), col('Retransmissions(C)')
elapsed = float(t1) - float(t0)
cpu = (int(c1) - int(c0)) / int(hz)
print(f"{server:12} {mode:7} offered {int(rate):6}/s  done {ok/elapsed:8.0f}/s  ok {ok:7}  failed {failed:5}  "
      f"retrans {retrans:5}  server CPU {cpu:5.2f}s = {1e6*cpu/max(ok,1):6.1f} us/registration")
PY
  rm -f "$work/stat.csv"
}

echo "# $(date -u +%FT%TZ) $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "# ${step_secs}s per step; sipp $(sipp -v 2>/dev/null | grep -o 'v[0-9.]*' | head -1); $(kamailio -v | head -1)"
for mode in noauth auth; do
  for server in switchboard kamailio; do
    "start_$server" "$mode"
    for rate in $rates; do run_step "$server" "$mode" "$rate"; done
    kill "$server_pid"; wait "$server_pid" 2>/dev/null || true
    sleep 1
  done
done
