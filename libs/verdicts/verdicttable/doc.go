// Package verdicttable is the in-memory verdict table that the sidecar serves
// and that Go applications can embed: exact IPv4/IPv6 and session lookups,
// longest-prefix matches for "net:" verdicts, and "strongest action wins"
// when a client matches several subjects.
//
//	t := verdicttable.New()
//	f := verdicttable.NewFollower(t, kafkaCfg, verdicttable.FollowOptions{})
//	go f.Run(ctx)                        // reads the verdict topic from its start
//	<-f.Ready()                          // caught up with the topic
//	r := t.Lookup(ip, session, time.Now()) // r.Action, r.Subject(), r.Verdict()
//
// # Concurrency
//
// Exact verdicts (IPs, sessions) live in an open-addressed hash table of
// 256 shards (exact.go), read without locks: a reader probes a shard's
// array and checks the shard's sequence counter before and after, probing
// again in the rare case a writer changed a slot meanwhile. Readers write no
// shared memory, so they scale across cores; writers take the shard's mutex
// for one slot's stores, and growth builds a new array aside and publishes
// it with one pointer store, so a reader never waits behind a rehash. A slot
// is 56 bytes without pointers (the rule and reasons are interned and
// referenced by number; a session is keyed by a 128-bit keyed hash of its
// id), so a million verdicts take about 100 MiB and the garbage collector
// never scans them; a concurrent map with a heap node per entry would be
// scanned on every cycle, which shows in the sidecar's tail latency.
//
// Network verdicts live in a github.com/gaissmai/bart table behind an
// atomic.Pointer: readers load the pointer and never lock; writers build the
// next version with InsertPersist/DeletePersist (copy-on-write of the nodes
// on one path) and swap it in. bart was chosen because it is a tested,
// maintained multibit trie (ART-derived, popcount-compressed) with
// allocation-free longest-prefix lookups in tens of nanoseconds for IPv4 and
// IPv6 alike, and it has persistent (immutable) updates built in, which is
// exactly what lock-free readers need.
//
// # Expiry and tombstones
//
// A tombstone (nil verdict) deletes its subject. A verdict past its expiry is
// invisible to Lookup at once, before any tombstone arrives, and the
// background sweeper frees it later: Follower.Run calls SweepStep so that a
// whole sweep is spread over its interval, one shard at a time; Table.Sweep
// does it all at once.
//
// # Snapshots
//
// WriteSnapshot and LoadSnapshot store the table in a local file (off unless
// the caller asks; the sidecar does when BULWARK_SIDECAR_SNAPSHOT_FILE is
// set), so a restarted process answers from the last known table while it
// replays the topic. Entries that came from a snapshot and were not seen again
// in the replay are dropped once the replay has caught up (DropStale), so a
// verdict lifted while the process was down does not linger.
package verdicttable
