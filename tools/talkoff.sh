#!/usr/bin/env bash
# DTMF talk-off check: speech must not produce digits (issue 4: fewer than 1 false digit per
# 30 minutes of varied speech).
#
#   tools/talkoff.sh [CORPUS_DIR]
#
# Builds a speech corpus with espeak-ng (voices en-us, en-gb, de, sv, fr, es; pitches 20-80;
# speeds 120-220 words per minute; paragraphs written for this test in each language), converts
# every file to 8 kHz, passes it through G.711 µ-law and back (sox), runs `ivory dtmf` on each
# and prints the total minutes of speech and the number of false digits. Files already in
# CORPUS_DIR (default ${TMPDIR:-/tmp}/ivory-talkoff) are reused, so a second run only detects.
# The binary is $IVORY, else target/release/ivory, else target/debug/ivory (under
# $CARGO_TARGET_DIR when set). Exit status 0 when below the target, 1 otherwise.
# Needs espeak-ng and sox.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
corpus="${1:-${TMPDIR:-/tmp}/ivory-talkoff}"
for tool in espeak-ng sox soxi; do
    command -v "$tool" >/dev/null || { echo "talkoff: $tool is not installed" >&2; exit 1; }
done
ivory="${IVORY:-}"
if [ -z "$ivory" ]; then
    target="${CARGO_TARGET_DIR:-$root/target}"
    for candidate in "$target/release/ivory" "$target/debug/ivory"; do
        if [ -x "$candidate" ]; then ivory="$candidate"; break; fi
    done
fi
[ -n "$ivory" ] && [ -x "$ivory" ] || { echo "talkoff: no ivory binary; set IVORY or build it" >&2; exit 1; }
mkdir -p "$corpus"

# Paragraphs written for this corpus (no outside text). Varied sounds on purpose: numbers,
# questions, whistled-sounding vowels, long "ee" and "oo" glides, fricatives, names.
english=(
"Good morning, and thank you for calling the city library. Our opening hours are from nine in the morning until seven in the evening, Monday to Friday, and from ten until four on Saturdays. If you would like to renew a book, please have your card number ready. We are closed on public holidays."
"The weather today will be mostly sunny in the east, with a few showers moving in from the coast during the afternoon. Temperatures will reach nineteen degrees, falling to eleven overnight. Tomorrow looks cooler and windier, so keep an umbrella close by if you are travelling north."
"Hello? Yes, this is Peter. I am sorry, I cannot hear you very well, the line keeps breaking up. Could you say that again? Oh, you want to move the meeting to Thursday at half past three? That should be fine, but let me check with Susan first and I will call you back."
"Please listen carefully, as our menu options have changed. For billing questions, stay on the line. To report a fault, please describe the problem after the tone. Your call is important to us, and the expected waiting time is about four minutes. Thank you for your patience."
"We drove along the river for hours, past old mills, green meadows and sleepy villages with names like Weeping Cross and Sheepwash. At dusk the sky turned a deep violet, and the only sound was the squeal of the brakes as we stopped at the ferry. Nobody seemed to be in any hurry at all."
"Three hundred and forty two, three hundred and forty three, eight, nine, eleven, seventy seven, ninety nine point five. Reading numbers aloud is harder than it sounds, especially when the digits repeat: one one one, two two two, four four four, nine nine nine, zero zero seven."
"Whee! Look at the kite go! It dips and soars and loops around, higher and higher, until it is only a tiny speck against the clouds. Eeeeh, oooh, aaah, the children shout, running across the field with their arms stretched out like wings. Then the string snaps, and everyone goes quiet."
"Excuse me, is this seat taken? No? Wonderful. I have been standing since Birmingham and my feet are killing me. Do you know if the buffet car is still open? I would love a cup of tea and maybe a cheese sandwich, if they have any left. It has been a very, very long day."
)
german=(
"Guten Tag, Sie sind verbunden mit dem Kundendienst. Leider sind im Moment alle Leitungen besetzt. Bitte haben Sie einen Augenblick Geduld, der nächste freie Mitarbeiter ist gleich für Sie da. Sie können uns auch jederzeit eine Nachricht schreiben, wir antworten innerhalb von zwei Werktagen."
"Am Wochenende fahren wir an den See. Die Kinder wollen schwimmen, Oma möchte Kuchen backen, und Opa sucht schon seit Tagen seine alte Angel. Wenn das Wetter hält, bleiben wir bis Sonntagabend und grillen am Ufer, bis die Sterne über den Bäumen auftauchen."
)
swedish=(
"Hej och välkommen till vårdcentralen. Våra telefontider är vardagar mellan åtta och tolv. Om du vill boka en tid, tryck inte på någonting utan stanna kvar i luren, så ringer vi upp dig så snart som möjligt. Vid akuta ärenden, ring larmnumret direkt."
"I går gick vi en lång promenad genom skogen. Det luktade svamp och mossa, och solen silade mellan granarna. Vid sjön satt en gammal man och fiskade, och han berättade att han hade suttit där varje morgon i snart fyrtio år utan att någonsin tröttna."
)
french=(
"Bonjour et bienvenue au service client. Nos conseillers sont actuellement tous occupés. Merci de bien vouloir patienter, votre appel sera traité dans quelques instants. Vous pouvez également consulter notre site pour suivre votre commande ou modifier votre adresse de livraison."
"Ce matin, le marché était plein de couleurs: des tomates rouges, des pêches bien mûres, des fromages de chèvre et des bouquets de lavande. Une vieille dame chantait en rangeant ses cerises, et tout le monde souriait malgré la chaleur déjà lourde de dix heures."
)
spanish=(
"Buenas tardes, gracias por llamar al centro de atención. En este momento todos nuestros agentes están ocupados. Por favor, no cuelgue; su llamada será atendida en el orden en que fue recibida. Recuerde que también puede realizar sus gestiones en nuestra página web."
"El verano pasado viajamos por la costa en un coche viejo que se calentaba en cada cuesta. Comimos pescado fresco en pueblos pequeños, nadamos en calas escondidas y dormimos con las ventanas abiertas, escuchando el mar y las cigarras hasta el amanecer."
)

voices=(en-us en-gb de sv fr es)
pitches=(20 35 50 65 80)
speeds=(120 145 170 195 220)

paragraph_for() { # voice index -> paragraph text
    local voice="$1" index="$2"
    case "$voice" in
        en-us|en-gb) echo "${english[index % ${#english[@]}]}" ;;
        de) echo "${german[index % ${#german[@]}]}" ;;
        sv) echo "${swedish[index % ${#swedish[@]}]}" ;;
        fr) echo "${french[index % ${#french[@]}]}" ;;
        es) echo "${spanish[index % ${#spanish[@]}]}" ;;
    esac
}

make_file() { # voice pitch speed index
    local voice="$1" pitch="$2" speed="$3" index="$4"
    local name="$corpus/$voice-p$pitch-s$speed.wav"
    [ -s "$name" ] && return 0
    local work
    work="$(mktemp -d)"
    espeak-ng -v "$voice" -p "$pitch" -s "$speed" -w "$work/voice.wav" "$(paragraph_for "$voice" "$index")"
    # 8 kHz, a speech level typical of a phone line (peaks at -3 dBFS), then G.711 µ-law and back.
    sox -D "$work/voice.wav" -r 8000 -c 1 -e u-law -t wav "$work/line.wav" gain -n -3
    sox -D "$work/line.wav" -r 8000 -c 1 -b 16 -e signed-integer "$work/out.wav"
    mv "$work/out.wav" "$name"
    rm -rf "$work"
}

echo "talkoff: building corpus in $corpus" >&2
index=0
for voice in "${voices[@]}"; do
    for pitch in "${pitches[@]}"; do
        for speed in "${speeds[@]}"; do
            make_file "$voice" "$pitch" "$speed" "$index" &
            index=$((index + 1))
            # Two cores: at most two espeak/sox jobs at once.
            if (( index % 2 == 0 )); then wait; fi
        done
    done
done
wait

total_seconds=0
false_digits=0
files=0
for file in "$corpus"/*.wav; do
    seconds="$(soxi -D "$file")"
    total_seconds="$(awk -v a="$total_seconds" -v b="$seconds" 'BEGIN { print a + b }')"
    heard="$("$ivory" dtmf "$file" | tail -n 1)"
    files=$((files + 1))
    if [ -n "$heard" ]; then
        echo "false digits in $(basename "$file"): $heard"
        false_digits=$((false_digits + ${#heard}))
    fi
done
minutes="$(awk -v s="$total_seconds" 'BEGIN { printf "%.1f", s / 60 }')"
echo "files: $files"
echo "speech minutes: $minutes"
echo "false digits: $false_digits"
# Target: fewer than 1 false digit per 30 minutes.
awk -v digits="$false_digits" -v minutes="$minutes" 'BEGIN { exit !(digits * 30 < minutes) }'
