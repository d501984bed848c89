package policy_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/bulwarkhq/bulwark/libs/decide/policy"
	"github.com/bulwarkhq/bulwark/libs/detect/rules"
	"github.com/bulwarkhq/bulwark/libs/platform/kafkatest"
	"github.com/bulwarkhq/bulwark/libs/platform/testkit"
)

// TestWriteAndFollow: a follower started after two writes is ready with
// the latest; a document that is not a policy is refused before Kafka.
func TestWriteAndFollow(t *testing.T) {
	b := kafkatest.Start(t)
	kcfg := kafkatest.Config(b)
	ctx := context.Background()
	if err := policy.Write(ctx, kcfg, []byte("rules: []\n")); !errors.Is(err, rules.ErrInvalid) {
		t.Fatalf("a rule file's key in a policy: %v", err)
	}
	for _, doc := range []string{"learning: true\n", "ladder: {challenge: 60}\n"} {
		if err := policy.Write(ctx, kcfg, []byte(doc)); err != nil {
			t.Fatal(err)
		}
	}
	var mu sync.Mutex
	var applied []string
	got := func() []string { mu.Lock(); defer mu.Unlock(); return append([]string(nil), applied...) }
	done := make(chan struct{})
	f := policy.NewFollower(kcfg, "test", func(doc []byte, _ time.Time) { mu.Lock(); applied = append(applied, string(doc)); mu.Unlock() }, nil, nil)
	fctx, cancel := context.WithCancel(ctx)
	go func() { _ = f.Run(fctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	select {
	case <-f.Ready():
	case <-time.After(30 * time.Second):
		t.Fatal("follower not ready")
	}
	if g := got(); len(g) != 2 || g[1] != "ladder: {challenge: 60}\n" {
		t.Fatalf("applied %q", g)
	}
	if err := policy.Write(ctx, kcfg, nil); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 10*time.Second, "the empty policy followed", func() bool { g := got(); return len(g) == 3 && g[2] == "" })
}
