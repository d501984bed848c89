// Package failover holds Bulwark's failover tests and benchmarks: they run
// the real components in-process against a multi-broker embedded Kafka
// cluster (franz-go's kfake, real Kafka protocol on loopback ports) and a
// fake Kubernetes API, then break things the way production does: a broker
// dies, a zone's sidecar dies, the cfsync leader dies or is cut off, the
// aggregator rolls. scripts/bench/failover.sh turns the benchmarks into the
// failover times of BENCHMARKS.md.
package failover
