// Package election holds the settings of leader election on a Kubernetes Lease
// (BULWARK_LEADER_*) as plain data, apart from libs/enforce/leader, so that
// programs and `bulwark config` read them without depending on client-go.
package election

import (
	"os"
	"strings"
	"time"

	"github.com/bulwarkhq/bulwark/libs/platform/config"
)

// serviceAccountNamespace is where Kubernetes mounts the pod's namespace.
const serviceAccountNamespace = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"

// Config configures leader election on a Kubernetes Lease (env BULWARK_LEADER_*).
//
// Failover: when the leader stops cleanly it releases the Lease and a standby
// takes over within RetryPeriod; when it dies or is cut off, a standby takes
// over LeaseDuration (+ RetryPeriod) after the last renewal it saw, and the
// old leader's work is cancelled RenewDeadline after its last renewal, so the
// guarded code has LeaseDuration - RenewDeadline to stop before anyone else
// may start.
type Config struct {
	Enabled       bool          `env:"LEADER_ELECTION" envDefault:"false" help:"Turns election on; off, the guarded code simply runs (one replica, or 'bulwark dev')."`
	LeaseName     string        `env:"LEADER_LEASE_NAME" help:"The coordination.k8s.io/v1 Lease all candidates share."`
	Namespace     string        `env:"LEADER_NAMESPACE" help:"Namespace of the Lease; empty reads the pod's service account namespace."`
	Identity      string        `env:"LEADER_IDENTITY" help:"Identity of this candidate; empty means the host name (the pod name)."`
	LeaseDuration time.Duration `env:"LEADER_LEASE_DURATION" envDefault:"15s" help:"How long a standby waits after the leader's last renewal before taking over."`
	RenewDeadline time.Duration `env:"LEADER_RENEW_DEADLINE" envDefault:"10s" help:"How long the leader keeps trying to renew before it gives up leading."`
	RetryPeriod   time.Duration `env:"LEADER_RETRY_PERIOD" envDefault:"2s" help:"How often candidates try to acquire or renew the Lease."`
}

// DefaultConfig is the env defaults, with election off.
func DefaultConfig(leaseName string) Config {
	return Config{
		LeaseName:     leaseName,
		LeaseDuration: 15 * time.Second,
		RenewDeadline: 10 * time.Second,
		RetryPeriod:   2 * time.Second,
	}
}

// Validate names the variable at fault. Only an enabled election is checked.
func (c Config) Validate() error {
	if !c.Enabled {
		return nil
	}
	if c.LeaseName == "" {
		return config.Invalid("LEADER_LEASE_NAME", "is required when BULWARK_LEADER_ELECTION is on")
	}
	if c.RetryPeriod <= 0 {
		return config.Invalid("LEADER_RETRY_PERIOD", "must be positive, got %s", c.RetryPeriod)
	}
	// client-go's own rules, said in our variables' names.
	if float64(c.RenewDeadline) <= 1.2*float64(c.RetryPeriod) {
		return config.Invalid("LEADER_RENEW_DEADLINE", "must be more than 1.2 x BULWARK_LEADER_RETRY_PERIOD (%s), got %s", c.RetryPeriod, c.RenewDeadline)
	}
	if c.LeaseDuration <= c.RenewDeadline {
		return config.Invalid("LEADER_LEASE_DURATION", "must be more than BULWARK_LEADER_RENEW_DEADLINE (%s), got %s", c.RenewDeadline, c.LeaseDuration)
	}
	return nil
}

// WithPodDefaults fills the namespace and identity from the pod.
func (c Config) WithPodDefaults() (Config, error) {
	if c.Namespace == "" {
		b, err := os.ReadFile(serviceAccountNamespace)
		if err != nil {
			return c, config.Invalid("LEADER_NAMESPACE", "is empty and the pod's namespace is unreadable: %v", err)
		}
		c.Namespace = strings.TrimSpace(string(b))
	}
	if c.Identity == "" {
		h, err := os.Hostname()
		if err != nil || h == "" {
			return c, config.Invalid("LEADER_IDENTITY", "is empty and the host name is unknown: %v", err)
		}
		c.Identity = h
	}
	return c, nil
}
