#!/usr/bin/env bash
# Fingerprint verdicts (fp:, issue 20 item 3): the sidecar's lookup with eight
# campaign fingerprints held against the same table without them, and the cost
# of one fp: verdict record against one ip: verdict record, same run; and the
# aggregator on stuffing traffic with attack mode (fp: scoring) against it
# off. Prints a Markdown section for BENCHMARKS.md.
set -euo pipefail
cd "$(dirname "$0")/../.."

benchtime="${BENCHTIME:-1s}"
# Baseline and fingerprints alternate, three rounds: on a shared machine the
# load moves more between consecutive runs of one than between the two.
go test -c -o /tmp/bulwark-fp-bench.test ./libs/verdicts/verdicttable/
trap 'rm -f /tmp/bulwark-fp-bench.test' EXIT
cmd1="verdicttable.test -test.run '^\$' -test.bench 'LookupFingerprints/<each>\$|ApplyFingerprint/<each>' -test.benchtime=${benchtime}, alternating, 3 rounds"
out1=""
for round in 1 2 3; do
  for n in baseline_no_fp with_8_fp_x_1024 baseline_ip_verdict fp_verdict_1024; do
    out1+="$(/tmp/bulwark-fp-bench.test -test.run '^$' -test.bench "Fingerprints?/${n}\$" -test.benchtime="${benchtime}")"$'\n'
  done
done
cmd2="go test ./libs/detect/aggregator/ -run '^\$' -bench '^BenchmarkEngineStuffing\$' -benchtime=20x -count=2"
out2="$(eval "$cmd2")"

echo "## Fingerprint verdicts (fp:, issue 20 item 3)"
echo
echo "Lookups: 100,000 \`ip:\` verdicts, without and with 8 \`fp:\` verdicts of 1,024"
echo "addresses (a large campaign; a quarter of the lookups are listed addresses)."
echo "Apply: one record of 1,024 addresses into a table holding 8 (the index is rebuilt"
echo "whole) against one \`ip:\` record; the aggregator therefore sends a fingerprint's"
echo "new addresses together at most every 10 s of event time (52 records for the 360"
echo "addresses of the stuffing test traffic). Medians of 3 runs; ratio to the"
echo "same-run baseline. The lookup ratio includes the quarter of lookups that find a"
echo "fingerprint's verdict; a client listed by none costs one bitset word, and a"
echo "sidecar holding no fp: verdict one length check."
echo
echo '```'
echo "$cmd1"
echo "$cmd2"
echo '```'
echo
echo "| benchmark | ns/op (median) | allocs/op | ratio to baseline |"
echo "|---|---:|---:|---:|"
awk '
function metric(name,    i) { for (i = 3; i < NF; i++) if ($(i+1) == name) return $i; return "" }
function median(s,    a, n, i, j, t) {
  n = split(s, a, " ")
  for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j-1] + 0 > a[j] + 0; j--) { t = a[j]; a[j] = a[j-1]; a[j-1] = t }
  return a[int((n + 1) / 2)]
}
/^Benchmark(LookupFingerprints|ApplyFingerprint)\// {
  n = $1; sub(/-[0-9]+$/, "", n); sub(/^Benchmark/, "", n)
  if (!(n in ns)) order[++k] = n
  ns[n] = ns[n] " " metric("ns/op"); al[n] = metric("allocs/op")
}
END {
  lb = median(ns["LookupFingerprints/baseline_no_fp"]); ab = median(ns["ApplyFingerprint/baseline_ip_verdict"])
  for (i = 1; i <= k; i++) {
    n = order[i]; m = median(ns[n]); base = (n ~ /^Lookup/ ? lb : ab)
    printf "| %s | %.0f | %s | %.2f |\n", n, m, al[n], (base > 0 ? m / base : 0)
  }
}' <<<"$out1"
echo
echo "| aggregator on stuffing traffic | events/s (runs) |"
echo "|---|---|"
awk '
function metric(name,    i) { for (i = 3; i < NF; i++) if ($(i+1) == name) return $i; return "" }
/^BenchmarkEngineStuffing\// { n = $1; sub(/-[0-9]+$/, "", n); sub(/^BenchmarkEngineStuffing\//, "", n); if (!(n in r)) o[++k] = n; r[n] = r[n] " " metric("events/s") }
END { for (i = 1; i <= k; i++) printf "| %s |%s |\n", o[i], r[o[i]] }' <<<"$out2"
echo
echo "Machine: $(nproc) cores (shared, noisy; load average $(cut -d' ' -f1-3 /proc/loadavg)), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), $(go version | cut -d' ' -f3)."
