#!/usr/bin/env bash
# A registered user's calls while one stranger's address floods the node with OPTIONS (tests/bench/
# flood_options.xml: send-only, FLOOD_RATE/s, default 50,000, from 127.0.0.3). Release build, demo data.
# The callee (SIPp, b2bua_uas.xml) registers as 1001 with digest from 127.0.0.4 — not a trunk address, so
# its messages pass the same per-source shield as the flood's; the caller is the demo trunk (127.0.0.1)
# calling 1001 at CALL_RATE/s (b2bua_uac.xml: INVITE → 200 → ACK, 200 ms, BYE) for SECS seconds, once
# without and once with the flood. Reports per phase: calls completed and failed, call set-up time (INVITE
# sent → 200 received at the caller, SIPp's -trace_rtt) p50/p99/max, the flood rate SIPp achieved and what
# the node did with it (/metrics: dropped for the rate, dropped as banned, answered), and the node's CPU.
# Usage: tests/bench/flood.sh [secs]   (FLOOD_RATE=50000 CALL_RATE=20; SHIELD=off: no per-source limit,
# for comparison — every OPTIONS is then parsed and answered)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
secs=${1:-10}
flood_rate=${FLOOD_RATE:-50000}
call_rate=${CALL_RATE:-20}
[ -n "${SWITCHBOARD_BIN:-}" ] || (cd "$root" && cargo build --release --locked --bin switchboard >/dev/null 2>&1)
bin=${SWITCHBOARD_BIN:-$root/target/release/switchboard}
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; sleep 0.5; [ -n "${KEEP:-}" ] && echo "# kept $work" || rm -rf "$work"' EXIT
command -v sipp >/dev/null || { echo "needs sipp: apt-get install sip-tester" >&2; exit 1; }
sip=127.0.0.1:5070 http=127.0.0.1:18072
hz=$(getconf CLK_TCK)
cpu_ticks() { awk '{print $14+$15}' "/proc/$1/stat"; }
metric() { curl -s "http://$http/metrics" | awk -v m="$1" '$1 == m {print $2}'; }

cat >"$work/sb.toml" <<TOML
[media]
bind = "127.0.0.1"
advertised = "127.0.0.1"
port_min = 10000
port_max = 19999
TOML
[ "${SHIELD:-on}" = off ] && printf '[shield]\nrate_per_source = 0\n' >>"$work/sb.toml"
SWITCHBOARD_LOG=warn "$bin" serve --demo --config "$work/sb.toml" --sip $sip --http $http \
  --db "sqlite://$work/sb.db?mode=rwc" >"$work/sb.log" 2>&1 &
server=$!
for _ in $(seq 50); do curl -sf "http://$http/healthz" >/dev/null && break; sleep 0.1; done
(cd "$work" && sipp $sip -sf "$here/b2bua_register.xml" -s 1001 -au 1001 -ap demo-1001 -i 127.0.0.4 -p 5091 \
  -m 1 -nostdin -recv_timeout 2000 >/dev/null 2>&1) || { echo "registering 1001 failed" >&2; exit 1; }
(cd "$work" && exec sipp -sf "$here/b2bua_uas.xml" -i 127.0.0.4 -p 5091 -mp 6000 -nostdin \
  -recv_timeout 120000 >/dev/null 2>&1) &
sleep 0.3

phase() { # name flood(0|1)
  local dir=$work/$1 calls=$((call_rate * secs)) flood_pid=""
  mkdir -p "$dir"
  local banned0 rate0 opts0 t0 c0
  banned0=$(metric switchboard_sip_dropped_banned_total) rate0=$(metric switchboard_sip_dropped_rate_limited_total)
  opts0=$(metric switchboard_sip_requests_total)
  if [ "$2" = 1 ]; then
    (cd "$dir" && exec sipp $sip -sf "$here/flood_options.xml" -i 127.0.0.3 -p 5099 -r "$flood_rate" \
      -l 1000000 -m $((flood_rate * (secs + 5))) -nostdin -buff_size 8388608 >/dev/null 2>&1) &
    flood_pid=$!
    sleep 1
  fi
  t0=$(date +%s.%N) c0=$(cpu_ticks $server)
  (cd "$dir" && sipp $sip -sf "$here/b2bua_uac.xml" -s 1001 -i 127.0.0.1 -p 5061 -mp 7000 -r "$call_rate" \
    -m "$calls" -d 200 -nostdin -trace_rtt -rtt_freq 1 -trace_stat -recv_timeout 10000 >/dev/null 2>&1) || true
  local t1 c1
  t1=$(date +%s.%N) c1=$(cpu_ticks $server)
  [ -n "$flood_pid" ] && { kill "$flood_pid" 2>/dev/null || true; wait "$flood_pid" 2>/dev/null || true; }
  local banned rate opts
  banned=$(metric switchboard_sip_dropped_banned_total) rate=$(metric switchboard_sip_dropped_rate_limited_total)
  opts=$(metric switchboard_sip_requests_total)
  python3 - "$dir" "$1" "$calls" "$t0" "$t1" "$c0" "$c1" "$hz" "$banned0" "$banned" "$rate0" "$rate" "$opts0" "$opts" <<'PY'
import csv, glob, sys
d, name, calls, t0, t1, c0, c1, hz = sys.argv[1:9]
b0, b1, r0, r1, o0, o1 = map(float, sys.argv[9:15])
wall = float(t1) - float(t0)
rtts = []
for f in glob.glob(f"{d}/b2bua_uac_*_rtt.csv"):
    for row in csv.reader(open(f), delimiter=';'):
        try: rtts.append(float(row[1]))
        except (ValueError, IndexError): pass
rtts.sort()
ok = failed = 0
for f in glob.glob(f"{d}/b2bua_uac_*_.csv"):
    rows = list(csv.reader(open(f), delimiter=';'))
    if len(rows) >= 2:
        h = rows[0]; last = rows[-1]
        ok = int(last[h.index('SuccessfulCall(C)')]); failed = int(last[h.index('FailedCall(C)')])
def pct(p): return rtts[min(len(rtts) - 1, int(p * len(rtts)))] if rtts else float('nan')
flood = (b1 - b0 + r1 - r0) / wall
print(f"{name:8} calls {ok:4} ok {failed:3} failed of {calls}  set-up p50 {pct(0.5):6.1f} ms  p99 {pct(0.99):6.1f} ms  "
      f"max {rtts[-1] if rtts else float('nan'):6.1f} ms  |  flood dropped {flood:8.0f}/s (banned {(b1-b0)/wall:8.0f}/s, "
      f"rate {(r1-r0)/wall:6.0f}/s), requests parsed {(o1-o0)/wall:6.0f}/s  |  node CPU {(float(c1)-float(c0))/float(hz)/wall*100:5.1f}%")
PY
}
echo "# tests/bench/flood.sh $secs  (FLOOD_RATE=$flood_rate CALL_RATE=$call_rate SHIELD=${SHIELD:-on})"
phase quiet 0
phase flood 1
phase after 0
echo "# bans: $(curl -s http://$http/api/v1/bans)"
