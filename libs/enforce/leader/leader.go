// Package leader runs work on one replica at a time: a candidate runs the
// guarded function only while it holds a Kubernetes coordination.k8s.io/v1
// Lease (client-go's leaderelection), and cancels it when it loses the Lease.
// Standbys campaign all the time, so one takes over within seconds.
//
// bulwark-cfsync uses it so that two replicas never write to Cloudflare at
// once. Without election (one replica, `bulwark dev`) the same code runs
// through Always.
package leader

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
	"k8s.io/klog/v2"
)

// ErrLost is returned by Elector.Run when the Lease was lost (not renewed in
// time) while the guarded function ran. The function has returned by then.
// A caller that can start its work again may call Run again; a service
// usually exits and lets Kubernetes restart it as a fresh standby.
var ErrLost = errors.New("leader: lost the lease")

// Runner runs fn under a policy: Always runs it at once, an Elector only
// while it leads.
type Runner interface {
	Run(ctx context.Context, fn func(context.Context) error) error
	// Ready adapts the guarded work's readiness check for /readyz: a
	// standby is ready (waiting is its job, and a rollout must not stall
	// on it); the leader is ready when check passes.
	Ready(check func() error) func() error
}

// Always runs fn directly: for a single replica, where there is no one to
// elect among.
type Always struct{}

// Run calls fn(ctx).
func (Always) Run(ctx context.Context, fn func(context.Context) error) error { return fn(ctx) }

// Ready returns check: the work always runs.
func (Always) Ready(check func() error) func() error { return check }

// Elector campaigns for a Lease and runs the guarded function while it holds it.
type Elector struct {
	cfg    Config
	client kubernetes.Interface
	log    *slog.Logger
	m      *metrics

	leading atomic.Bool // the guarded work is running here
}

// New builds an elector on client (a clientset, or client-go's fake in tests).
func New(cfg Config, client kubernetes.Interface, log *slog.Logger, reg prometheus.Registerer) (*Elector, error) {
	cfg.Enabled = true
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg, err := cfg.WithPodDefaults()
	if err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("component", "leader", "lease", cfg.Namespace+"/"+cfg.LeaseName, "identity", cfg.Identity)
	return &Elector{cfg: cfg, client: client, log: log, m: newMetrics(reg, cfg.LeaseName)}, nil
}

// NewRunner returns Always when election is off, otherwise an Elector talking
// to the API server of the cluster the process runs in (its service account).
func NewRunner(cfg Config, log *slog.Logger, reg prometheus.Registerer) (Runner, error) {
	if !cfg.Enabled {
		return Always{}, nil
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	rc, err := rest.InClusterConfig()
	if err != nil {
		return nil, fmt.Errorf("leader election needs the in-cluster Kubernetes API: %w", err)
	}
	// A hung request must not outlast the renew deadline (client-go's advice).
	rc.Timeout = max(cfg.RenewDeadline/2, time.Second)
	rc.UserAgent = "bulwark-leader-election"
	cs, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return nil, fmt.Errorf("kubernetes client: %w", err)
	}
	return New(cfg, cs, log, reg)
}

// Leading reports whether the guarded work runs in this process now.
func (e *Elector) Leading() bool { return e.leading.Load() }

// Ready passes while standing by, and runs check while leading.
func (e *Elector) Ready(check func() error) func() error {
	return func() error {
		if !e.leading.Load() || check == nil {
			return nil
		}
		return check()
	}
}

// Identity is this candidate's name in the Lease.
func (e *Elector) Identity() string { return e.cfg.Identity }

// Run campaigns until ctx is done. While it leads it runs fn with a context
// that is cancelled when ctx is done or the Lease is lost, and it always
// waits for fn to return before giving the Lease up, so that no two
// candidates run fn at once.
//
// It returns nil when ctx is done, fn's result when fn returns by itself
// (the Lease is released, so a standby takes over), and ErrLost (or fn's
// error) when the Lease was lost.
func (e *Elector) Run(ctx context.Context, fn func(context.Context) error) error {
	// The election outlives ctx: on shutdown the Lease is released only
	// after fn has returned.
	elCtx, stopElection := context.WithCancel(context.WithoutCancel(ctx))
	defer stopElection()
	elCtx = klog.NewContext(elCtx, logr.FromSlogHandler(e.log.Handler()))
	fnCtx, cancelFn := context.WithCancel(ctx)
	defer cancelFn()

	var (
		mu       sync.Mutex
		stopping bool
		started  bool
		fnErr    error
		lost     bool // fn was stopped by the loss of the Lease
		fnDone   = make(chan struct{})
	)
	lock := &resourcelock.LeaseLock{
		LeaseMeta:  metav1.ObjectMeta{Name: e.cfg.LeaseName, Namespace: e.cfg.Namespace},
		Client:     e.client.CoordinationV1(),
		LockConfig: resourcelock.ResourceLockConfig{Identity: e.cfg.Identity},
	}
	le, err := leaderelection.NewLeaderElector(leaderelection.LeaderElectionConfig{
		Lock:            lock,
		Name:            e.cfg.LeaseName,
		LeaseDuration:   e.cfg.LeaseDuration,
		RenewDeadline:   e.cfg.RenewDeadline,
		RetryPeriod:     e.cfg.RetryPeriod,
		ReleaseOnCancel: true,
		Callbacks: leaderelection.LeaderCallbacks{
			OnStartedLeading: func(leadCtx context.Context) {
				mu.Lock()
				if stopping {
					mu.Unlock()
					return
				}
				started = true
				mu.Unlock()
				if leadCtx.Err() != nil {
					// Lost before this goroutine ran: never start the work.
					lost = true
					close(fnDone)
					return
				}
				e.leading.Store(true)
				e.m.leading.Set(1)
				e.m.transitions.WithLabelValues("acquired").Inc()
				e.log.Info("leading")
				runCtx, cancel := context.WithCancel(fnCtx)
				stop := context.AfterFunc(leadCtx, cancel)
				fnErr = fn(runCtx)
				lost = leadCtx.Err() != nil && fnCtx.Err() == nil
				stop()
				cancel()
				e.leading.Store(false)
				e.m.leading.Set(0)
				close(fnDone)
			},
			OnStoppedLeading: func() {},
			OnNewLeader: func(id string) {
				// Called once the Lease has been read: from now on this
				// process takes over when the holder goes.
				e.m.campaigning.Set(1)
				e.log.Info("leader observed", "leader", id)
			},
		},
	})
	if err != nil {
		return fmt.Errorf("leader election on %s/%s: %w", e.cfg.Namespace, e.cfg.LeaseName, err)
	}
	electorDone := make(chan struct{})
	go func() {
		defer close(electorDone)
		defer e.m.campaigning.Set(0)
		le.Run(elCtx)
	}()

	select {
	case <-ctx.Done():
		mu.Lock()
		stopping = true
		wasStarted := started
		mu.Unlock()
		cancelFn()
		if wasStarted {
			<-fnDone
			e.m.transitions.WithLabelValues("released").Inc()
		}
		stopElection()
		<-electorDone
		e.log.Info("stopped campaigning")
		return nil
	case <-fnDone:
		// fn ended by itself (or the Lease was lost at the same moment):
		// give the Lease up so a standby continues.
		stopElection()
		<-electorDone
		if lost {
			e.m.transitions.WithLabelValues("lost").Inc()
			e.log.Warn("lost the lease")
			return errors.Join(ErrLost, fnErr)
		}
		e.m.transitions.WithLabelValues("released").Inc()
		return fnErr
	case <-electorDone:
		// Renewal failed: the elector cancelled fn's context.
		<-fnDone
		e.m.transitions.WithLabelValues("lost").Inc()
		e.log.Warn("lost the lease")
		if fnErr != nil {
			return errors.Join(ErrLost, fnErr)
		}
		return ErrLost
	}
}
