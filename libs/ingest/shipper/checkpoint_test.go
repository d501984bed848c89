package shipper_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/bulwarkhq/bulwark/libs/ingest/shipper"
	"github.com/bulwarkhq/bulwark/libs/ingest/tail"
	"github.com/bulwarkhq/bulwark/libs/platform/kafkatest"
)

// TestVersion1CheckpointResumes: a checkpoint written before fingerprints
// existed (no "version", no "head"/"before") is read and resumed from.
func TestVersion1CheckpointResumes(t *testing.T) {
	b := kafkatest.Start(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "access.log")
	writeLines(t, path, 0, 100)
	off := 0
	for i := range 40 {
		off += len(nginxLine(i))
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	id := tail.IdentityOf(fi)
	cpPath := filepath.Join(dir, "cp.json")
	v1 := fmt.Sprintf(`{%q: {"position": {"identity": {"dev": %d, "ino": %d}, "offset": %d}}}`, path, id.Dev, id.Ino, off)
	if err := os.WriteFile(cpPath, []byte(v1), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := testConfig(path)
	cfg.CheckpointFile = cpPath
	s, err := shipper.New(cfg, kafkatest.Config(b), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if sum := s.Summary(); sum.Read != 60 || sum.Shipped != 60 {
		t.Fatalf("summary %+v, want the 60 lines after the version 1 checkpoint", sum)
	}
	store, err := shipper.OpenCheckpoints(cpPath)
	if err != nil {
		t.Fatal(err)
	}
	cp, _ := store.Get(path)
	if cp.Version != 2 || cp.Position.Head.Len == 0 || cp.Position.Before.Len == 0 || cp.Position.Offset != fi.Size() {
		t.Fatalf("rewritten checkpoint %+v, want version 2 with fingerprints at the end of the file", cp)
	}
}
