#!/usr/bin/env bash
# Evaluates Bulwark on the Web Bot Detection Dataset (Iliou et al., CERTH;
# Zenodo, CC BY 4.0), phase 1: an anonymised Apache log (the client is "-",
# a bare session id after the referer) of a real site's humans and
# browser-driven bots, with session labels.
#
#   scripts/eval/webbot.sh DATASET_DIR [OUT_DIR]
#
# DATASET_DIR holds data/web_logs/{bots,humans}/*.log and
# annotations/humans_and_{advanced,moderate}_bots/{train,test}. OUT_DIR
# (default: a new temporary directory) receives the labels, the model and
# every report. BULWARK names a bulwark binary to use (default: built here).
#
# What it does, and what was chosen on what:
#  1. labels: train.txt = the annotations' train files; test.txt = their test
#     files, minus any train session; byfile.txt = every session of the logs
#     not in train.txt, labelled by the file it is in (bots/*advanced* ->
#     advanced_bot, bots/*moderate* -> moderate_bot, humans/* -> human): an
#     assumption of this script, not the dataset's annotation, reported as a
#     second figure.
#  2. bulwark train --labels train.txt on every log file, with the default
#     parameters and threshold (chosen on the simulator, BENCHMARKS.md section
#     model; nothing is tuned on this dataset), --test-share 0 (the held-out
#     sessions are step 3's), plus a 5-fold cross-validation grouped by session
#     over the train sessions and, separately, over every session labelled by
#     file.
#  3. bulwark replay of every log file, with the rules alone and with
#     --model (default mode blend, weight 0.8), reported on test.txt and on
#     byfile.txt: per session (a session is flagged when a CHALLENGE or BLOCK
#     verdict named it).
set -euo pipefail

if [ $# -lt 1 ] || [ ! -d "$1/data/web_logs" ] || [ ! -d "$1/annotations" ]; then
  echo "usage: $0 DATASET_DIR [OUT_DIR]  (DATASET_DIR/data/web_logs and DATASET_DIR/annotations)" >&2
  exit 2
fi
data=$(cd "$1" && pwd)
out=${2:-$(mktemp -d -t bulwark-webbot.XXXXXX)}
mkdir -p "$out"
root=$(cd "$(dirname "$0")/../.." && pwd)

bulwark=${BULWARK:-}
if [ -z "$bulwark" ]; then
  bulwark="$out/bulwark"
  (cd "$root/services/bulwark" && go build -o "$bulwark" .)
fi

format='%h %l %t "%r" %>s %b "%{Referer}i" %{SESSION_ID}e "%{User-Agent}i"'
parse=(--format apache --log-format "$format" --session-field SESSION_ID)
logs=("$data"/data/web_logs/bots/*.log "$data"/data/web_logs/humans/*.log)

# annotations FILE...: the SESSION LABEL lines of the files (a file may end
# without a newline); a line that is not two fields is reported and left out.
annotations() {
  local f
  for f in "$@"; do
    awk -v f="$f" 'NF == 2 { print; next } NF > 0 { printf "skipped %s line %d: %s\n", f, FNR, $0 > "/dev/stderr" }' "$f"
  done | sort -u
}

# sessions FILE: the session ids of a log file (the field after the quoted
# referer; "-" = none).
sessions() {
  awk -F'"' '{ split($5, a, " "); if (a[1] != "" && a[1] != "-") print a[1] }' "$1" | sort -u
}

annotations "$data"/annotations/*/train > "$out/train.txt"
annotations "$data"/annotations/*/test | awk 'NR == FNR { seen[$1] = 1; next } !($1 in seen)' "$out/train.txt" - > "$out/test.txt"
{
  for f in "$data"/data/web_logs/bots/*.log; do
    kind=bot
    case $(basename "$f") in
      *advanced*) kind=advanced_bot ;;
      *moderate*) kind=moderate_bot ;;
    esac
    sessions "$f" | sed "s/\$/ $kind/"
  done
  for f in "$data"/data/web_logs/humans/*.log; do
    sessions "$f" | sed 's/$/ human/'
  done
} | sort -u | awk 'NR == FNR { seen[$1] = 1; next } !($1 in seen)' "$out/train.txt" - > "$out/byfile.txt"
# every session by file, train sessions included (for the second cross-validation)
{ cat "$out/byfile.txt"; awk 'NR == FNR { lab[$1] = $2; next } ($1 in lab)' "$out/train.txt" <(
  for f in "$data"/data/web_logs/bots/*advanced*.log; do sessions "$f" | sed 's/$/ advanced_bot/'; done
  for f in "$data"/data/web_logs/bots/*moderate*.log; do sessions "$f" | sed 's/$/ moderate_bot/'; done
  for f in "$data"/data/web_logs/humans/*.log; do sessions "$f" | sed 's/$/ human/'; done) ; } | sort -u > "$out/allbyfile.txt"

count() { awk -v l="$2" '$2 == l' "$1" | wc -l | tr -d ' '; }
for f in train test byfile; do
  echo "labels $f.txt: $(count "$out/$f.txt" advanced_bot) advanced bots, $(count "$out/$f.txt" moderate_bot) moderate bots, $(count "$out/$f.txt" human) humans"
done

echo
echo "== bulwark train --labels train.txt (5-fold cross-validation by session over the train sessions)"
"$bulwark" train "${parse[@]}" --labels "$out/train.txt" --test-share 0 --folds 5 --seed 1 \
  --output "$out/model.json" "${logs[@]}" | tee "$out/train.report"

echo
echo "== cross-validation by session over every session of the logs, labelled by file (second figure)"
"$bulwark" train "${parse[@]}" --labels "$out/allbyfile.txt" --test-share 0 --folds 5 --seed 1 \
  --output "$out/model-allbyfile.json" "${logs[@]}" | tee "$out/cv-allbyfile.report"

for labels in test byfile; do
  for det in rules model; do
    extra=()
    [ "$det" = model ] && extra=(--model "$out/model.json")
    echo
    echo "== replay, $det, sessions of $labels.txt"
    "$bulwark" replay "${parse[@]}" "${extra[@]}" --labels "$out/$labels.txt" --output "$out/verdicts-$det-$labels.jsonl" \
      --no-progress "${logs[@]}" 2>&1 | tee "$out/replay-$det-$labels.report"
  done
done
echo
echo "reports, labels and the model are in $out"
