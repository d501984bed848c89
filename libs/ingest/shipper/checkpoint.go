package shipper

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"github.com/bulwarkhq/bulwark/libs/ingest/tail"
)

// Checkpoint is what the shipper remembers of one file: where to resume,
// and, per Kafka partition, the offset after the last record of the lines
// before that position. Lines past the position may already be in Kafka (the
// shipper was killed after Kafka acknowledged them but before the checkpoint
// was written); on restart they are found by reading each partition from
// these offsets, and skipped, so a restart neither loses nor re-sends a line.
//
// Version 2 positions carry fingerprints of the file's head and of the bytes
// before the offset, which is how a copytruncate (same inode, other content)
// is told from growth; version 1 (no "version" field) has none and is still
// read: its position is trusted by inode and size, as it was written.
type Checkpoint struct {
	Version    int             `json:"version,omitempty"`
	Position   tail.Position   `json:"position"`
	Partitions map[string]Mark `json:"partitions,omitempty"` // "topic/partition" -> mark
}

// checkpointVersion is the format Save writes.
const checkpointVersion = 2

// Mark is a Kafka offset: records at or after it are newer than the checkpoint.
type Mark struct {
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	Offset    int64  `json:"offset"`
}

// CheckpointStore persists checkpoints of every file in one JSON file,
// replaced atomically (write to a temp file, fsync, rename), so a crash
// leaves either the old or the new state, never a torn one.
type CheckpointStore struct {
	path string
	mu   sync.Mutex
	all  map[string]Checkpoint
}

// OpenCheckpoints loads the store at path; a missing file is an empty store.
// An empty path keeps checkpoints in memory only (`bulwark ship`).
func OpenCheckpoints(path string) (*CheckpointStore, error) {
	s := &CheckpointStore{path: path, all: map[string]Checkpoint{}}
	if path == "" {
		return s, nil
	}
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return s, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read checkpoints %s: %w", path, err)
	}
	if err := json.Unmarshal(data, &s.all); err != nil {
		return nil, fmt.Errorf("read checkpoints %s: corrupt JSON (move it away to start over): %w", path, err)
	}
	return s, nil
}

// Get returns the checkpoint of a file path.
func (s *CheckpointStore) Get(path string) (Checkpoint, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.all[path]
	return c, ok
}

// Save records cps (path -> checkpoint) and writes the store.
func (s *CheckpointStore) Save(cps map[string]Checkpoint) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for p, c := range cps {
		s.all[p] = c
	}
	if s.path == "" {
		return nil
	}
	data, err := json.MarshalIndent(s.all, "", "  ")
	if err != nil {
		return fmt.Errorf("encode checkpoints: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(s.path), ".checkpoints-*")
	if err != nil {
		return fmt.Errorf("write checkpoints %s: %w", s.path, err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("write checkpoints %s: %w", s.path, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("sync checkpoints %s: %w", s.path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write checkpoints %s: %w", s.path, err)
	}
	if err := os.Rename(tmp.Name(), s.path); err != nil {
		return fmt.Errorf("replace checkpoints %s: %w", s.path, err)
	}
	return nil
}
