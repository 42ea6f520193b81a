#!/bin/sh
# Regenerates every built-in prompt from nb/prompts.tsv, and the music on hold, as 8 kHz mono 16-bit WAV.
#
#   media/prompts/generate.sh            # all of nb/*.wav and moh.wav
#
# Needs espeak-ng (with the nb voice) and sox. The output is what media/src/prompts.rs embeds, so run
# `cargo test -p switchboard-media --lib prompts` afterwards: it checks every clip parses, is long enough and
# is not silent. Same inputs give the same bytes (dither off, sox in repeatable mode), so regenerating without
# changing the table leaves git clean on the same espeak-ng/sox versions.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
table="$here/nb/prompts.tsv"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM

for tool in espeak-ng sox; do
    command -v "$tool" >/dev/null 2>&1 || { echo "generate.sh: $tool not found" >&2; exit 1; }
done

# Output format of every file: telephone-band PCM, so nothing needs resampling for G.711 legs.
out_fmt="-D -r 8000 -c 1 -b 16 -e signed-integer"

# Speech: trim espeak-ng's leading/trailing silence so clips join without gaps ("Du er nummer" + "tre" +
# "i køen"), then put back a short, fixed pause so the words do not run together; normalise the peak to
# -3 dBFS (espeak-ng's output is quiet, and a phone earpiece loses more). The rate change comes last but one,
# so norm measures the peak that is actually written.
tab=$(printf '\t')
count=0
while IFS="$tab" read -r name text spoken || [ -n "$name" ]; do
    case "$name" in '' | '#'*) continue ;; esac
    case "$name" in
        *[!a-z0-9_]*) echo "generate.sh: bad prompt name '$name' (use a-z, 0-9, _)" >&2; exit 1 ;;
    esac
    [ -n "$text" ] || { echo "generate.sh: prompt '$name' has no text" >&2; exit 1; }
    say=${spoken:-$text}
    espeak-ng -v nb -s 150 -w "$tmp/raw.wav" -- "$say"
    # shellcheck disable=SC2086
    sox -R -V1 "$tmp/raw.wav" $out_fmt "$here/nb/$name.wav" \
        silence 1 0.01 0.1% reverse silence 1 0.01 0.1% reverse \
        rate -v 8000 pad 0.03 0.08 norm -3
    count=$((count + 1))
done <"$table"
echo "generated $count prompts in $here/nb"

# Music on hold: self-synthesised (royalty-free) plucked arpeggios over I-vi-IV-V in C, 2 s a bar, three
# times round, with a soft bass. Bars overlap so each pluck rings out into the next; a short fade-in and a
# longer fade-out make the loop point quiet on both sides, so looping it does not click.
bar() { # $1 = bar index, $2 = bass note, $3.. = eight arpeggio notes
    index=$1 bass=$2
    shift 2
    # shellcheck disable=SC2086
    sox -R -V1 -n -r 8000 -c 1 "$tmp/bar$index.wav" \
        synth 2 pluck "$1" pluck "$2" pluck "$3" pluck "$4" pluck "$5" pluck "$6" pluck "$7" pluck "$8" \
        pluck "$bass" fade q 0 2 0.8 \
        delay 0 0.25 0.5 0.75 1 1.25 1.5 1.75 0 remix - \
        pad "$((index * 2))" 0
}
i=0
for round in 1 2 3; do
    bar $i C3 C4 E4 G4 C5 E5 C5 G4 E4; i=$((i + 1))
    bar $i A2 A3 C4 E4 A4 C5 A4 E4 C4; i=$((i + 1))
    bar $i F2 F3 A3 C4 F4 A4 F4 C4 A3; i=$((i + 1))
    if [ "$round" = 3 ]; then
        # The last bar resolves to C so the fade-out ends at home before the loop starts again.
        bar $i C3 G3 C4 E4 G4 C5 G4 E4 C4
    else
        bar $i G2 G3 B3 D4 G4 B4 G4 D4 B3
    fi
    i=$((i + 1))
done
bars=""
j=0
while [ "$j" -lt "$i" ]; do bars="$bars $tmp/bar$j.wav"; j=$((j + 1)); done
# shellcheck disable=SC2086
sox -R -V1 -m $bars $out_fmt "$here/moh.wav" \
    lowpass 2800 trim 0 26 fade t 0.3 26 2.5 norm -6
echo "generated $here/moh.wav"

# Ringing tone, as a Norwegian caller hears it while a call is put through (425 Hz, 1 s on, 4 s off):
# queues that ring rather than play music loop it.
sox -R -V1 -n $out_fmt "$here/ringback.wav" synth 1 sine 425 vol 0.5 fade t 0.01 1 0.01 pad 0 4
echo "generated $here/ringback.wav"
