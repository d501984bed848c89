#!/usr/bin/env bash
# Shipper throughput: `bulwark ship` parsing, encoding and producing to an
# embedded broker, against the same-run baseline of `kcat -P` producing the
# raw lines to the same broker. Prints a Markdown section.
set -euo pipefail
cd "$(dirname "$0")/../.."
[ -x bin/bulwark ] || make -s build >/dev/null
command -v kcat >/dev/null || { echo "## Shipper"; echo; echo "_kcat is not installed (apt-get install kcat); skipped._"; exit 0; }
[ -x /usr/bin/time ] || { echo "## Shipper"; echo; echo "_/usr/bin/time is not installed (apt-get install time); skipped._"; exit 0; }

work=$(mktemp -d)
trap 'kill $broker_pid 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"' EXIT
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
addr=127.0.0.1:$port
bin/bulwark dev --no-services --listen "$addr" --data "$work/kafka" --partitions 4 >/dev/null 2>&1 &
broker_pid=$!
for _ in $(seq 100); do kcat -L -b "$addr" -t bulwark.requests.v1 >/dev/null 2>&1 && break; sleep 0.1; done

reps=${SHIPPER_BENCH_REPS:-30}
rounds=${SHIPPER_BENCH_ROUNDS:-5}
real=../shared/data/real-logs/nginx-combined-2022.log
[ -f "$real" ] || real=libs/ingest/logparse/testdata/nginx-combined-2022.log
for _ in $(seq "$reps"); do cat "$real"; done > "$work/nginx.log"
python3 - "$work/nginx.log" "$work/cloudflare.log" <<'PY'
# The same requests as Cloudflare Logpush http_requests lines.
import json, re, sys, datetime
pat = re.compile(r'(\S+) \S+ \S+ \[([^\]]+)\] "(\S+) (\S+) (\S+)" (\d+) (\d+) "([^"]*)" "([^"]*)"')
with open(sys.argv[1], encoding="utf-8", errors="replace") as f, open(sys.argv[2], "w") as out:
    for line in f:
        m = pat.match(line)
        if not m:
            continue
        ip, ts, method, uri, proto, status, size, ref, ua = m.groups()
        t = datetime.datetime.strptime(ts, "%d/%b/%Y:%H:%M:%S %z")
        out.write(json.dumps({"ClientIP": ip, "ClientRequestHost": "shop.example", "ClientRequestMethod": method,
            "ClientRequestURI": uri, "ClientRequestProtocol": proto, "EdgeResponseStatus": int(status),
            "EdgeResponseBytes": int(size), "EdgeStartTimestamp": t.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "ClientRequestUserAgent": ua, "ClientRequestReferer": "" if ref == "-" else ref,
            "ClientCountry": "de", "ClientASN": 3320, "BotScore": 30, "RayID": "8f0c1b2a3d4e5f60",
            "JA3Hash": "cd08e31494f9531f560d64c695473da9"}, separators=(",", ":")) + "\n")
PY

now() { date +%s.%N; }
rate() { python3 -c "import sys; print(f'{float(sys.argv[1])/float(sys.argv[2]):,.0f}')" "$1" "$2"; }
mbs() { python3 -c "import sys; print(f'{float(sys.argv[1])/1e6/float(sys.argv[2]):.1f}')" "$1" "$2"; }

echo "## Shipper: parse, encode and produce"
echo
echo "\`bulwark ship --format F FILE\` (parse each line, encode a \`RequestEvent\`, produce"
echo "keyed by client IP, snappy, idempotent, wait for every acknowledgement) against the"
echo "same-run baseline \`kcat -P -z lz4\` producing the raw lines to the same embedded"
echo "broker (\`bulwark dev --no-services\`, 4 partitions). Input: \`nginx-combined-2022.log\`"
echo "repeated ${reps} times, and the same requests as Cloudflare Logpush JSON. Targets: at"
echo "least half of kcat's line rate (issue 17: 0.7), and at least 200,000 nginx lines/s."
echo "Each format is run ${rounds} times, kcat and the shipper alternated, and the table"
echo "gives the medians; the machine is shared, so single runs swing by 2x. CPU columns:"
echo "user+system seconds of the producer plus the broker's, per million lines (median),"
echo "which the load of other processes affects less than wall time; CPU ratio is kcat's"
echo "CPU over the shipper's."
echo
echo '```'
echo "scripts/bench/shipper.sh   # bin/bulwark ship --brokers ADDR --format F FILE ; kcat -P -b ADDR -t bulwark.requests.v1 -z lz4 < FILE"
echo '```'
echo
echo "| format | lines | MB | kcat lines/s | shipper lines/s | shipper MB/s | ratio to kcat (median) | per-round ratios | kcat CPU s/M lines | shipper CPU s/M lines | CPU ratio |"
echo "|---|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|"
# CPU seconds of the broker process so far (utime+stime): the broker's work
# for each run is counted with the run, since a producer that sends fewer or
# better-compressed bytes saves the broker's CPU too.
broker_cpu() { python3 -c "import os,sys; f=open(f'/proc/{sys.argv[1]}/stat').read().rsplit(')',1)[1].split(); print((int(f[11])+int(f[12]))/os.sysconf('SC_CLK_TCK'))" "$broker_pid"; }
load0=$(cut -d' ' -f1-3 /proc/loadavg)
for fmt in ${SHIPPER_BENCH_FORMATS:-nginx cloudflare}; do
  f="$work/$fmt.log"
  lines=$(wc -l < "$f"); bytes=$(wc -c < "$f")
  kts=(); sts=(); kcs=(); scs=()
  for _ in $(seq "$rounds"); do
    b0=$(broker_cpu); t0=$(now)
    /usr/bin/time -f "%U %S" -o "$work/time" kcat -P -b "$addr" -t bulwark.requests.v1 -z lz4 -X queue.buffering.max.messages=1000000 < "$f"
    t1=$(now); b1=$(broker_cpu)
    kts+=("$(python3 -c "print($t1-$t0)")")
    kcs+=("$(python3 -c "u,s=open('$work/time').read().split()[-2:]; print(float(u)+float(s)+$b1-$b0)")")
    b0=$(broker_cpu); t0=$(now)
    out=$(/usr/bin/time -f "%U %S" -o "$work/time" bin/bulwark ship --brokers "$addr" --format "$fmt" --log-level warn "$f")
    t1=$(now); b1=$(broker_cpu)
    sts+=("$(python3 -c "print($t1-$t0)")")
    scs+=("$(python3 -c "u,s=open('$work/time').read().split()[-2:]; print(float(u)+float(s)+$b1-$b0)")")
    echo "$fmt: $out" >&2
  done
  python3 - "$lines" "$bytes" "$fmt" "${kts[*]}" "${sts[*]}" "${kcs[*]}" "${scs[*]}" <<'PY'
import sys, statistics
lines, size, fmt = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
kts, sts, kcs, scs = ([float(x) for x in a.split()] for a in sys.argv[4:8])
kt, st = statistics.median(kts), statistics.median(sts)
kc, sc = statistics.median(kcs), statistics.median(scs)
rounds = " ".join(f"{k/s:.2f}" for k, s in zip(kts, sts))
m = lines / 1e6
print(f"| {fmt} | {lines} | {size/1e6:.0f} | {lines/kt:,.0f} | {lines/st:,.0f} | {size/1e6/st:.1f} | {kt/st:.2f} | {rounds} | {kc/m:.2f} | {sc/m:.2f} | {kc/sc:.2f} |")
PY
done
echo
echo "_Run $(date -u +%Y-%m-%dT%H:%MZ); load average $load0 at the start, $(cut -d' ' -f1-3 /proc/loadavg) at the end (1, 5, 15 min); $(nproc) cores shared with other sessions._"
echo
