#!/usr/bin/env bash
# The README's run command: Switchboard with the demo municipality on the embedded SQLite database.
# libopus (Opus ⇄ G.711 transcoding) is built from source by the `opus` crate and needs cmake: it is
# installed with apt when missing. Extra arguments go to `switchboard serve`.
set -euo pipefail
cd "$(dirname "$0")/.."
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
if ! command -v cmake >/dev/null; then
  echo "installing cmake (needed to build libopus)"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq cmake >/dev/null
fi
exec cargo run --release --locked -- serve --demo "$@"
