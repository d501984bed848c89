#!/usr/bin/env bash
# Shipper throughput: `bulwark ship` parsing, encoding and producing to an
# embedded broker, against the same-run baseline of `kcat -P` producing the
# raw lines to the same broker. Prints a Markdown section.
set -euo pipefail
cd "$(dirname "$0")/../.."
[ -x bin/bulwark ] || make -s build >/dev/null
command -v kcat >/dev/null || { echo "## Shipper"; echo; echo "_kcat is not installed (apt-get install kcat); skipped._"; exit 0; }

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
echo "keyed by client IP, lz4, idempotent, wait for every acknowledgement) against the"
echo "same-run baseline \`kcat -P -z lz4\` producing the raw lines to the same embedded"
echo "broker (\`bulwark dev --no-services\`, 4 partitions). Input: \`nginx-combined-2022.log\`"
echo "repeated ${reps} times, and the same requests as Cloudflare Logpush JSON. Targets: at"
echo "least half of kcat's line rate (issue 17: 0.7), and at least 200,000 nginx lines/s."
echo "Each format is run ${rounds} times, kcat and the shipper alternated, and the table"
echo "gives the medians; the machine is shared, so single runs swing by 2x."
echo
echo '```'
echo "scripts/bench/shipper.sh   # bin/bulwark ship --brokers ADDR --format F FILE ; kcat -P -b ADDR -t bulwark.requests.v1 -z lz4 < FILE"
echo '```'
echo
echo "| format | lines | MB | kcat lines/s | shipper lines/s | shipper MB/s | ratio to kcat (median) | per-round ratios |"
echo "|---|---:|---:|---:|---:|---:|---:|---|"
for fmt in nginx cloudflare; do
  f="$work/$fmt.log"
  lines=$(wc -l < "$f"); bytes=$(wc -c < "$f")
  kts=(); sts=()
  for _ in $(seq "$rounds"); do
    t0=$(now); kcat -P -b "$addr" -t bulwark.requests.v1 -z lz4 -X queue.buffering.max.messages=1000000 < "$f"; t1=$(now)
    kts+=("$(python3 -c "print($t1-$t0)")")
    t0=$(now); out=$(bin/bulwark ship --brokers "$addr" --format "$fmt" --log-level warn "$f"); t1=$(now)
    sts+=("$(python3 -c "print($t1-$t0)")")
    echo "$fmt: $out" >&2
  done
  python3 - "$lines" "$bytes" "$fmt" "${kts[*]}" "${sts[*]}" <<'PY'
import sys, statistics
lines, size, fmt = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
kts = [float(x) for x in sys.argv[4].split()]
sts = [float(x) for x in sys.argv[5].split()]
kt, st = statistics.median(kts), statistics.median(sts)
rounds = " ".join(f"{k/s:.2f}" for k, s in zip(kts, sts))
print(f"| {fmt} | {lines} | {size/1e6:.0f} | {lines/kt:,.0f} | {lines/st:,.0f} | {size/1e6/st:.1f} | {kt/st:.2f} | {rounds} |")
PY
done
echo
