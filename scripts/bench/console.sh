#!/usr/bin/env bash
# Operator console benchmarks (libs/decide/console, libs/decide/decider):
# the client view's latency against Debian's clickhouse-server 18.16 with
# its ratio to a bare SELECT 1 in the same run, and how long a live policy
# takes to reach the deciders. The 10 M requests / 1 M verdicts run takes
# about 6 minutes; it runs with BULWARK_BENCH_FULL=1. Prints a Markdown
# section for BENCHMARKS.md.
set -euo pipefail
cd "$(dirname "$0")/../.."

load=$(cut -d' ' -f1-3 /proc/loadavg)
raw="$(mktemp)"
trap 'rm -f "$raw"' EXIT
c1='go test ./libs/decide/console/ -run "^$" -bench "^BenchmarkClientView$" -benchtime=200x -count=1'
c2='BULWARK_BENCH_REQUESTS=10000000 BULWARK_BENCH_VERDICTS=1000000 go test ./libs/decide/console/ -run "^$" -bench "^BenchmarkClientView$" -benchtime=200x -count=1 -timeout 20m'
c3='go test ./libs/decide/decider/ -run "^TestLivePolicy$" -count=1 -v'
c4='go test ./libs/decide/console/ -run "^TestBrowserPolicyReachesDecider$" -count=1 -v'
eval "$c1" >>"$raw" 2>&1 || true
if [ "${BULWARK_BENCH_FULL:-}" = 1 ]; then eval "$c2" >>"$raw" 2>&1 || true; fi
eval "$c3" >>"$raw" 2>&1 || true
eval "$c4" >>"$raw" 2>&1 || true

rows=$(awk '/bench_test.go:.*requests, .*verdicts: p50/ {
  p95 = ""
  for (i = 1; i <= NF; i++) { if ($i == "requests,") r = $(i-1); if ($i == "verdicts:") v = $(i-1); if ($i == "p50") p50 = $(i+1); if ($i == "p95" && p95 == "") p95 = $(i+1); if ($i == "(SELECT") s = $(i+3) }
  sub(/\)$/, "", s); print "| " r " | " v " | " p50 " | " p95 " | " s " |" }' "$raw")
ratios=$(awk '/^BenchmarkClientView/ { for (i = 2; i <= NF; i++) if ($(i+1) == "p95/select1") printf "%s ", $i }' "$raw")
live=$(grep -o 'policy in force in both deciders [0-9.]*m\?s' "$raw" | awk '{print $NF}' | head -1)
click=$(grep -o 'in force in the decider [0-9.]*m\?s' "$raw" | awk '{print $NF}' | head -1)

cat <<MD
## Operator console (issue 19)

Machine: $(nproc) cores, shared with other engineers (load before: ${load}); noisy.
Debian's clickhouse-server 18.16 on loopback with the embedded Kafka broker.

Client view: \`GET /clients/ip:X\` (JSON, bearer token, random clients): the
console's verdict table and three ClickHouse queries in parallel (requests of
the last hour, scores of the last day, labels of 30 days). Target: p95 ≤ 300 ms
with 1 M verdicts and 10 M requests (that run with BULWARK_BENCH_FULL=1).

\`\`\`
$c1
$c2
\`\`\`

| requests in ClickHouse (scores 1/10, labels 1/100) | verdicts | p50 | p95 | SELECT 1 p95 (same run) |
|---|---|---|---|---|
${rows}

p95 / SELECT 1 p95: ${ratios}

Live policy to the deciders (target ≤ 2 s): written to both deciders in force
${live:-?} (\`$c3\`); the browser's click on Apply to a running decider in force
${click:-?} (\`$c4\`).
MD
