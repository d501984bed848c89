#!/usr/bin/env bash
# Scale-out benchmarks (issue 22): the aggregator's state restore of 64
# partitions through one client (against only reading the same records),
# the longest scoring gap of a partition during a rolling restart, a
# scale-down and a scale-up at 64 partitions (against the same traffic after
# the last rebalance), and the start-up of the verdict topic's readers, the
# decider and the ClickHouse sink at 64 partitions (against 4). Prints a
# Markdown section for BENCHMARKS.md.
set -euo pipefail
cd "$(dirname "$0")/../.."

n_scale="${SCALEOUT_BENCH_N:-2}"
cmd1="go test ./libs/detect/aggregator/ -run '^\$' -bench '^BenchmarkRestore\$' -benchtime=1x -count=1"
cmd2="go test ./libs/checks/failover/ -run '^\$' -bench '^BenchmarkAggregatorScaleOut64\$' -benchtime=${n_scale}x -count=1"
cmd3="go test ./libs/verdicts/verdictlog/ -run '^\$' -bench '^BenchmarkStartUp\$' -benchtime=1x -count=1"
cmd4="go test ./libs/analytics/chsink/ -run '^\$' -bench '^BenchmarkSinkStartUp\$' -benchtime=1x -count=1"
out="$( { eval "$cmd1"; eval "$cmd2"; eval "$cmd3"; eval "$cmd4"; } 2>/dev/null | grep '^Benchmark' || true)"

echo "## Scale-out"
echo
echo "Everything in one process on the embedded Kafka broker (kfake; the scale-out"
echo "scenario on three brokers), so CPU figures include the broker serving the reads."
echo "Restore: every partition of the aggregator's state topic restored through one"
echo "client (restore.go), to the committed end; a subject is one ip:, session: or net:"
echo "state record (an active client IP is about three); baseline (\"read\"): the same"
echo "records read by the same kind of client without loading them. Scale-out: 64"
echo "partitions, traffic produced at a steady rate, three aggregator replicas rolled"
echo "(a new pod, then SIGTERM to an old one, three times), then 3 -> 2 and 2 -> 4"
echo "replicas; the scores are checked to be exactly those of an uninterrupted run. A"
echo "partition's scoring gap is how long the group's committed offset of a partition"
echo "(which moves only with the transaction holding its scores) stands still while"
echo "records wait, sampled every 50 ms; baseline (\"calm\"): the same traffic after the"
echo "last rebalance. Start-up: 1,000,000 verdicts in force, time from start to serving"
echo "(reader caught up; the decider: verdicts restored and a waiting score decided),"
echo "on 64 partitions against 4. Sink: 100,000 requests waiting; start-up is the first"
echo "rows in ClickHouse, catch-up all of them, rebalance a second sink joining while"
echo "10,000 more arrive."
echo
echo '```'
printf '%s\n' "$cmd1" "$cmd2" "$cmd3" "$cmd4"
echo '```'
echo
echo "| benchmark | figures |"
echo "|---|---|"
awk '{
  name = $1; sub(/^Benchmark/, "", name); sub(/-[0-9]+$/, "", name)
  figs = ""
  for (i = 3; i < NF; i += 2) {
    u = $(i+1)
    if (u == "ns/op" || u == "B/op" || u == "allocs/op") continue
    figs = figs (figs == "" ? "" : ", ") $i " " u
  }
  printf "| %s | %s |\n", name, figs
}' <<<"$out"
echo
echo "Against the issue's targets. Wall-clock times on this machine grow with its"
echo "neighbours' load (see the load average below); CPU seconds do not, so the"
echo "figures for dedicated cores are derived from them, marked *derived*."
echo
echo "| target | figure | note |"
echo "|---|---:|---|"
awk '
function metric(name,    i) { for (i = 3; i < NF; i++) if ($(i+1) == name) return $i; return "" }
{ n = $1; sub(/^Benchmark/, "", n); sub(/-[0-9]+$/, "", n)
  for (i = 3; i < NF; i += 2) v[n, $(i+1)] = $i }
END {
  printf "| restore of 64 partitions, empty state, <= 2 s | %s ms | |\n", v["Restore/partitions=64/subjects=0/restore", "ms/restore"]
  rate = v["Restore/partitions=16/subjects=100200/restore", "subjects/cpu-s"]
  printf "| restore, ~100,000 subjects per partition, <= 10 s | 16 partitions: %.1f s wall | %d subjects per CPU-second (one core); 64 partitions on 2 dedicated cores: %.1f s *derived* (6.4 M subjects / (2 x rate)) |\n", v["Restore/partitions=16/subjects=100200/restore", "ms/restore"] / 1000, rate, (rate > 0 ? 6412800 / (2 * rate) : 0)
  printf "| longest scoring gap of a partition, rolling restart, <= 3 s | %.2f s | calm baseline %.2f s |\n", v["AggregatorScaleOut64", "rolling-max-gap-ms"] / 1000, v["AggregatorScaleOut64", "calm-max-gap-ms"] / 1000
  printf "| longest scoring gap of a partition, scale 2 -> 4, <= 3 s | %.2f s | scale 3 -> 2: %.2f s; SIGTERM to exit %.0f ms |\n", v["AggregatorScaleOut64", "scaleup-max-gap-ms"] / 1000, v["AggregatorScaleOut64", "scaledown-max-gap-ms"] / 1000, v["AggregatorScaleOut64", "sigterm-to-exit-max-ms"]
  printf "| sidecar start-up, 1 M verdicts, 64 partitions, <= 5 s | %s s wall, %s CPU-s | 4 partitions: %s s wall, %s CPU-s |\n", v["StartUp/partitions=64/sidecar-table", "startup-s"], v["StartUp/partitions=64/sidecar-table", "cpu-s"], v["StartUp/partitions=4/sidecar-table", "startup-s"], v["StartUp/partitions=4/sidecar-table", "cpu-s"]
  printf "| decider start-up, 1 M verdicts, 64 partitions, <= 5 s | %s s wall, %s CPU-s | 4 partitions: %s s wall, %s CPU-s |\n", v["StartUp/partitions=64/decider", "startup-s"], v["StartUp/partitions=64/decider", "cpu-s"], v["StartUp/partitions=4/decider", "startup-s"], v["StartUp/partitions=4/decider", "cpu-s"]
}' <<<"$out"
echo
echo "Machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), $(go version | cut -d' ' -f3), load average $(cut -d' ' -f1 /proc/loadavg) at the end."
