#!/usr/bin/env bash
# Generates ivory's shipped demo prompts into sounds/ as 8 kHz mono 16-bit PCM WAV.
#
# The outputs are committed, so the server and the tests never need espeak-ng or sox to run the demo;
# run this again only to change a prompt. Needs espeak-ng and sox (Debian packages of the same names).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="${1:-$root/sounds}"
mkdir -p "$out"

for tool in espeak-ng sox; do
    command -v "$tool" >/dev/null || { echo "make-sounds: $tool is not installed" >&2; exit 1; }
done

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# speak NAME TEXT: espeak-ng gives 22.05 kHz; sox resamples to telephone rate, trims the leading and
# trailing silence espeak adds (keeping 100 ms at the end so prompts do not clip), and normalises.
speak() {
    local name="$1" text="$2"
    espeak-ng -v en-us -s 150 -w "$work/$name.raw.wav" "$text"
    sox "$work/$name.raw.wav" -r 8000 -c 1 -b 16 -e signed-integer "$out/$name.wav" \
        silence 1 0.02 0.5% reverse silence 1 0.02 0.5% reverse pad 0 0.1 gain -n -3
    echo "sounds/$name.wav: $(soxi -D "$out/$name.wav") s"
}

speak demo-welcome "Welcome to ivory, the open source I V R media server."
speak demo-menu "Press 1 for sales. Press 2 for support."
speak demo-option1 "You chose sales."
speak demo-option2 "You chose support."
speak demo-invalid "Sorry, that is not a valid choice."
speak demo-goodbye "Goodbye."

# A 1 kHz, 250 ms beep at -6 dBFS with 5 ms fades so it does not click.
sox -n -r 8000 -c 1 -b 16 -e signed-integer "$out/beep.wav" synth 0.25 sine 1000 gain -6 fade 0.005 0.25 0.005
echo "sounds/beep.wav: $(soxi -D "$out/beep.wav") s"
