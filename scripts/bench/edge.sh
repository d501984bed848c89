#!/usr/bin/env bash
# Edge enforcement benchmarks (libs/enforce/cfsync, libs/enforce/fwsync): time from a BLOCK
# verdict written to the verdict topic (as `bulwark block` writes it) to the
# item being in the Cloudflare list (the httptest fake, libs/enforce/cfsync/cffake) and in
# the nftables set (in a network namespace; needs root), p50/p99, against the
# same-run baseline of a bare verdict reader seeing the same record; and the
# Cloudflare API requests per 1,000 verdict changes against a syncer without
# batching. Prints a Markdown section for BENCHMARKS.md.
set -euo pipefail
cd "$(dirname "$0")/../.."

n="${EDGE_N:-40x}"
cmd1="go test ./libs/enforce/cfsync/ -run '^\$' -bench '^BenchmarkBlockToList\$' -benchtime=${n} -count=1"
cmd2="go test ./libs/enforce/cfsync/ -run '^\$' -bench '^BenchmarkAPICallsPer1000Changes\$' -benchtime=1x -count=1"
cmd3="go test ./libs/enforce/fwsync/ -run '^\$' -bench '^BenchmarkBlockToSet\$' -benchtime=${n} -count=1"
out="$(eval "$cmd1"; eval "$cmd2"; eval "$cmd3" 2>&1 || true)"

echo "## Edge enforcement (cfsync, fwsync)"
echo
echo "A BLOCK verdict is written to the verdict topic (embedded Kafka). \"Stream\": each"
echo "one as soon as the previous one has landed, the worst case for batching (a change"
echo "waits for the sync interval to end). \"Quiet\": after a pause longer than the"
echo "interval, when a change goes out at once. cfsync: 200 ms sync interval, fake Cloudflare"
echo "API whose bulk operations take 50 ms, polled every 20 ms. fwsync: its default"
echo "250 ms interval, real nftables in a network namespace made by the benchmark"
echo "(skipped without root). Baseline: a bare verdict reader (libs/verdicts/verdictlog) seeing"
echo "the same record, i.e. what Kafka itself costs; ratio = figure / baseline."
echo "API calls: 1,000 verdict changes (700 blocks, then 300 of them lifted) over ~5 s"
echo "with a 1 s sync interval and 100 ms bulk operations, counted until the list has"
echo "converged; baseline: no batching, one write and at least one poll per change."
echo
echo '```'
echo "$cmd1"
echo "$cmd2"
echo "$cmd3"
echo '```'
echo
echo "$out" | awk '
function metric(name,    i) { for (i = 3; i < NF; i++) if ($(i+1) == name) return $i; return "" }
function row(label, v, b) {
  if (v == "") { printf "| %s | skipped | | |\n", label; return }
  printf "| %s | %.1f ms | %.1f ms | %.0f |\n", label, v, b, (b > 0 ? v / b : 0)
}
/^BenchmarkBlockToList\/stream/ { l50 = metric("p50_ms"); l99 = metric("p99_ms"); lb50 = metric("topic_p50_ms"); lb99 = metric("topic_p99_ms") }
/^BenchmarkBlockToList\/quiet/ { q50 = metric("p50_ms"); q99 = metric("p99_ms"); qb50 = metric("topic_p50_ms"); qb99 = metric("topic_p99_ms") }
/^BenchmarkBlockToSet\/stream/ { s50 = metric("p50_ms"); s99 = metric("p99_ms"); sb50 = metric("topic_p50_ms"); sb99 = metric("topic_p99_ms") }
/^BenchmarkBlockToSet\/quiet/ { t50 = metric("p50_ms"); t99 = metric("p99_ms"); tb50 = metric("topic_p50_ms"); tb99 = metric("topic_p99_ms") }
/^BenchmarkAPICalls/ { calls = metric("calls/1000changes"); naive = metric("naive_calls/1000changes") }
END {
  print "| figure | value | baseline | ratio |"
  print "|---|---:|---:|---:|"
  row("verdict -> Cloudflare list (fake), back-to-back stream, p50", l50, lb50)
  row("verdict -> Cloudflare list (fake), back-to-back stream, p99", l99, lb99)
  row("verdict -> Cloudflare list (fake), after a quiet interval, p50", q50, qb50)
  row("verdict -> Cloudflare list (fake), after a quiet interval, p99", q99, qb99)
  row("verdict -> nftables set, back-to-back stream, p50", s50, sb50)
  row("verdict -> nftables set, back-to-back stream, p99", s99, sb99)
  row("verdict -> nftables set, after a quiet interval, p50", t50, tb50)
  row("verdict -> nftables set, after a quiet interval, p99", t99, tb99)
  if (calls != "") printf "| Cloudflare API requests per 1,000 verdict changes | %d | %d (no batching) | %.3f |\n", calls, naive, calls / naive
}'
echo
echo "Machine: $(nproc) cores, $(uname -sr)."
