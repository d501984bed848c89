#!/usr/bin/env bash
# Aggregator benchmarks (libs/detect/aggregator): events/s per core through the
# Engine (windows, features, scores, emission) against the same-run baseline
# of only decoding the same records (proto.Unmarshal), and heap per active
# subject with 1,000,000 active client IPs. Prints a Markdown section for
# BENCHMARKS.md.
set -euo pipefail
cd "$(dirname "$0")/../.."

benchtime="${BENCHTIME:-3s}"
cmd1="go test ./libs/detect/aggregator/ -run '^\$' -bench '^Benchmark(Decode|Engine)\$' -benchtime=${benchtime} -cpu=1 -count=1"
cmd2="go test ./libs/detect/aggregator/ -run '^\$' -bench '^BenchmarkMemoryPerIP\$' -benchtime=1x -cpu=1 -count=1"
out="$(eval "$cmd1"; eval "$cmd2")"

echo "## Aggregator"
echo
echo "One goroutine (\`-cpu=1\`). Rates are per CPU-second of the whole process"
echo "(garbage collection included), so they are per core and hold on a shared machine;"
echo "wall-clock rates are in the raw output of the commands. Input: 65,536 encoded"
echo "\`RequestEvent\`s of 20,000 clients on 2,000 networks (2% of them curl), each page"
echo "followed within half a second by five static assets. Baseline: only decoding the"
echo "same records with \`proto.Unmarshal\`; ratio = figure / baseline. \"Engine alone\""
echo "subtracts the measured decoding cost per event: 1 / (1/engine - 1/decode)."
echo "Memory: heap (\`runtime.MemStats.HeapAlloc\` after GC) held by an Engine that has"
echo "seen 1,000,000 distinct client IPs (each with its derived session: and its net:),"
echo "divided by the number of IPs, and by the number of subjects."
echo
echo '```'
echo "$cmd1"
echo "$cmd2"
echo '```'
echo
awk '
function commas(n,    s) { s = sprintf("%.0f", n); while (s ~ /[0-9][0-9][0-9][0-9]/) sub(/[0-9][0-9][0-9]($|,)/, ",&", s); return s }
function metric(name,    i) { for (i = 3; i < NF; i++) if ($(i+1) == name) return $i; return "" }
/^BenchmarkDecode/ { dec = metric("events/cpu-s") }
/^BenchmarkEngine/ { eng = metric("events/cpu-s"); emits = metric("scores/event"); allocs = metric("allocs/op") }
/^BenchmarkMemoryPerIP\/dense/ { perip = metric("B/ip"); persub = metric("B/subject") }
/^BenchmarkMemoryPerIP\/spread/ { perip2 = metric("B/ip"); persub2 = metric("B/subject") }
END {
  alone = (dec > 0 && eng > 0 && eng < dec) ? 1 / (1/eng - 1/dec) : 0
  print "| figure | value | baseline (decode only) | ratio to baseline | issue target |"
  print "|---|---:|---:|---:|---|"
  printf "| events/s per core, decode + Engine | %s | %s | %.3f | |\n", commas(eng), commas(dec), (dec > 0 ? eng / dec : 0)
  printf "| events/s per core, Engine alone (windows, features, scores) | %s | %s | %.3f | >= 500,000 |\n", commas(alone), commas(dec), (dec > 0 ? alone / dec : 0)
  printf "| scores emitted per event | %s | | | on change only |\n", emits
  printf "| allocations per event, decode + Engine | %s | | | |\n", allocs
  printf "| heap per active client IP, 1,000,000 IPs, 256 per /24 (with session and net) | %.0f B | | | <= 1024 B |\n", perip
  printf "| heap per active client IP, 1,000,000 IPs, each in its own /24 (worst case) | %.0f B | | | <= 1024 B |\n", perip2
  printf "| heap per active subject (ip, session, net), 256 per /24 / own /24 | %.0f B / %.0f B | | | |\n", persub, persub2
}' <<<"$out"
echo
echo "Machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), $(go version | cut -d' ' -f3)."
