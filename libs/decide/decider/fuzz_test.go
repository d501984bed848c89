package decider_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/bulwarkhq/bulwark/libs/decide/decider"
	"github.com/bulwarkhq/bulwark/libs/detect/rules"
	"github.com/bulwarkhq/bulwark/libs/platform/eventpb"
	"github.com/bulwarkhq/bulwark/libs/verdicts/verdict"
)

// FuzzDecideInvariants runs byte-driven sequences of scores, operator
// records and expiries through deciders and checks what must always hold:
// at most one change per score; a verdict is only rewritten when its action
// (or would-be action) gets stronger or its expiry later; in learning mode
// only MONITOR is written; an allowed address never gets a verdict; and
// Expire leaves nothing past its expiry.
func FuzzDecideInvariants(f *testing.F) {
	f.Add([]byte{0, 95, 1, 96, 2, 30, 3, 200, 0, 55, 4, 1})
	f.Add([]byte{5, 99, 6, 99, 7, 0, 8, 250, 9, 10, 1, 91})
	f.Add([]byte("the quick brown fox jumps over the lazy dog"))
	sets := map[string]*rules.RuleSet{}
	for name, y := range map[string]string{
		"default":  "allow: {cidrs: [10.0.0.7/32]}\n",
		"learning": "learning: true\nallow: {cidrs: [10.0.0.7/32]}\n",
	} {
		rs, err := rules.Parse([]byte(y), name)
		if err != nil {
			f.Fatal(err)
		}
		sets[name] = rs
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for name, rs := range sets {
			d, err := decider.New(rs, decider.Options{Resolver: fakeResolver{}, SyncCrawlerChecks: true})
			if err != nil {
				t.Fatal(err)
			}
			last := map[string]*eventpb.Verdict{}
			now := t0
			for i := 0; i+1 < len(data); i += 2 {
				op, arg := data[i], data[i+1]
				sub := fmt.Sprintf("ip:10.0.0.%d", op%8)
				now = now.Add(time.Duration(arg) * 7 * time.Second)
				var changes []decider.Change
				switch {
				case op%16 == 15:
					changes = d.Expire(now)
					for _, c := range changes {
						delete(last, c.Subject)
					}
					continue
				case op%16 == 14:
					d.Observe(sub, operator(sub, eventpb.Action(1+arg%4), now, time.Duration(arg)*time.Minute), now)
					delete(last, sub)
					continue
				case op%16 == 13:
					d.Observe(sub, nil, now)
					delete(last, sub)
					continue
				}
				s := mkScore(sub, now, float64(arg%101), feat("login_failures_1m", float64(op/8)))
				if op&64 != 0 {
					s.Trigger.UserAgent = "Googlebot/2.1"
				}
				changes = d.Decide(context.Background(), s)
				if len(changes) > 1 {
					t.Fatalf("%s: %d changes for one score", name, len(changes))
				}
				for _, c := range changes {
					if c.Verdict == nil {
						delete(last, c.Subject)
						continue
					}
					v := c.Verdict
					if sub == "ip:10.0.0.7" {
						t.Fatalf("%s: allowed address got %v", name, v)
					}
					if name == "learning" && v.Action != eventpb.Action_MONITOR {
						t.Fatalf("learning mode wrote %v", v)
					}
					if p := last[c.Subject]; p != nil && verdict.Active(p, now) && c.Why != decider.WhyNew {
						stronger := v.Action > p.Action || (v.Action == p.Action && v.WouldBe > p.WouldBe)
						if !stronger && v.ExpiresAtUnixNano <= p.ExpiresAtUnixNano {
							t.Fatalf("%s: rewrite without a change: %v after %v", name, v, p)
						}
					}
					last[c.Subject] = v
				}
			}
			d.Expire(now.Add(100 * 24 * time.Hour))
			if d.Len() != 0 {
				t.Fatalf("%s: %d verdicts left after every expiry", name, d.Len())
			}
		}
	})
}
