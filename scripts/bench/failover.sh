#!/usr/bin/env bash
# Failover benchmarks (libs/checks/failover): how long until records flow again
# after a broker dies (three-broker embedded cluster, consumer group), against
# the same record path with no failure; and how long until the cfsync standby
# leads after the leader is cut off or stopped, against the lease settings
# that bound it. Prints a Markdown section for BENCHMARKS.md.
set -euo pipefail
cd "$(dirname "$0")/../.."

n_broker="${FAILOVER_BENCH_BROKER_N:-5}"
n_leader="${FAILOVER_BENCH_LEADER_N:-3}"
cmd1="go test ./libs/checks/failover/ -run '^\$' -bench '^BenchmarkBroker(Failover|Healthy)\$' -benchtime=${n_broker}x -count=1"
cmd2="go test ./libs/checks/failover/ -run '^\$' -bench '^BenchmarkLeaderFailover(Crash|Clean)\$' -benchtime=${n_leader}x -count=1"
out="$( { eval "$cmd1"; eval "$cmd2"; } 2>/dev/null | grep '^Benchmark')"

echo "## Failover"
echo
echo "Broker loss: a three-broker embedded Kafka cluster (kfake, real protocol on"
echo "loopback); the broker leading most partitions of the requests topic (never"
echo "kfake's controller, which cannot move) dies (its listener and every open"
echo "connection closed) and a record is produced at that"
echo "moment; the figure is the time until a consumer group receives it (new partition"
echo "leaders, reconnects, the group coordinator moving). Baseline: the same record path"
echo "with no broker lost. Clients run with franz-go's defaults, whose metadata refresh"
echo "is rate-limited to once per 5 s, which bounds the worst case. Leader loss: two"
echo "bulwark-cfsync candidates on a Kubernetes Lease (client-go leaderelection against"
echo "the fake clientset) with lease 3 s, renew deadline 2 s, retry 200 ms; \"crash\" cuts"
echo "the leader off from the API server (it stops its work after the renew deadline; the"
echo "standby may take the lease only after it expired), \"clean\" is SIGTERM (the lease is"
echo "released after the work stopped). With the shipped defaults (15 s, 10 s, 2 s) the"
echo "crash case takes about 15-17 s and the clean case up to 2 s."
echo
echo '```'
printf '%s\n' "$cmd1" "$cmd2"
echo '```'
echo
echo "| figure | failover | baseline | ratio |"
echo "|---|---:|---:|---:|"
awk '
function metric(name,    i) { for (i = 3; i < NF; i++) if ($(i+1) == name) return $i; return "" }
{ split($1, a, "-"); n = a[1]; sub(/^Benchmark/, "", n); p50[n] = metric("p50-ms"); mx[n] = metric("max-ms"); lease[n] = metric("lease-ms"); retry[n] = metric("retry-ms") }
END {
  printf "| broker loss to records flowing again, p50 ms | %.0f | %.1f (no loss) | %.0f |\n", p50["BrokerFailover"], p50["BrokerHealthy"], (p50["BrokerHealthy"] > 0 ? p50["BrokerFailover"] / p50["BrokerHealthy"] : 0)
  printf "| broker loss to records flowing again, max ms | %.0f | %.1f (no loss) | %.0f |\n", mx["BrokerFailover"], mx["BrokerHealthy"], (mx["BrokerHealthy"] > 0 ? mx["BrokerFailover"] / mx["BrokerHealthy"] : 0)
  printf "| leader cut off to standby leading, p50 ms | %.0f | %.0f (lease duration) | %.2f |\n", p50["LeaderFailoverCrash"], lease["LeaderFailoverCrash"], (lease["LeaderFailoverCrash"] > 0 ? p50["LeaderFailoverCrash"] / lease["LeaderFailoverCrash"] : 0)
  printf "| leader SIGTERM to standby leading, p50 ms | %.0f | %.0f (retry period) | %.2f |\n", p50["LeaderFailoverClean"], retry["LeaderFailoverClean"], (retry["LeaderFailoverClean"] > 0 ? p50["LeaderFailoverClean"] / retry["LeaderFailoverClean"] : 0)
}' <<<"$out"
echo
echo "Machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), $(go version | cut -d' ' -f3), load average $(cut -d' ' -f1 /proc/loadavg) at the end."
