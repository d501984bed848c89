package blockset_test

import (
	"net/netip"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/bulwarkhq/bulwark/libs/platform/eventpb"
	"github.com/bulwarkhq/bulwark/libs/verdicts/blockset"
)

func TestApply(t *testing.T) {
	s := blockset.New("test", []eventpb.Action{eventpb.Action_BLOCK}, nil, prometheus.NewRegistry())
	now := time.Now()
	v := func(a eventpb.Action, ttl time.Duration) *eventpb.Verdict {
		out := &eventpb.Verdict{Action: a, Score: 90, Reasons: []string{"r"}}
		if ttl != 0 {
			out.ExpiresAtUnixNano = now.Add(ttl).UnixNano()
		}
		return out
	}
	s.Apply("ip:192.0.2.1", v(eventpb.Action_BLOCK, 0))
	s.Apply("net:198.51.100.0/24", v(eventpb.Action_BLOCK, time.Hour))
	s.Apply("ip:192.0.2.2", v(eventpb.Action_BLOCK, -time.Second)) // already expired
	s.Apply("ip:192.0.2.3", v(eventpb.Action_CHALLENGE, 0))        // not enforced here
	s.Apply("session:abc", v(eventpb.Action_BLOCK, 0))             // not enforceable by address
	s.Apply("garbage", v(eventpb.Action_BLOCK, 0))
	select {
	case <-s.Changed():
	default:
		t.Fatal("no change signalled")
	}
	got := s.Active(now)
	if len(got) != 2 || got[0].Prefix != netip.MustParsePrefix("192.0.2.1/32") || got[1].Prefix != netip.MustParsePrefix("198.51.100.0/24") {
		t.Fatalf("Active = %+v", got)
	}
	if got[0].Expires() || !got[1].Expires() {
		t.Errorf("expiry flags wrong: %+v", got)
	}
	if next := s.NextExpiry(now); !next.Equal(time.Unix(0, now.Add(time.Hour).UnixNano())) {
		t.Errorf("NextExpiry = %v", next)
	}
	s.Apply("ip:192.0.2.1", v(eventpb.Action_MONITOR, 0)) // downgraded: lifted here
	s.Apply("net:198.51.100.0/24", nil)                   // tombstone
	if got := s.Active(now); len(got) != 0 {
		t.Errorf("after lifting: %+v", got)
	}
	if s.Len() != 1 { // the expired one stays until its tombstone
		t.Errorf("Len = %d, want 1", s.Len())
	}
}

func TestParseActions(t *testing.T) {
	f := func(in string, want []eventpb.Action, wantErr bool) {
		t.Helper()
		got, err := blockset.ParseActions(in)
		if wantErr != (err != nil) || len(got) != len(want) {
			t.Errorf("ParseActions(%q) = %v, %v", in, got, err)
			return
		}
		for i := range want {
			if got[i] != want[i] {
				t.Errorf("ParseActions(%q) = %v, want %v", in, got, want)
			}
		}
	}
	f("BLOCK", []eventpb.Action{eventpb.Action_BLOCK}, false)
	f(" block , CHALLENGE,block", []eventpb.Action{eventpb.Action_BLOCK, eventpb.Action_CHALLENGE}, false)
	f("", nil, true)
	f("MONITOR", nil, true)
	f("BLOCK,nope", nil, true)
}

func FuzzParseActions(f *testing.F) {
	for _, s := range []string{"BLOCK", "BLOCK,CHALLENGE", "", ",", "allow", "block,,challenge"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := blockset.ParseActions(s)
		if err != nil {
			return
		}
		for _, a := range got {
			if a != eventpb.Action_BLOCK && a != eventpb.Action_CHALLENGE {
				t.Fatalf("ParseActions(%q) accepted %v", s, a)
			}
		}
	})
}

func BenchmarkActive(b *testing.B) {
	s := blockset.New("bench", []eventpb.Action{eventpb.Action_BLOCK}, nil, nil)
	for i := range 10000 {
		a := netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
		s.Apply("ip:"+a.String(), &eventpb.Verdict{Action: eventpb.Action_BLOCK, Score: 90})
	}
	now := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		_ = s.Active(now)
	}
}
