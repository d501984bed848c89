#!/usr/bin/env bash
# Subject parsing (libs/platform/subject): what every verdict topic reader pays per
# record to skip keys that are no subject (issue 13 item 5), against the
# same-run baseline of netip.ParseAddr of one IPv4 address. Prints a
# Markdown section for BENCHMARKS.md.
set -euo pipefail
cd "$(dirname "$0")/../.."

benchtime="${BENCHTIME:-1s}"
cmd="go test ./libs/platform/subject/ -run '^\$' -bench '^BenchmarkParse\$' -benchtime=${benchtime} -cpu=1 -count=1"
out="$(eval "$cmd")"

echo "## Subjects"
echo
echo "\`subject.Parse\` of one verdict topic key, one goroutine. Baseline:"
echo "\`netip.ParseAddr(\"203.0.113.7\")\`; ratio = ns/op / baseline ns/op. No target:"
echo "catching up with 1,000,000 verdicts takes about 1.8 s (Verdict sidecar section),"
echo "about 1,800 ns per record, of which this is the share the subject check adds."
echo
echo '```'
echo "$cmd"
echo '```'
echo
echo "| key | ns/op | allocs/op | ratio to baseline |"
echo "|---|---:|---:|---:|"
awk '
function metric(name,    i) { for (i = 3; i < NF; i++) if ($(i+1) == name) return $i; return "" }
/^BenchmarkParse\// {
  n = $1; sub(/^BenchmarkParse\//, "", n); sub(/-[0-9]+$/, "", n)
  ns[n] = metric("ns/op"); al[n] = metric("allocs/op"); order[++k] = n
}
END {
  base = ns["baseline_netip_ParseAddr"]
  for (i = 1; i <= k; i++) {
    n = order[i]; if (n == "baseline_netip_ParseAddr") continue
    printf "| %s | %.1f | %s | %.2f |\n", n, ns[n], al[n], (base > 0 ? ns[n] / base : 0)
  }
  printf "| baseline: netip.ParseAddr | %.1f | %s | 1.00 |\n", base, al["baseline_netip_ParseAddr"]
}' <<<"$out"
echo
echo "Machine: $(nproc) cores (shared, noisy; load average $(cut -d' ' -f1-3 /proc/loadavg)), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), $(go version | cut -d' ' -f3)."
