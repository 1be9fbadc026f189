#!/usr/bin/env bash
# Makes a WAV file (8 kHz, 16-bit, mono) of a dialled DTMF string, for `ivory dtmf` tests.
#
#   tools/make-dtmf-wav.sh [options] DIGITS OUT.wav
#
#   DIGITS     0-9, *, #, A-D (lower case accepted); other characters are skipped
#   -o MS      tone length per digit (default 100)
#   -g MS      pause after each digit (default 100); 100 ms of silence also lead the file
#   -l DBM0    level of EACH of the two tones in dBm0 (default -10); 0 dBm0 is a sine whose
#              peak is 3.17 dB below full scale (ITU-T G.711)
#   -u         pass the result through G.711 µ-law and back, as a phone line would
#
# Example: tools/make-dtmf-wav.sh -o 45 -g 48 '123#' /tmp/fast.wav && ivory dtmf /tmp/fast.wav
# Needs sox.
set -euo pipefail

usage() { sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }

on_ms=100
off_ms=100
level=-10
ulaw=0
while getopts "o:g:l:uh" option; do
    case "$option" in
        o) on_ms="$OPTARG" ;;
        g) off_ms="$OPTARG" ;;
        l) level="$OPTARG" ;;
        u) ulaw=1 ;;
        *) usage ;;
    esac
done
shift $((OPTIND - 1))
[ $# -eq 2 ] || usage
digits="$1"
out="$2"
command -v sox >/dev/null || { echo "make-dtmf-wav: sox is not installed" >&2; exit 1; }

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
pcm=(-r 8000 -c 1 -b 16 -e signed-integer)
seconds() { awk -v ms="$1" 'BEGIN { printf "%.3f", ms / 1000 }'; }
on="$(seconds "$on_ms")"
off="$(seconds "$off_ms")"
# Peak of two equal sines at LEVEL dBm0 each: 2 x 0.6942 x 10^(LEVEL/20) of full scale, i.e.
# LEVEL + 2.85 dBFS; `gain -n` normalises the pair to that peak.
peak_dbfs="$(awk -v level="$level" 'BEGIN { printf "%.2f", level + 20 * log(2 * 0.694229) / log(10) }')"

# The DTMF grid (ITU-T Q.23): row (low) and column (high) frequency of each key.
frequencies() {
    case "$1" in
        1) echo "697 1209" ;; 2) echo "697 1336" ;; 3) echo "697 1477" ;; A) echo "697 1633" ;;
        4) echo "770 1209" ;; 5) echo "770 1336" ;; 6) echo "770 1477" ;; B) echo "770 1633" ;;
        7) echo "852 1209" ;; 8) echo "852 1336" ;; 9) echo "852 1477" ;; C) echo "852 1633" ;;
        '*') echo "941 1209" ;; 0) echo "941 1336" ;; '#') echo "941 1477" ;; D) echo "941 1633" ;;
        *) echo "" ;;
    esac
}

parts=("$work/lead.wav")
sox -D -n "${pcm[@]}" "$work/lead.wav" trim 0 0.1
index=0
for ((position = 0; position < ${#digits}; position++)); do
    character="${digits:position:1}"
    read -r low high <<<"$(frequencies "$(printf '%s' "$character" | tr 'abcd' 'ABCD')")" || true
    [ -n "${low:-}" ] || continue
    index=$((index + 1))
    part="$work/digit-$index.wav"
    sox -D -n "${pcm[@]}" "$part" synth "$on" sine "$low" synth "$on" sine mix "$high" \
        gain -n "$peak_dbfs" pad 0 "$off"
    parts+=("$part")
done
[ "$index" -gt 0 ] || { echo "make-dtmf-wav: no DTMF digit in '$digits'" >&2; exit 2; }

if [ "$ulaw" -eq 1 ]; then
    sox -D "${parts[@]}" -r 8000 -c 1 -e u-law -t wav "$work/line.wav"
    sox -D "$work/line.wav" "${pcm[@]}" "$out"
else
    sox -D "${parts[@]}" "${pcm[@]}" "$out"
fi
