#!/usr/bin/env bash
# Answering-machine detection accuracy on a labelled set made with espeak-ng:
# people answering ("hello?", "yes, speaking"...) and voicemail greetings ending in a beep, in several
# voices and speeds, resampled to 8 kHz and passed through G.711 µ-law. Runs `ivory amd` on each file
# and prints the confusion counts and the accuracy.
#
#   tools/amd-corpus.sh [DIR]          # DIR keeps the corpus (default: a temp dir)
#
# Needs espeak-ng and sox. Set IVORY to the binary (default target/release/ivory, else target/debug).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ivory="${IVORY:-}"
if [[ -z "$ivory" ]]; then
    for candidate in "$root/target/release/ivory" "$root/target/debug/ivory"; do
        [[ -x "$candidate" ]] && { ivory="$candidate"; break; }
    done
fi
[[ -x "$ivory" ]] || { echo "amd-corpus: build ivory first (cargo build --release)" >&2; exit 1; }
dir="${1:-$(mktemp -d -t ivory-amd.XXXXXX)}"
mkdir -p "$dir/human" "$dir/machine"

humans=("Hello?" "Hi." "Yes, speaking." "Hello, who is this?" "Yeah?" "Good morning." "Hello, John here.")
machines=(
  "Hi, you have reached John Smith. I cannot take your call right now. Please leave a message after the tone."
  "Hello, this is the voicemail of Anna. Leave your name and number and I will call you back."
  "Thank you for calling Example Company. Our office is closed. Please leave a message after the beep."
  "You have reached five five five, one two three four. Nobody is available. Please record your message."
  "Hey, it's Mike. I'm not around, leave a message."
)
voices=(en-us en-gb en-us+f3 en-gb+m3)
speeds=(150 175 200)

make() { # text voice speed out beep?
    local raw="$dir/tmp.wav"
    espeak-ng -v "$2" -s "$3" -w "$raw" "$1"
    if [[ "$5" == beep ]]; then
        sox -n -r 22050 -c 1 -b 16 "$dir/beep.wav" synth 0.5 sine 1000 vol 0.5
        sox -n -r 22050 -c 1 -b 16 "$dir/gap.wav" trim 0 0.4
        sox "$raw" "$dir/gap.wav" "$dir/beep.wav" "$dir/gap.wav" "$dir/joined.wav"
        raw="$dir/joined.wav"
    else
        # A person says hello and then waits for the caller.
        sox -n -r 22050 -c 1 -b 16 "$dir/wait.wav" trim 0 4
        sox "$raw" "$dir/wait.wav" "$dir/joined.wav"
        raw="$dir/joined.wav"
    fi
    sox "$raw" -r 8000 -c 1 -e u-law -t wav "$dir/ulaw.wav"
    sox "$dir/ulaw.wav" -e signed-integer -b 16 "$4"
}

n=0
for voice in "${voices[@]}"; do
  for speed in "${speeds[@]}"; do
    for text in "${humans[@]}"; do
      n=$((n+1)); out="$dir/human/$n.wav"; [[ -f "$out" ]] || make "$text" "$voice" "$speed" "$out" none
    done
    for text in "${machines[@]}"; do
      n=$((n+1)); out="$dir/machine/$n.wav"; [[ -f "$out" ]] || make "$text" "$voice" "$speed" "$out" beep
    done
  done
done

declare -A count=()
for label in human machine; do
  for file in "$dir/$label"/*.wav; do
    verdict="$("$ivory" amd "$file" | awk '{print $1}')"
    count["$label>$verdict"]=$(( ${count["$label>$verdict"]:-0} + 1 ))
  done
done
h_ok=${count["human>human"]:-0}; h_bad=$(( ${count["human>machine"]:-0} + ${count["human>undecided"]:-0} ))
m_ok=${count["machine>machine"]:-0}; m_bad=$(( ${count["machine>human"]:-0} + ${count["machine>undecided"]:-0} ))
total=$((h_ok + h_bad + m_ok + m_bad))
echo "corpus: $dir"
echo "humans:   $h_ok right, $h_bad wrong"
echo "machines: $m_ok right, $m_bad wrong"
awk -v ok=$((h_ok + m_ok)) -v total="$total" 'BEGIN { printf "accuracy: %d/%d = %.1f %%\n", ok, total, 100 * ok / total }'
