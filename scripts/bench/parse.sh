#!/usr/bin/env bash
# Log parsing benchmarks (libs/ingest/logparse): lines/s per core, MB/s and
# allocations per line for each format, against the same-run baseline of
# splitting the same input into lines with bytes.IndexByte (the raw cost of
# reading lines). Prints a Markdown section for BENCHMARKS.md.
set -euo pipefail
cd "$(dirname "$0")/../.."

benchtime="${BENCHTIME:-2s}"
cmd="go test ./libs/ingest/logparse/ -run '^\$' -bench '^Benchmark(Parse|Split)' -benchtime=${benchtime} -cpu=1 -count=1"
out="$(eval "$cmd")"

echo "## Log parsing"
echo
echo "One goroutine (\`-cpu=1\`), so lines/s is per core. Input: the real logs in"
echo "\`shared/data/real-logs\` (26,912 lines of nginx/Apache combined); the JSON formats"
echo "parse the same requests rendered as \`nginx-json\` and Cloudflare Logpush lines."
echo "Baseline: finding the same lines with \`bytes.IndexByte\`, nothing parsed;"
echo "ratio = parse rate / baseline rate. Issue target: nginx >= 1,000,000 lines/s per"
echo "core with 0 allocations per line."
echo
echo '```'
echo "$cmd"
echo '```'
echo
echo "| format | lines/s per core | MB/s | allocs/line | baseline lines/s (IndexByte) | ratio to baseline |"
echo "|---|---:|---:|---:|---:|---:|"
awk '
function commas(n,    s) { s = sprintf("%.0f", n); while (s ~ /[0-9][0-9][0-9][0-9]/) sub(/[0-9][0-9][0-9]($|,)/, ",&", s); return s }
function metric(name,    i) { for (i = 3; i < NF; i++) if ($(i+1) == name) return $i; return "" }
/^Benchmark(Parse|Split)/ {
  split($1, a, "-"); n = a[1]; sub(/^Benchmark/, "", n)
  kind = (n ~ /^Parse/) ? "parse" : "split"; f = n; sub(/^(Parse|Split)/, "", f)
  rate[kind, f] = metric("lines/s"); mbs[kind, f] = metric("MB/s"); allocs[kind, f] = metric("allocs/op")
  if (kind == "parse") order[++k] = f
}
END {
  name["Nginx"] = "nginx"; name["NginxJSON"] = "nginx-json"; name["Cloudflare"] = "cloudflare"
  for (i = 1; i <= k; i++) {
    f = order[i]; p = rate["parse", f]; s = rate["split", f]
    printf "| %s | %s | %.0f | %s | %s | %.3f |\n", name[f], commas(p), mbs["parse", f], allocs["parse", f], commas(s), (s > 0 ? p / s : 0)
  }
}' <<<"$out"
echo
echo "Machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), $(go version | cut -d' ' -f3)."
