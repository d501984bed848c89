#!/usr/bin/env bash
# Verdict sidecar benchmarks (libs/verdicttable, libs/sidecar), each with
# 1,000,000 verdicts loaded: in-process lookup ns/op and allocations; HTTP
# /v1/authz throughput and p50/p99 with wrk over loopback against the real
# bulwark-sidecar binary; catch-up time and heap for 1,000,000 verdicts from
# the (embedded) Kafka topic. Same-run baseline: redis-benchmark GET against
# a local redis-server holding 1,000,000 keys, the store a gateway would
# otherwise ask. Prints a Markdown section for BENCHMARKS.md.
set -euo pipefail
cd "$(dirname "$0")/../.."

for bin in wrk redis-server redis-benchmark redis-cli curl; do
  command -v "$bin" >/dev/null || { echo "sidecar.sh: $bin is missing (apt-get install -y wrk redis-server curl)" >&2; exit 1; }
done

work="$(mktemp -d)"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

free_port() {
  local p
  while :; do
    p=$((20000 + RANDOM % 40000))
    (echo >"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return; }
  done
}

# cpu_ticks PID: user + system CPU time of a process, in clock ticks.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
hz="$(getconf CLK_TCK)"

duration="${WRK_DURATION:-10s}"
conns="${WRK_CONNECTIONS:-16}"

# 1. In-process lookups and catch-up (Go benchmarks).
cmd1="go test ./libs/verdicttable/ -run '^\$' -bench '^BenchmarkLookup\$' -benchtime=1s -count=1"
cmd2="go test ./libs/verdicttable/ -run '^\$' -bench '^BenchmarkCatchUp\$' -benchtime=1x -count=1"
gobench="$(eval "$cmd1" 2>&1; eval "$cmd2" 2>&1)"

# 2. The real binary, started from a snapshot of 1,000,000 verdicts (Kafka
# unreachable on purpose: the table is the snapshot, the lookups are the same).
go build -o "$work/bulwark-sidecar" ./services/sidecar
go run ./libs/sidecar/internal/benchload -n 1000000 -out "$work/verdicts.snap" >/dev/null
port="$(free_port)"
BULWARK_SIDECAR_ADDR="127.0.0.1:$port" BULWARK_SIDECAR_GRPC_ADDR=off \
  BULWARK_SIDECAR_SNAPSHOT_FILE="$work/verdicts.snap" BULWARK_SIDECAR_SNAPSHOT_INTERVAL=1h \
  BULWARK_KAFKA_BROKERS="127.0.0.1:$(free_port)" BULWARK_LOG_LEVEL=error \
  "$work/bulwark-sidecar" 2>"$work/sidecar.log" &
sidecar_pid=$!
pids+=("$sidecar_pid")
for _ in $(seq 1 300); do curl -fs -o /dev/null "http://127.0.0.1:$port/healthz" && break; sleep 0.1; done
verdicts="$(curl -s "http://127.0.0.1:$port/readyz" | sed -n 's/.*"verdicts":\([0-9]*\).*/\1/p')"
wrk -t2 -c"$conns" -d1s -s scripts/bench/sidecar/authz.lua "http://127.0.0.1:$port" >/dev/null 2>&1 # warm-up
cmd3="wrk -t2 -c$conns -d$duration --latency -s scripts/bench/sidecar/authz.lua http://127.0.0.1:PORT"
t0="$(cpu_ticks "$sidecar_pid")"
wrkout="$(wrk -t2 -c"$conns" -d"$duration" --latency -s scripts/bench/sidecar/authz.lua "http://127.0.0.1:$port" 2>&1)"
sidecar_cpu="$(( $(cpu_ticks "$sidecar_pid") - t0 ))"
rss_kib="$(awk '/^VmRSS/ {print $2}' "/proc/$sidecar_pid/status")"
kill "$sidecar_pid"

# 3. Baseline: Redis GET, same connections, 1,000,000 keys.
rport="$(free_port)"
redis-server --port "$rport" --bind 127.0.0.1 --save '' --appendonly no >"$work/redis.log" 2>&1 &
redis_pid=$!
pids+=("$redis_pid")
for _ in $(seq 1 100); do redis-cli -p "$rport" ping >/dev/null 2>&1 && break; sleep 0.1; done
redis-benchmark -p "$rport" -t set -n 1000000 -r 1000000 -P 64 -q >/dev/null 2>&1
cmd4="redis-benchmark -t get -n 400000 -c $conns -r 1000000 --csv"
t0="$(cpu_ticks "$redis_pid")"
redisout="$(redis-benchmark -p "$rport" -t get -n 400000 -c "$conns" -r 1000000 --csv 2>&1)"
redis_cpu="$(( $(cpu_ticks "$redis_pid") - t0 ))"
redis-cli -p "$rport" shutdown nosave >/dev/null 2>&1 || true

echo "## Verdict sidecar"
echo
echo "1,000,000 verdicts loaded (90% IPv4, 5% IPv6, 4% sessions, 1% /24 networks)."
echo "In-process: \`verdicttable.Table.Lookup\` of IPv4 clients, half of them with a verdict,"
echo "IP + every containing network (+ session) checked; \"hot\" cycles over 1,024 clients,"
echo "\"cold\" over 65,536 in cache-defeating order. HTTP: the \`bulwark-sidecar\` binary"
echo "(table from a 1,000,000-verdict snapshot), \`GET /v1/authz\` with \`X-Real-IP\` varied"
echo "over 65,536 clients by \`scripts/bench/sidecar/authz.lua\`, wrk with 2 threads and"
echo "$conns keep-alive connections on the same machine. Catch-up: 1,000,000 verdicts written"
echo "to an embedded Kafka broker (in the same process), time until a new table has caught"
echo "up, and the table's heap after GC (\`HeapAlloc\` difference). Baseline: redis-benchmark"
echo "GET (Redis $(redis-server --version | sed -n 's/.*v=\([^ ]*\).*/\1/p'), 1,000,000 keys, $conns connections). On a shared machine wall-clock"
echo "figures move with the neighbours' load; the CPU figures (process CPU time per lookup, and"
echo "requests per CPU-second of the serving process, sidecar vs redis-server) hold better."
echo
echo '```'
echo "$cmd1"
echo "$cmd2"
echo "$cmd3"
echo "$cmd4"
echo '```'
echo
{
  echo "$gobench" | sed 's/^/GO /'
  echo "$wrkout" | sed 's/^/WRK /'
  echo "$redisout" | sed 's/^/REDIS /'
  echo "RSS $rss_kib"
  echo "CPU $sidecar_cpu $redis_cpu $hz"
  echo "VERDICTS $verdicts"
} | awk '
function commas(n,    s) { s = sprintf("%.0f", n); while (s ~ /[0-9][0-9][0-9][0-9]/) sub(/[0-9][0-9][0-9]($|,)/, ",&", s); return s }
function metric(name,    i) { for (i = 3; i < NF; i++) if ($(i+1) == name) return $i; return "" }
function ms(v) {  # wrk latency "590.00us" / "1.66ms" / "2.1s" -> ms
  if (v ~ /us$/) return substr(v, 1, length(v)-2) / 1000
  if (v ~ /ms$/) return substr(v, 1, length(v)-2) + 0
  if (v ~ /s$/) return substr(v, 1, length(v)-1) * 1000
  return v
}
$1 == "GO" { $1 = ""; $0 = substr($0, 2) }
/^BenchmarkLookup\/hot-[0-9]/ { hot = metric("ns/op"); hotcpu = metric("cpu-ns/op"); hotallocs = metric("allocs/op") }
/^BenchmarkLookup\/cold-[0-9]/ { cold = metric("ns/op"); coldcpu = metric("cpu-ns/op"); coldallocs = metric("allocs/op") }
/^BenchmarkLookup\/hot-ip\+session/ { hotsess = metric("ns/op") }
/^BenchmarkLookup\/hot-parallel/ { par = metric("ns/op") }
/^BenchmarkCatchUp/ { cu = metric("catchup-s"); mib = metric("table-MiB"); peak = metric("peak-heap-MiB") }
$1 == "WRK" && $2 == "Requests/sec:" { rps = $3 }
$1 == "WRK" && $2 == "50%" { p50 = ms($3) }
$1 == "WRK" && $2 == "99%" { p99 = ms($3) }
$1 == "WRK" && $2 == "Non-2xx" { non2xx = $6 }
$1 == "REDIS" && $2 ~ /^"GET"/ { split($2, f, ","); gsub(/"/, "", f[2]); gsub(/"/, "", f[5]); gsub(/"/, "", f[7]); rrps = f[2]; rp50 = f[5]; rp99 = f[7] }
$1 == "RSS" { rss = $2 / 1024 }
$1 == "CPU" { scpu = $2 / $4; rcpu = $3 / $4 }
$1 == "WRK" && $3 == "requests" && $4 == "in" { nreq = $2 }
$1 == "VERDICTS" { nv = $2 }
END {
  print "| figure | value | baseline (Redis GET) | ratio to baseline | issue target |"
  print "|---|---:|---:|---:|---|"
  printf "| in-process lookup, hot: wall ns/op (CPU ns/op), allocs | %s ns (%s), %s allocs | %.0f ns (p50 round trip) | %.4f | <= 100 ns, 0 allocs |\n", hot, hotcpu, hotallocs, rp50 * 1e6, (rp50 > 0 ? hot / (rp50 * 1e6) : 0)
  printf "| in-process lookup, cold: wall ns/op (CPU ns/op), allocs | %s ns (%s), %s allocs | %.0f ns (p50 round trip) | %.4f | <= 100 ns, 0 allocs |\n", cold, coldcpu, coldallocs, rp50 * 1e6, (rp50 > 0 ? cold / (rp50 * 1e6) : 0)
  printf "| in-process lookup, hot, IP + session | %s ns | | | |\n", hotsess
  printf "| in-process lookup, hot, 2 goroutines (ns/op) | %s ns | | | |\n", par
  printf "| HTTP `/v1/authz` throughput (req/s) | %s | %s | %.2f | >= 50,000 |\n", commas(rps), commas(rrps), (rrps > 0 ? rps / rrps : 0)
  printf "| HTTP `/v1/authz` requests per CPU-second of the server process | %s | %s | %.2f | |\n", commas(scpu > 0 ? nreq / scpu : 0), commas(rcpu > 0 ? 400000 / rcpu : 0), (scpu > 0 && rcpu > 0 ? (nreq / scpu) / (400000 / rcpu) : 0)
  printf "| HTTP `/v1/authz` latency p50 | %.3f ms | %.3f ms | %.2f | |\n", p50, rp50, (rp50 > 0 ? p50 / rp50 : 0)
  printf "| HTTP `/v1/authz` latency p99 | %.3f ms | %.3f ms | %.2f | <= 1 ms |\n", p99, rp99, (rp99 > 0 ? p99 / rp99 : 0)
  printf "| answers with a verdict (403/401) under wrk | %s | | | about half |\n", commas(non2xx)
  printf "| sidecar RSS serving %s verdicts | %.0f MiB | | | |\n", commas(nv), rss
  printf "| catch-up of 1,000,000 verdicts from Kafka | %.2f s | | | <= 5 s |\n", cu
  printf "| table heap after catch-up (peak heap growth while catching up) | %.1f MiB (%.0f MiB) | | | <= 200 MiB |\n", mib, peak
}'
echo
echo "Machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), load average $(cut -d' ' -f1-3 /proc/loadavg) at the end, $(go version | cut -d' ' -f3); wrk, the sidecar and Redis share the cores."
