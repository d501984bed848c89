#!/usr/bin/env bash
# Decider benchmarks (libs/decide/decider): in-process decisions per second (what
# `bulwark replay` runs) against the ladder-only baseline; the
# bulwark-decider service's throughput on the embedded broker against a
# pass-through consumer that decides nothing; and the latency from a score
# produced to its verdict read from the verdict topic, against one
# produce-to-consume hop. Prints a Markdown section for BENCHMARKS.md.
set -euo pipefail
cd "$(dirname "$0")/../.."

n_lat="${DECIDER_BENCH_LATENCY_N:-2000}"
n_tp="${DECIDER_BENCH_THROUGHPUT_N:-50000}"
cmd1="go test ./libs/decide/decider/ -run '^\$' -bench '^BenchmarkDecide(LadderOnly)?\$' -benchtime=2s -cpu=1 -count=1"
cmd2="go test ./libs/decide/decider/ -run '^\$' -bench '^Benchmark(Service|Passthrough)Throughput\$' -benchtime=${n_tp}x -count=1"
cmd3="go test ./libs/decide/decider/ -run '^\$' -bench '^Benchmark(ScoreToVerdict|BrokerHop)Latency\$' -benchtime=${n_lat}x -count=1"
n_full="${DECIDER_BENCH_FULLPATH_N:-300}"
cmd4="go test ./libs/decide/decider/ -run '^\$' -bench '^BenchmarkLineToVerdictLatency\$' -benchtime=${n_full}x -count=1"
out="$( { eval "$cmd1"; eval "$cmd2"; eval "$cmd3"; eval "$cmd4"; } 2>/dev/null | grep '^Benchmark')"

echo "## Decider"
echo
echo "In-process: one goroutine (\`-cpu=1\`) deciding a mix of scores (90% harmless, 10%"
echo "monitored to blocked, 16,384 scores) with the shipped rule file; baseline: the"
echo "same with \`rules: []\` and crawler checks off (the ladder alone). Service: scores"
echo "produced to the embedded broker until bulwark-decider has decided all of them;"
echo "baseline: a consumer-group loop on the same broker that decodes, copies to the"
echo "verdict topic and commits, deciding nothing. Latency: one score at a time, from"
echo "producing a score that blocks a new subject to a consumer of the verdict topic"
echo "receiving its verdict (what the sidecar sees: two broker hops plus the decision),"
echo "against one produce-to-consume hop. Full path: a line appended to an access log"
echo "(a curl probe of /.env from a new address, one every 20 ms) until its verdict is"
echo "read from the verdict topic, through the shipper, the aggregator and the decider"
echo "on one embedded broker; \"defaults\" as shipped (shipper polls the file every"
echo "250 ms, the aggregator commits its scores every 1 s), \"tuned\" with"
echo "BULWARK_SHIPPER_POLL_INTERVAL=20ms and BULWARK_AGGREGATOR_SNAPSHOT_INTERVAL=100ms."
echo "Issue target: p99 < 500 ms (CrowdSec's bouncers pull decisions every 10 s)."
echo
echo '```'
printf '%s\n' "$cmd1" "$cmd2" "$cmd3" "$cmd4"
echo '```'
echo
echo "| figure | decider | baseline | ratio |"
echo "|---|---:|---:|---:|"
awk '
function metric(name,    i) { for (i = 3; i < NF; i++) if ($(i+1) == name) return $i; return "" }
function commas(n,    s) { s = sprintf("%.0f", n); while (s ~ /[0-9][0-9][0-9][0-9]/) sub(/[0-9][0-9][0-9]($|,)/, ",&", s); return s }
{ split($1, a, "-"); n = a[1]; sub(/\//, "_", n); sub(/^Benchmark/, "", n); rate[n] = metric("scores/s"); p50[n] = metric("p50-ms"); p99[n] = metric("p99-ms"); allocs[n] = metric("allocs/op") }
END {
  printf "| in-process decisions, scores/s (1 core; %s allocs/score) | %s | %s (ladder only) | %.2f |\n", allocs["Decide"], commas(rate["Decide"]), commas(rate["DecideLadderOnly"]), (rate["DecideLadderOnly"] > 0 ? rate["Decide"] / rate["DecideLadderOnly"] : 0)
  printf "| service throughput, scores/s | %s | %s (pass-through) | %.2f |\n", commas(rate["ServiceThroughput"]), commas(rate["PassthroughThroughput"]), (rate["PassthroughThroughput"] > 0 ? rate["ServiceThroughput"] / rate["PassthroughThroughput"] : 0)
  printf "| score to verdict on the topic, p50 ms | %.2f | %.2f (one hop) | %.1f |\n", p50["ScoreToVerdictLatency"], p50["BrokerHopLatency"], (p50["BrokerHopLatency"] > 0 ? p50["ScoreToVerdictLatency"] / p50["BrokerHopLatency"] : 0)
  printf "| score to verdict on the topic, p99 ms | %.2f | %.2f (one hop) | %.1f |\n", p99["ScoreToVerdictLatency"], p99["BrokerHopLatency"], (p99["BrokerHopLatency"] > 0 ? p99["ScoreToVerdictLatency"] / p99["BrokerHopLatency"] : 0)
  for (i = 0; i < 2; i++) {
    v = (i == 0) ? "defaults" : "tuned"; k = "LineToVerdictLatency_" v
    printf "| log line to verdict on the topic (%s), p50 ms | %.1f | %.2f (one hop) | %.0f |\n", v, p50[k], p50["BrokerHopLatency"], (p50["BrokerHopLatency"] > 0 ? p50[k] / p50["BrokerHopLatency"] : 0)
    printf "| log line to verdict on the topic (%s), p99 ms | %.1f | %.2f (one hop) | %.0f |\n", v, p99[k], p99["BrokerHopLatency"], (p99["BrokerHopLatency"] > 0 ? p99[k] / p99["BrokerHopLatency"] : 0)
  }
}' <<<"$out"
echo
echo "Machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), $(go version | cut -d' ' -f3), load average $(cut -d' ' -f1 /proc/loadavg) at the end."
