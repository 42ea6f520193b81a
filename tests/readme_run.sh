#!/usr/bin/env bash
# CI check of the README's run command, exactly as README.md writes it (CI runs it in a fresh clone): it
# starts the demo from a temporary working directory (which holds only `src`, a link to this checkout's,
# so the command reads as written and the default database lands there), a SIPp phone registers as
# 1002 and answers, another registers as 1001 and calls 1002 through the digest challenge, the call
# record is read back through the API, the README's `switchboard user …` examples run against the same
# database while the server runs (a user added on the command line registers), and SIGTERM must end
# the server cleanly with a log free of colour codes. Needs sipp, curl and python3 (tests/run and
# .ci/run install them). Uses the demo's default ports: SIP 5060, HTTP 127.0.0.1:8080.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d)"
server=""
cleanup() {
  [ -n "$server" ] && kill -9 "$server" 2>/dev/null || true
  pkill -f "sipp .*$work" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
fail() {
  echo "README run check FAILED: $*" >&2
  echo "--- server output ---" >&2
  tail -n 60 "$work/server.log" >&2 || true
  exit 1
}

http=127.0.0.1:8080
sip=127.0.0.1:5060
api() { curl -sS --max-time 10 "http://$http$1"; }

# The command, as the README writes it: the first line of the first sh block under "The two commands".
run_cmd="$(awk '/^## The two commands/{s=1} s && /^```sh/{getline; print; exit}' "$root/README.md")"
[ -n "$run_cmd" ] || fail "no run command found in README.md"
echo "README run command: $run_cmd"

mkdir "$work/run"
ln -s "$root/src" "$work/run/src"
# The build is the checkout's own (target/ beside it): reused when CI built it already.
(cd "$work/run" && exec bash -c "$run_cmd") >"$work/server.log" 2>&1 </dev/null &
server=$!

deadline=$((SECONDS + 900))
until curl -sf --max-time 2 "http://$http/healthz" >/dev/null 2>&1; do
  kill -0 "$server" 2>/dev/null || fail "the run command exited before /healthz answered"
  [ $SECONDS -lt $deadline ] || fail "/healthz did not answer within 15 minutes"
  sleep 0.5
done
echo "demo is serving (/healthz answers)"
[ -f "$work/run/switchboard.db" ] || fail "no switchboard.db in the working directory"

sipp_log() { echo "$work/$1"; }
sipp_run() { # name, then sipp arguments
  local name=$1; shift
  sipp "$sip" -nostdin -trace_err -error_file "$(sipp_log "$name.err")" -trace_msg \
    -message_file "$(sipp_log "$name.msg")" -i 127.0.0.2 "$@" 2>>"$work/sipp.stderr"
}
sf() { echo "$root/tests/sipp/$1"; }

# Phones use 127.0.0.2: 127.0.0.1 is the demo trunk's address, and calls from there are the carrier's.
# 1002 registers from port 5072 and answers one call there; 1001 registers from 5071 and calls 1002.
sipp_run reg1002 -sf "$(sf register_only.xml)" -s 1002 -au 1002 -ap demo-1002 -p 5072 -m 1 \
  >/dev/null || fail "SIPp could not register 1002"
sipp_run answer1002 -sf "$(sf phone_answer.xml)" -p 5072 -m 1 >/dev/null 2>&1 &
answer=$!
sipp_run reg1001 -sf "$(sf register_only.xml)" -s 1001 -au 1001 -ap demo-1001 -p 5071 -m 1 \
  >/dev/null || fail "SIPp could not register 1001"
regs="$(api /api/v1/registrations)"
for u in 1001 1002; do
  python3 -c 'import json,sys; sys.exit(0 if any(r.get("aor")==sys.argv[1] for r in json.load(sys.stdin)) else 1)' \
    "$u" <<<"$regs" || fail "registration of $u not listed: $regs"
done
sipp_run call1001 -sf "$(sf phone_call_auth.xml)" -s 1002 -au 1001 -ap demo-1001 -p 5071 -m 1 \
  >/dev/null || fail "the call from 1001 to 1002 failed (see $(sipp_log call1001.err))"
wait "$answer" || fail "1002 did not answer and hang up cleanly"
cdr_check='import json,sys
rows=json.load(sys.stdin)
rows=rows.get("cdrs", rows) if isinstance(rows, dict) else rows
ok=[r for r in rows if r.get("to_number")=="1002" and r.get("answered_by")=="1002" and r.get("ended_at_ms")]
sys.exit(0 if ok else 1)'
deadline=$((SECONDS + 20))
until api /api/v1/cdrs | python3 -c "$cdr_check"; do
  [ $SECONDS -lt $deadline ] || fail "no answered and ended CDR for 1001 → 1002: $(api /api/v1/cdrs)"
  sleep 0.2
done
echo "1001 called 1002 through the challenge; the CDR says 1002 answered"

# The demo's staff login, as the README gives it: log in, read my profile, set do-not-disturb.
login="$(curl -sS --max-time 10 -H 'Content-Type: application/json' \
  -d '{"username":"1003","password":"demo-login-1003"}' "http://$http/api/v1/auth/login")"
token="$(python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])' <<<"$login")" \
  || fail "the demo login 1003 / demo-login-1003 failed: $login"
me="$(curl -sS --max-time 10 -H "Authorization: Bearer $token" "http://$http/api/v1/me")"
grep -q '"roles":\["staff"\]' <<<"$me" || fail "/api/v1/me for 1003: $me"
presence="$(curl -sS --max-time 10 -X PUT -H "Authorization: Bearer $token" \
  -H 'Content-Type: application/json' -d '{"status":"dnd"}' "http://$http/api/v1/me/presence")"
grep -q '"status":"dnd"' <<<"$presence" || fail "PUT /api/v1/me/presence: $presence"
echo "the demo login 1003 works: /api/v1/me and do-not-disturb"

# The README's `switchboard user …` examples, on the same database while the server runs.
export PATH="${CARGO_TARGET_DIR:-$root/target}/release:$PATH"
cd "$work/run"
plain() { # runs a CLI command: stdout is its result, stderr must stay empty
  "$@" >"$work/cli.out" 2>"$work/cli.err" || fail "'$*' failed: $(cat "$work/cli.err")"
  [ ! -s "$work/cli.err" ] || fail "'$*' wrote to stderr: $(cat "$work/cli.err")"
  ! grep -q $'\x1b' "$work/cli.out" || fail "'$*' printed colour codes"
  cat "$work/cli.out"
}
add_line="$(grep -m1 -E '^switchboard user add ' "$root/README.md" | sed 's/ *#.*//')"
[ -n "$add_line" ] || fail "no 'switchboard user add' example in README.md"
out="$(eval "plain $add_line")"
grep -q '^added 2001 (Kari Nordmann)$' <<<"$out" || fail "user add printed: $out"
password="$(sed -n 's/^password: //p' <<<"$out")"
[ ${#password} -ge 8 ] || fail "user add printed no password: $out"
# The running server picks the new user up within 5 s: 2001 registers with the printed password.
deadline=$((SECONDS + 20))
until sipp_run reg2001 -sf "$(sf register_only.xml)" -s 2001 -au 2001 -ap "$password" -p 5073 \
  -m 1 -timeout 5s >/dev/null 2>&1; do
  [ $SECONDS -lt $deadline ] || fail "2001 could not register with the password 'user add' printed"
  sleep 1
done
echo "2001, added on the command line, registered"
grep -q $'^2001\tKari Nordmann\t+4790000001$' <<<"$(plain switchboard user list)" || fail "user list lacks 2001"
grep -q '^password changed for 2001$' <<<"$(plain switchboard user passwd 2001)" || fail "passwd failed"
grep -q '^removed 2001$' <<<"$(plain switchboard user remove 2001)" || fail "remove failed"
! switchboard user remove 2001 >/dev/null 2>&1 || fail "removing a missing user succeeded"
echo "user add / list / passwd / remove work as the README shows"

kill -TERM "$server"
status=0
wait "$server" || status=$?
server=""
[ "$status" = 0 ] || fail "the server exited with status $status on SIGTERM"
! grep -q $'\x1b' "$work/server.log" || fail "the server's log has ANSI escape sequences"
echo "README run check passed: SIGTERM ended the server cleanly, its log has no colour codes"
