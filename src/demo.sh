#!/usr/bin/env bash
# The README's run command: Switchboard with the demo municipality on the embedded SQLite database
# (`switchboard.db` in the directory it is started from, so it runs from anywhere).
# libopus (Opus ⇄ G.711 transcoding) is built from source by the `opus` crate and needs cmake (and a C
# compiler): they are installed with apt when missing. Extra arguments go to `switchboard serve`.
set -euo pipefail
root="$(cd -P "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
need=()
command -v cmake >/dev/null || need+=(cmake)
command -v cc >/dev/null || need+=(build-essential)
if [ ${#need[@]} -gt 0 ]; then
  echo "installing ${need[*]} (needed to build libopus)"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
# `cargo run` keeps the caller's working directory; --bin because the workspace has a second binary
# (the load tool). cargo replaces itself with the server, so SIGTERM reaches it directly.
exec cargo run --release --locked --manifest-path "$root/Cargo.toml" --bin switchboard -- \
  serve --demo --ws 127.0.0.1:5066 "$@"
