package verdicttable

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"google.golang.org/protobuf/encoding/protodelim"

	"github.com/bulwarkhq/bulwark/libs/platform/eventpb"
	"github.com/bulwarkhq/bulwark/libs/platform/subject"
)

// Range calls fn with every stored verdict (expired ones not yet swept
// included) until fn returns false. Each shard is copied under its writers'
// mutex and fn runs after it is released, so a slow fn never holds up
// writers; readers are never held up.
func (t *Table) Range(fn func(subject string, v *eventpb.Verdict) bool) {
	var buf []keyedEntry
	for i := range t.ips.shards {
		buf = t.ips.appendShard(buf[:0], i)
		for _, x := range buf {
			sub := subject.IP(x.k.addr())
			if !fn(sub, x.e.verdict(t.extras, sub)) {
				return
			}
		}
		buf = t.sessions.appendShard(buf[:0], i)
		for _, x := range buf {
			sub := subject.Session(x.name)
			if !fn(sub, x.e.verdict(t.extras, sub)) {
				return
			}
		}
		runtime.Gosched() // as in removeIf: let queued requests in
	}
	for p, e := range t.nets.Load().All() {
		sub := subject.Net(p)
		if !fn(sub, e.verdict(t.extras, sub)) {
			return
		}
	}
	for fp, fv := range t.rangeFPs() {
		sub := subject.FP(fp)
		v := fv.e.verdict(t.extras, sub)
		v.Addresses = fv.addrs
		if !fn(sub, v) {
			return
		}
	}
}

// WriteSnapshot writes every active verdict to w as length-delimited
// eventpb.Verdict messages (google.golang.org/protobuf/encoding/protodelim)
// and returns how many it wrote.
func (t *Table) WriteSnapshot(w io.Writer, now time.Time) (int, error) {
	bw := bufio.NewWriterSize(w, 1<<16)
	n := 0
	var err error
	ns := now.UnixNano()
	t.Range(func(_ string, v *eventpb.Verdict) bool {
		if !entryActive(v, ns) {
			return true
		}
		if _, err = protodelim.MarshalTo(bw, v); err != nil {
			return false
		}
		n++
		return true
	})
	if err != nil {
		return n, fmt.Errorf("write verdict snapshot: %w", err)
	}
	if err := bw.Flush(); err != nil {
		return n, fmt.Errorf("write verdict snapshot: %w", err)
	}
	return n, nil
}

// LoadSnapshot reads what WriteSnapshot wrote into t and returns how many
// verdicts it loaded. The loaded entries are marked stale until the topic
// sets them again; DropStale removes the rest after the replay.
func (t *Table) LoadSnapshot(r io.Reader, now time.Time) (int, error) {
	br := bufio.NewReaderSize(r, 1<<16)
	n := 0
	ns := now.UnixNano()
	for {
		v := &eventpb.Verdict{}
		err := protodelim.UnmarshalFrom(br, v)
		if errors.Is(err, io.EOF) {
			return n, nil
		}
		if err != nil {
			return n, fmt.Errorf("read verdict snapshot after %d verdicts: %w", n, err)
		}
		sub, err := subject.Parse(v.GetSubject())
		if err != nil || knownAction(v) != nil || !entryActive(v, ns) {
			continue
		}
		e := t.newEntry(v)
		e.stale = true
		t.store(sub, v, e)
		n++
	}
}

// SaveSnapshotFile writes the snapshot to path atomically (a temporary file
// in the same directory, synced, then renamed over path).
func (t *Table) SaveSnapshotFile(path string, now time.Time) (int, error) {
	f, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".tmp*")
	if err != nil {
		return 0, fmt.Errorf("save verdict snapshot: %w", err)
	}
	defer os.Remove(f.Name()) // after a successful rename this finds nothing
	n, err := t.WriteSnapshot(f, now)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		return 0, fmt.Errorf("save verdict snapshot %s: %w", path, err)
	}
	return n, nil
}

// LoadSnapshotFile loads the snapshot at path; a missing file loads nothing.
func (t *Table) LoadSnapshotFile(path string, now time.Time) (int, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("load verdict snapshot: %w", err)
	}
	defer f.Close()
	n, err := t.LoadSnapshot(f, now)
	if err != nil {
		return n, fmt.Errorf("load verdict snapshot %s: %w", path, err)
	}
	return n, nil
}
