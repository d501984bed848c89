#!/usr/bin/env bash
# Detection on third-party traffic (issue 14): the cost of the request
# signatures in the aggregator against the same run without them, the attack
# and benign corpora, the shared real logs (signature matches, dead letters),
# a real log disordered by up to 60 s, and the simulator's labelled replay with
# background-request humans and API bots. Prints a Markdown section for
# BENCHMARKS.md.
set -euo pipefail
cd "$(dirname "$0")/../.."

benchtime="${BENCHTIME:-2s}"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

cmd1="go test ./libs/detect/aggregator/ -run '^\$' -bench '^BenchmarkEngineSignatures\$' -benchtime=${benchtime} -cpu=1 -count=3"
cmd2="go test ./libs/detect/signatures/ -run 'TestCorpus|TestRealLogs' -v -count=1"
cmd3="go test ./libs/ingest/logparse/ -run 'TestRealLogs' -v -count=1"
cmd4="go test ./libs/devtools/replay/ -run 'TestDisorderedLog' -v -count=1"
bench="$(eval "$cmd1")"
corpus="$(eval "$cmd2" | grep -E 'corpus:|match an attack signature|^\s+reallogs_test.go:[0-9]+:\s{4}' || true)"
dlq="$(eval "$cmd3" | grep -E 'DLQ share' || true)"
disorder="$(eval "$cmd4" | grep -E 'too late' || true)"

go build -o "$tmp/bulwark" ./services/bulwark
"$tmp/bulwark" simulate --duration 3h --seed 1 --output "$tmp/sim.log" --labels "$tmp/sim.labels.json" 2>/dev/null
table="$("$tmp/bulwark" replay --format nginx --labels "$tmp/sim.labels.json" --output /dev/null -q "$tmp/sim.log" 2>&1 | grep -E '^\||^precision|^targets')"

echo "## Detection on third-party traffic"
echo
echo "Request signatures, garbled bytes, disordered logs and background requests"
echo "(issue 14). The signature cost is events per CPU-second of one engine (decoding"
echo "included) on shop traffic, without and with the shipped signatures, in the same"
echo "run (target: with >= 0.7x without); median of 3."
echo
echo '```'
echo "$cmd1"
echo "$cmd2"
echo "$cmd3"
echo "$cmd4"
echo "bulwark simulate --duration 3h --seed 1 --output sim.log --labels sim.labels.json"
echo "bulwark replay --format nginx --labels sim.labels.json --output /dev/null sim.log"
echo '```'
echo
echo "$bench" | awk '
function metric(name,    i) { for (i = 3; i < NF; i++) if ($(i+1) == name) return $i; return "" }
function median(a, n,    i, j, t) { for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t } return a[int((n + 1) / 2)] }
/^BenchmarkEngineSignatures\/off/ { off[++n1] = metric("events/cpu-s") }
/^BenchmarkEngineSignatures\/shipped/ { on[++n2] = metric("events/cpu-s") }
END {
  o = median(off, n1); s = median(on, n2)
  printf "| engine | events/cpu-s |\n|---|---:|\n| signatures off | %.0f |\n| shipped signatures | %.0f |\n| **ratio** | **%.2fx** |\n", o, s, s / o
}'
echo
echo "Corpora (\`libs/detect/signatures/testdata\`) and the shared real logs, every line:"
echo
echo '```'
echo "$corpus" | sed -E 's/^\s+[a-z_]+_test\.go:[0-9]+: //'
echo "$dlq" | sed -E 's/^\s+[a-z_]+_test\.go:[0-9]+: //'
echo '```'
echo
echo "A real log (apache 2015) with every line's time moved back by 0..60 s:"
echo
echo '```'
echo "$disorder" | sed -E 's/^\s+[a-z_]+_test\.go:[0-9]+: //'
echo '```'
echo
echo "Simulator, 3 h, with \`human_beacon\` (pages posting telemetry every ~2 s, live"
echo "search) and \`api_bot\` (one API endpoint every ~2 s, no pages):"
echo
echo "$table"
echo
