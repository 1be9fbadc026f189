#!/usr/bin/env bash
# Makes the raw G.711 µ-law audio files the sipp scenarios stream with <exec rtp_stream=.../>.
#
# sipp 3.6.1's rtp_stream sends a file's bytes as they are (a WAV header would be played as noise),
# so these are headerless 8 kHz mono µ-law: 160 bytes per 20 ms packet. Outputs go to tools/sipp/audio/
# and are committed; run this again only to change them. Needs sox.
#
#   silence.ulaw     1 s of digital silence (µ-law 0xFF), looped between events
#   dtmf-<d>.ulaw    the DTMF digit <d> for 200 ms at -10 dBm0 per tone, then 100 ms of silence
#   speech.ulaw      sounds/demo-welcome.wav (espeak-ng speech, 3.8 s): the caller's audio in
#                    tools/bench-media, so the in-band DTMF detector works as on a talking caller
#                    (on silence it skips its filters)
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="${1:-$root/tools/sipp/audio}"
mkdir -p "$out"
command -v sox >/dev/null || { echo "make-dtmf-audio: sox is not installed" >&2; exit 1; }

raw=(-r 8000 -c 1 -e u-law -t raw)

sox -D -n "${raw[@]}" "$out/silence.ulaw" trim 0 1
sox -D "$root/sounds/demo-welcome.wav" "${raw[@]}" "$out/speech.ulaw" trim 0 3.8  # whole packets

# The DTMF grid (ITU-T Q.23): row frequency, column frequency.
declare -A row=([1]=697 [2]=697 [3]=697 [A]=697 [4]=770 [5]=770 [6]=770 [B]=770
                [7]=852 [8]=852 [9]=852 [C]=852 [star]=941 [0]=941 [hash]=941 [D]=941)
declare -A column=([1]=1209 [4]=1209 [7]=1209 [star]=1209 [2]=1336 [5]=1336 [8]=1336 [0]=1336
                   [3]=1477 [6]=1477 [9]=1477 [hash]=1477 [A]=1633 [B]=1633 [C]=1633 [D]=1633)

for digit in 0 1 2 3 4 5 6 7 8 9 star hash; do
    # Two sines mixed at -10 dB each stay well clear of clipping; 5 ms fades avoid clicks, which a
    # detector could otherwise read as broadband energy.
    sox -D -n "${raw[@]}" "$out/dtmf-$digit.ulaw" \
        synth 0.2 sine "${row[$digit]}" synth 0.2 sine mix "${column[$digit]}" \
        gain -n -7 fade 0.005 0.2 0.005 pad 0 0.1
done
ls -l "$out"
