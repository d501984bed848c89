package replay_test

import (
	"bytes"
	"net"
	"os"
	"path/filepath"
	"testing"

	"github.com/klauspost/compress/zstd"
	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"

	"github.com/bulwarkhq/bulwark/libs/devtools/replay"
	"github.com/bulwarkhq/bulwark/libs/ingest/geoip"
	"github.com/bulwarkhq/bulwark/libs/ingest/logparse"
)

// TestZstdAndCustomFormat: the simulated traffic compressed with zstd, and
// rewritten into a custom Apache format with the time in front, replays to
// the same verdicts as the plain combined file.
func TestZstdAndCustomFormat(t *testing.T) {
	s := traffic(t)
	data, err := os.ReadFile(s.path)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	zw, _ := zstd.NewWriter(nil)
	zpath := filepath.Join(dir, "access.log.1.zst")
	if err := os.WriteFile(zpath, zw.EncodeAll(data, nil), 0o644); err != nil {
		t.Fatal(err)
	}
	// "%h %l %u %t rest" -> "%t %h rest": the same fields, another order.
	var custom bytes.Buffer
	for line := range bytes.Lines(data) {
		f := bytes.SplitN(line, []byte(" "), 6) // ip - - [date zone] rest
		custom.Write(f[3])
		custom.WriteByte(' ')
		custom.Write(f[4])
		custom.WriteByte(' ')
		custom.Write(f[0])
		custom.WriteByte(' ')
		custom.Write(f[5])
	}
	cpath := filepath.Join(dir, "custom.log")
	if err := os.WriteFile(cpath, custom.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	whole, wres := run(t, replay.Config{Files: []string{s.path}, Format: logparse.FormatNginx})
	for _, cfg := range []replay.Config{
		{Files: []string{zpath}, Format: logparse.FormatNginx},
		{Files: []string{cpath}, Format: logparse.FormatApache,
			ParseOptions: logparse.Options{LogFormat: `%t %h "%r" %>s %b "%{Referer}i" "%{User-Agent}i"`}},
	} {
		out, res := run(t, cfg)
		if res.Events != wres.Events || res.Events != s.lines {
			t.Fatalf("%s: %d events, want %d (bad %v)", cfg.Files[0], res.Events, s.lines, res.Bad)
		}
		if !bytes.Equal(out, whole) {
			t.Fatalf("%s gives other verdicts than the plain file", cfg.Files[0])
		}
	}
}

// TestReplayGeoIP: with a GeoIP database, a rule on ip.asn decides in
// replay as it would on shipped events.
func TestReplayGeoIP(t *testing.T) {
	s := traffic(t)
	dir := t.TempDir()
	db := filepath.Join(dir, "asn.mmdb")
	w, err := mmdbwriter.New(mmdbwriter.Options{DatabaseType: "test", RecordSize: 24, IncludeReservedNetworks: true})
	if err != nil {
		t.Fatal(err)
	}
	_, all, _ := net.ParseCIDR("::/0")
	if err := w.Insert(all, mmdbtype.Map{"autonomous_system_number": mmdbtype.Uint32(64500),
		"autonomous_system_organization": mmdbtype.String("Example Hosting")}); err != nil {
		t.Fatal(err)
	}
	f, _ := os.Create(db)
	w.WriteTo(f)
	f.Close()
	rulesFile := filepath.Join(dir, "rules.yaml")
	os.WriteFile(rulesFile, []byte(`
rules:
  - name: hosting
    when: 'ip.asn == 64500 && ip.as_org == "Example Hosting"'
    action: BLOCK
    reason: hosting_network
`), 0o644)
	geo, err := geoip.Open(geoip.Config{ASNDB: db})
	if err != nil {
		t.Fatal(err)
	}
	without, _ := run(t, replay.Config{Files: []string{s.path}, Format: logparse.FormatNginx, Rules: rulesFile})
	with, _ := run(t, replay.Config{Files: []string{s.path}, Format: logparse.FormatNginx, Rules: rulesFile, GeoIP: geo})
	if bytes.Contains(without, []byte("hosting_network")) || !bytes.Contains(with, []byte("hosting_network")) {
		t.Fatalf("the ip.asn rule fired without GeoIP (%v) or not with it (%v)",
			bytes.Contains(without, []byte("hosting_network")), bytes.Contains(with, []byte("hosting_network")))
	}
}
