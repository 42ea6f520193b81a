#!/usr/bin/env bash
# Call throughput, measured with SIPp through `switchboard serve` as a B2BUA (release build, demo data on a
# SQLite file, media anchored in its relay) and through Kamailio 5.6 as a record-routing stateful proxy
# (tests/bench/kamailio-proxy.cfg), on the same machine in the same run.
#
# A SIPp caller on 127.0.0.1 (so Switchboard takes it for the demo trunk "carrier") calls 1001; a SIPp callee
# registered as 1001 answers. One call: INVITE (SDP offer) → 100/180 → 200 (SDP answer) → ACK, hold HOLD_MS,
# BYE → 200 (scenarios tests/bench/b2bua_{uac,uac_rtp,uas,register}.xml). Kamailio sends every INVITE to the
# callee's fixed address and routes ACK/BYE by its Record-Route; through the B2BUA each side talks to the
# B2BUA's Contact. Modes:
#   nortp  no RTP: the B2BUA still allocates and anchors a relay session (4 ports) per call;
#   rtp    G.711 A-law from the caller for the whole call (g711a.pcap, 33 packets/s), echoed by the callee
#          (sipp -rtp_echo), so RTP flows both ways through Switchboard's relay (directly, past Kamailio);
#   auth   like nortp, but the caller is a staff phone (127.0.0.2, user 1002) and every INVITE is challenged:
#          407, ACK, INVITE with Proxy-Authorization (b2bua_uac_auth.xml). Switchboard challenges phones by
#          itself; Kamailio runs with WITH_AUTH (pv_proxy_authenticate on every INVITE, nonce_count on, so
#          both refuse a replayed nonce count);
#   held   Switchboard only: long calls with RTP (HELD_PLAYS × 7 s) ramped at HELD_RATE/s up to each of
#          HELD_CALLS concurrent calls; reports the calls held, failures and the relay's packet counts from the
#          CDRs (/api/v1/cdrs). Stops at the first count that fails.
# Per step of offered rate it reports completed calls per second (calls ÷ (wall time − one hold)), failed calls
# (caller + callee), retransmissions SIPp sent (its timers: the server answered late or lost a message) and
# retransmissions SIPp received (the server's timers: SIPp answered late or the server lost one), and the
# server's CPU per call (/proc/PID/stat; all Kamailio processes summed). A step is clean with 0 of each; the
# summary line gives each server's highest clean completed rate and the ratio. SIPp gets 8 MB socket buffers.
# Everything runs on 127.0.0.1. Usage:
#   tests/bench/b2bua_load.sh [seconds-per-step]
#   RATES="500 1000" RTP_RATES="100" MODES="nortp auth rtp held" HELD_CALLS="100" HELD_PLAYS=2 tests/bench/b2bua_load.sh 3
# Needs sipp (sip-tester) and kamailio; the rtp and held modes need root (sipp sends pcap audio on a raw socket).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
step_secs=${1:-10}
rates=${RATES:-"500 1000 1500 2000 2500 3000 3500 4000"}
rtp_rates=${RTP_RATES:-"100 200 300 400 500 600 800"}
modes=${MODES:-"nortp auth rtp held"}
servers=${SERVERS:-"switchboard kamailio"}
hold_ms=${HOLD_MS:-1000}
held_calls=${HELD_CALLS:-"250 500 750 1000"}
held_rate=${HELD_RATE:-50}
held_plays=${HELD_PLAYS:-9} # × 7 s of audio per call
kam_children=${KAMAILIO_CHILDREN:-4}
sb_sip=127.0.0.1:5070 sb_http=127.0.0.1:${SB_HTTP_PORT:-18070} kam_sip=127.0.0.1:5080
uac_port=5061 uas_port=5091 uac_media=7000 uas_media=6000
work=$(mktemp -d)
# KEEP=1 keeps the step directories (sipp screen and error logs) and the server logs in $work.
trap 'kill $(jobs -p) 2>/dev/null || true; sleep 0.5; [ -n "${KEEP:-}" ] && echo "# kept $work" || rm -rf "$work"' EXIT

command -v sipp >/dev/null && command -v kamailio >/dev/null || {
  echo "needs sipp and kamailio: apt-get install sip-tester kamailio" >&2; exit 1; }
if [ "$(id -u)" != 0 ] && [[ " $modes " =~ " rtp "|" held " ]]; then
  echo "# not root: sipp cannot play RTP (raw socket); running nortp and auth only" >&2; modes="nortp auth"
fi
if [[ " $servers " =~ " switchboard " ]]; then
  [ -n "${SWITCHBOARD_BIN:-}" ] || (cd "$root" && cargo build --release --locked --bin switchboard >/dev/null 2>&1)
fi
# SWITCHBOARD_BIN: another build to measure (e.g. the commit before a change), used as it is.
bin=${SWITCHBOARD_BIN:-$root/target/release/switchboard}
hz=$(getconf CLK_TCK)
sipp_common=(-i 127.0.0.1 -nostdin -buff_size 8388608 -max_recv_loops 100000 -trace_screen -trace_err)

cpu_ticks() { awk '{print $14+$15}' "/proc/$1/stat"; }
tree_ticks() { # sum over a process and its children (Kamailio forks workers)
  local total=0 p
  for p in $1 $(pgrep -P "$1" || true); do total=$((total + $(cpu_ticks "$p"))); done
  echo $total
}

start_switchboard() {
  # 22,000 relay ports = 5,500 calls alive, below the ephemeral range (32768+) sipp and the kernel use.
  cat >"$work/sb.toml" <<EOF
[registrar]
trusted_sources = ["127.0.0.1/32"]
[media]
bind = "127.0.0.1"
advertised = "127.0.0.1"
port_min = 10000
port_max = 31999
timeout_secs = 30
EOF
  rm -f "$work"/sb.db*
  SWITCHBOARD_LOG=warn "$bin" serve --demo --config "$work/sb.toml" --sip "$sb_sip" --http "$sb_http" \
    --db "sqlite://$work/sb.db?mode=rwc" >"$work/sb.log" 2>&1 &
  server_pid=$! target=$sb_sip
  sleep 1.5
  # The callee registers as 1001 from the port it will answer on (the B2BUA calls the registered source).
  local i
  for i in 1 2 3 4 5; do
    (cd "$work" && sipp "$target" -sf "$here/b2bua_register.xml" -s 1001 -au 1001 -ap demo-1001 -p $uas_port \
      -m 1 -i 127.0.0.1 -nostdin -recv_timeout 2000 >/dev/null 2>&1) && return 0
    sleep 1
  done
  echo "switchboard: registering 1001 failed" >&2; exit 1
}

start_kamailio() {
  sed -e "s/KAMAILIO_CHILDREN/$kam_children/" -e "s/UAS_ADDRESS/127.0.0.1:$uas_port/" \
    "$here/kamailio-proxy.cfg" >"$work/kam.cfg"
  local defs=()
  [ "${mode:-}" = auth ] && defs=(-A WITH_AUTH)
  kamailio -f "$work/kam.cfg" "${defs[@]}" -DD -E -m 512 -M 16 -Y "$work" >"$work/kam.log" 2>&1 &
  server_pid=$! target=$kam_sip
  sleep 1.5
}

stop_server() {
  kill "$server_pid"; wait "$server_pid" 2>/dev/null || true
  sleep 1
}

start_uas() { # mode dir
  local echo=()
  [ "$1" != nortp ] && [ "$1" != auth ] && echo=(-rtp_echo)
  (cd "$2" && exec sipp -sf "$here/b2bua_uas.xml" -p $uas_port -mp $uas_media "${echo[@]}" "${sipp_common[@]}" \
    -recv_timeout 120000 >/dev/null 2>&1) &
  uas_pid=$!
  sleep 0.3
}

stop_uas() { # soft quit (SIGUSR1): calls in progress finish, then sipp writes its screen log
  kill -USR1 "$uas_pid" 2>/dev/null || true
  local i
  for i in $(seq 50); do kill -0 "$uas_pid" 2>/dev/null || break; sleep 0.1; done
  kill "$uas_pid" 2>/dev/null || true
  wait "$uas_pid" 2>/dev/null || true
}

run_uac() { # mode dir calls rate hold_ms plays [extra sipp args]
  local mode=$1 dir=$2 calls=$3 rate=$4 hold=$5 plays=$6; shift 6
  local sf=$here/b2bua_uac.xml extra=() as_phone=()
  case $mode in
    nortp) ;;
    # A staff phone, not the trunk (127.0.0.1): every call is challenged. Its -i comes last, so it wins.
    auth) sf=$here/b2bua_uac_auth.xml as_phone=(-au 1002 -ap demo-1002 -i 127.0.0.2) ;;
    *) sf=$here/b2bua_uac_rtp.xml extra=(-set plays "$plays") ;;
  esac
  (cd "$dir" && sipp "$target" -sf "$sf" -s 1001 -p $uac_port -mp $uac_media -m "$calls" -r "$rate" -rp 1000 \
    -l "$calls" -d "$hold" -recv_timeout 20000 "${extra[@]}" "${sipp_common[@]}" "${as_phone[@]}" -trace_stat \
    -stf stat.csv "$@" >/dev/null 2>&1) || true
}

# Prints one result line and its cleanliness (last field "clean" or "dirty") from a step directory.
report() { # dir server mode rate t0 t1 c0 c1 hold_ms
  python3 - "$@" "$hz" <<'PY'
import csv, glob, re, sys
d, server, mode, rate, t0, t1, c0, c1, hold, hz = sys.argv[1:]
rows = list(csv.reader(open(f"{d}/stat.csv"), delimiter=';'))
head, last = rows[0], rows[-1]
col = lambda name: int(last[head.index(name)])
ok, failed, retrans = col('SuccessfulCall(C)'), col('FailedCall(C)'), col('Retransmissions(C)')
def screen(pattern, client):
    """(failed, sent retransmissions, received retransmissions) from a sipp screen log."""
    files = sorted(glob.glob(f"{d}/{pattern}"))
    if not files:
        return None
    text = open(files[-1]).read()
    block = text.split('Messages  Retrans')[-1].split('------')[0]
    sent = recv = 0
    for line in block.splitlines():
        m = re.match(r'\s*(\S+) <-+\s+(?:E-RTD\d\s+)?(\d+)\s+(\d+)', line) if client else \
            re.match(r'\s*-+> (\S+)\s+(\d+)\s+(\d+)', line)
        if m:
            recv += int(m.group(3))
            continue
        m = re.match(r'\s*(\S+) -+>\s+(\d+)\s+(\d+)', line) if client else \
            re.match(r'\s*<-+ (\S+)\s+(\d+)\s+(\d+)', line)
        if m:
            sent += int(m.group(3))
    f = re.findall(r'Failed call\s+\|\s+\d+\s+\|\s+(\d+)', text)
    return (int(f[-1]) if f else 0, sent, recv)
uac = screen('b2bua_uac*_screen.log', True) or (0, 0, 0)
uas = screen('b2bua_uas_*_screen.log', False)
uas_failed, uas_sent, uas_recv = uas if uas else (0, 0, 0)
failed += uas_failed
retrans += uas_sent
server_retrans = uac[2] + uas_recv
elapsed = max(float(t1) - float(t0) - int(hold) / 1000, 0.001)
cpu = (int(c1) - int(c0)) / int(hz)
clean = failed == 0 and retrans == 0 and server_retrans == 0 and uas is not None
print(f"{server:12} {mode:5} offered {int(rate):5}/s  done {ok/elapsed:7.0f}/s  ok {ok:7}  failed {failed:5}  "
      f"retrans sent {retrans:5} received {server_retrans:5}  server CPU {cpu:6.2f}s = {1e6*cpu/max(ok,1):7.1f} us/call"
      f"{'' if uas else '  (no callee screen log)'}  {'clean' if clean else 'dirty'}")
PY
}

log_problems() { # Switchboard logs at warn: every line is worth a look
  local n
  n=$(grep -cE 'WARN|ERROR' "$work/sb.log" || true)
  echo "# switchboard log: $n warning/error lines"
  grep -E 'WARN|ERROR' "$work/sb.log" | sed -E 's/^[0-9T:.Z-]+ +//; s/^/#   /' | sort | uniq -c | sort -rn | head -5 || true
}

declare -A best
run_step() { # server mode rate
  local dir=$work/step-$1-$2-$3 calls=$(( $3 * step_secs )) plays=1 line t0 t1 c0 c1
  mkdir -p "$dir"
  start_uas "$2" "$dir"
  c0=$(tree_ticks "$server_pid"); t0=$(date +%s.%N)
  run_uac "$2" "$dir" "$calls" "$3" "$hold_ms" "$plays"
  t1=$(date +%s.%N); c1=$(tree_ticks "$server_pid")
  stop_uas
  line=$(report "$dir" "$1" "$2" "$3" "$t0" "$t1" "$c0" "$c1" "$hold_ms")
  echo "${line% *}"
  if [ "${line##* }" != clean ]; then # why: the first distinct sipp errors of the step
    cat "$dir"/*_errors.log 2>/dev/null | grep -v '^\s*$' | sed -E 's/^[0-9-]+\s+[0-9:.]+\s+[0-9.]+: //' |
      cut -c1-160 | sort | uniq -c | sort -rn | head -3 | sed 's/^/#   /' || true
  fi
  if [ "${line##* }" = clean ]; then
    local done_rate
    done_rate=$(awk '{for (i = 1; i < NF; i++) if ($i == "done") print $(i + 1)}' <<<"$line" | tr -d /s)
    [ "${done_rate%.*}" -gt "${best[$1-$2]:-0}" ] && best[$1-$2]=${done_rate%.*}
  fi
  [ -n "${KEEP:-}" ] || rm -rf "$dir"
}

# Long calls with RTP through Switchboard, ramped to n concurrent; then the relay's counters from the CDRs.
held_step() { # n
  local n=$1 dir=$work/held-$1 hold=7000 before line
  mkdir -p "$dir"
  before=$(curl -sf "http://$sb_http/api/v1/cdrs?limit=1" | python3 -c 'import json,sys; print(json.load(sys.stdin)["total"])')
  start_uas held "$dir"
  run_uac held "$dir" "$n" "$held_rate" "$hold" "$held_plays" -fd 1
  stop_uas
  # Call records are written behind the calls: wait (up to 30 s) until every call's record is closed.
  local i
  for i in $(seq 30); do
    curl -sf "http://$sb_http/api/v1/cdrs?limit=1000" | python3 -c 'import json,sys; sys.exit(any(c["ended_at_ms"] is None for c in json.load(sys.stdin)["cdrs"]))' && break
    sleep 1
  done
  python3 - "$dir" "$n" "$before" "$sb_http" "$held_rate" "$held_plays" <<'PY'
import csv, json, sys, urllib.request
d, n, before, http, rate, plays = sys.argv[1:]
rows = list(csv.reader(open(f"{d}/stat.csv"), delimiter=';'))
head = rows[0]
col = lambda r, name: int(r[head.index(name)])
peak = max(col(r, 'CurrentCall') for r in rows[1:])
ok, failed, retrans = col(rows[-1], 'SuccessfulCall(C)'), col(rows[-1], 'FailedCall(C)'), col(rows[-1], 'Retransmissions(C)')
total = json.load(urllib.request.urlopen(f"http://{http}/api/v1/cdrs?limit=1"))["total"]
new, offset = [], 0
while offset < total - int(before):
    page = json.load(urllib.request.urlopen(f"http://{http}/api/v1/cdrs?limit=1000&offset={offset}"))
    new += page["cdrs"]
    offset += 1000
new = new[: total - int(before)]
legs = [leg for c in new if isinstance(c["media"], list) for leg in c["media"]]
s = lambda k: sum(leg.get(k) or 0 for leg in legs)
causes = {}
for c in new:
    causes[c["hangup_cause"]] = causes.get(c["hangup_cause"], 0) + 1
pin, pout, lost = s("packets_in"), s("packets_out"), s("lost")
print(f"switchboard  held  {int(n):5} calls ({rate}/s ramp, {7 * int(plays)} s each)  peak concurrent {peak:5}  ok {ok:5}  "
      f"failed {failed:4}  retrans {retrans:4}  relay packets in {pin} out {pout} "
      f"(in-out {pin - pout}, {100 * (pin - pout) / max(pin, 1):.3f} %)  RFC 3550 lost {lost}  "
      f"CDRs {len(new)} causes {causes}")
sys.exit(0 if failed == 0 and ok == int(n) else 1)
PY
}

echo "# $(date -u +%FT%TZ) $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "# ${step_secs}s per step, calls held ${hold_ms} ms; sipp $(sipp -v 2>/dev/null | grep -o 'v[0-9.]*' | head -1); $(kamailio -v | head -1)"
for mode in $modes; do
  [ "$mode" = held ] && continue
  mode_rates=$rates
  [ "$mode" = rtp ] && mode_rates=$rtp_rates
  for server in $servers; do
    "start_$server"
    for rate in $mode_rates; do run_step "$server" "$mode" "$rate"; done
    stop_server
    [ "$server" = switchboard ] && log_problems
  done
done
for mode in $modes; do
  [ "$mode" = held ] || continue
  [[ " $servers " =~ " switchboard " ]] || continue
  start_switchboard
  for n in $held_calls; do held_step "$n" || break; done
  stop_server
  log_problems
done
for mode in $modes; do
  [ "$mode" = held ] && continue
  sb=${best[switchboard-$mode]:-0} kam=${best[kamailio-$mode]:-0}
  ratio=$(awk -v a="$sb" -v b="$kam" 'BEGIN { if (a > 0 && b > 0) printf "%.2fx", a / b; else print "n/a" }')
  echo "summary $mode: highest clean rate switchboard ${sb}/s, kamailio ${kam}/s, ratio ${ratio} (goal >= 0.6x)"
done
