#!/usr/bin/env bash
# SRTP cost per packet, Switchboard's media/src/srtp.rs against libsrtp 2 (Debian's libsrtp2, the
# library rtpengine, Asterisk and FreeSWITCH use), on the same packets in one run: a 172-byte G.711
# RTP packet protected by one context and unprotected by another, per suite. BENCHMARKS.md §8.
set -euo pipefail
cd "$(dirname "$0")/../../.."
command -v gcc >/dev/null && [ -f /usr/include/srtp2/srtp.h ] || \
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq gcc libsrtp2-dev >/dev/null
out=$(mktemp -d)
gcc -O2 -o "$out/libsrtp_bench" tests/bench/srtp/libsrtp_bench.c -lsrtp2
echo "== libsrtp $(dpkg-query -W -f='${Version}' libsrtp2-1 2>/dev/null || echo '?')"
"$out/libsrtp_bench"
echo "== switchboard (criterion)"
cargo bench --locked -p switchboard-media --bench srtp -- --noplot 2>/dev/null | grep -E "protect|time:"
"$out/libsrtp_bench"
