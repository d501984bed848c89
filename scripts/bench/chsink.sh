#!/usr/bin/env bash
# ClickHouse sink throughput: rows/s from the requests topic into ClickHouse
# (fetch, decode, batch, insert into the table with its rollup views), against
# the same-run baseline of clickhouse-client inserting the same rows from a
# file into an identical table. Needs Debian's clickhouse-server and
# clickhouse-client (the benchmark starts its own server on loopback ports).
# Prints a Markdown section for BENCHMARKS.md. Runs 3 times; reports the median.
set -euo pipefail
cd "$(dirname "$0")/../.."

rows=${CHSINK_BENCH_ROWS:-1000000}
runs=${CHSINK_BENCH_RUNS:-3}
cmd="CHSINK_BENCH_ROWS=$rows go test ./libs/analytics/chsink -run '^\$' -bench BenchmarkSinkThroughput -benchtime 1x -count $runs"

if ! command -v clickhouse-server >/dev/null || ! command -v clickhouse-client >/dev/null; then
  printf '## ClickHouse sink\n\nSkipped: clickhouse-server and clickhouse-client are not installed.\n\n'
  exit 0
fi

out=$(CHSINK_BENCH_ROWS=$rows go test ./libs/analytics/chsink -run '^$' -bench BenchmarkSinkThroughput -benchtime 1x -count "$runs" -timeout 15m 2>&1) || {
  printf '## ClickHouse sink\n\nThe benchmark failed:\n\n```\n%s\n```\n\n' "$(tail -20 <<<"$out")"
  exit 1
}

# median of the named metric over the runs
median() {
  awk -v unit="$1" '/^BenchmarkSinkThroughput/ { for (i = 2; i < NF; i++) if ($(i+1) == unit) print $i }' <<<"$out" |
    sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print "n/a"; else print v[int((NR + 1) / 2)] }'
}
sink=$(median rows/s)
tsv=$(median baseline_tsv_rows/s)
native=$(median baseline_native_rows/s)
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }
fmt() { awk -v v="$1" 'BEGIN { if (v == "n/a") print v; else printf "%.0f", v }'; }

cat <<MD
## ClickHouse sink (bulwark-chsink)

\`$cmd\`

$rows request events, already in the requests topic (in-process kfake broker),
written by the sink into \`bulwark.requests\` and its three rollup views on
Debian's clickhouse-server (18.16) on loopback;
baseline: \`clickhouse-client\` inserting the same rows from a file into an
identical table. Median of $runs runs.

| figure | sink | baseline | ratio (sink / baseline) | target |
|---|---:|---:|---:|---|
| rows/s, baseline from a TabSeparated file | $(fmt "$sink") | $(fmt "$tsv") | $(ratio "$sink" "$tsv") | >= 100,000 rows/s and >= 0.5 |
| rows/s, baseline from a Native file | $(fmt "$sink") | $(fmt "$native") | $(ratio "$sink" "$native") | (stricter: no parsing on the server) |

Machine: $(nproc) cores, shared; figures from one run of the whole set, so compare ratios.

MD
