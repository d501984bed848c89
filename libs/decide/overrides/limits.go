package overrides

import (
	"errors"
	"fmt"
	"time"

	"github.com/bulwarkhq/bulwark/libs/platform/config"
	"github.com/bulwarkhq/bulwark/libs/platform/subject"
)

// ErrTooWide is returned (wrapped) for a network override wider than the
// limits allow without force: `bulwark block net:0.0.0.0/0` would block the
// whole internet.
var ErrTooWide = errors.New("network wider than the override limit")

// ErrTTLTooLong is returned (wrapped) for a TTL beyond Limits.MaxTTL.
var ErrTTLTooLong = errors.New("ttl longer than the override limit")

// Limits bound what one operator override may do (BULWARK_OVERRIDE_*). The
// CLI applies them when it writes an override; the decider applies MaxTTL to
// every operator verdict it reads from the verdict topic, whoever wrote it.
type Limits struct {
	MaxTTL time.Duration `env:"OVERRIDE_MAX_TTL" envDefault:"720h" help:"The longest an override may hold; 0 (\"never expires\") is refused, so a forgotten block cannot outlive everyone's memory of it."`
	// Aggregation networks are /24.
	MaxNetV4 int `env:"OVERRIDE_MAX_NET_V4" envDefault:"16" help:"The widest IPv4 network (shortest prefix length) an override may cover without force."`
	// Aggregation networks are /64; a /32 is a typical allocation to one provider.
	MaxNetV6 int `env:"OVERRIDE_MAX_NET_V6" envDefault:"32" help:"The same for IPv6."`
}

// DefaultLimits returns the defaults (as the environment would give them).
func DefaultLimits() Limits {
	return Limits{MaxTTL: 30 * 24 * time.Hour, MaxNetV4: 16, MaxNetV6: 32}
}

// Validate checks the limits, naming the variable at fault.
func (l Limits) Validate() error {
	if l.MaxTTL <= 0 {
		return config.Invalid("OVERRIDE_MAX_TTL", "must be positive, got %s", l.MaxTTL)
	}
	if l.MaxNetV4 < 0 || l.MaxNetV4 > 32 {
		return config.Invalid("OVERRIDE_MAX_NET_V4", "want a prefix length 0-32, got %d", l.MaxNetV4)
	}
	if l.MaxNetV6 < 0 || l.MaxNetV6 > 128 {
		return config.Invalid("OVERRIDE_MAX_NET_V6", "want a prefix length 0-128, got %d", l.MaxNetV6)
	}
	return nil
}

// CheckTTL refuses a TTL that is not positive or beyond MaxTTL.
func (l Limits) CheckTTL(ttl time.Duration) error {
	if ttl <= 0 {
		return fmt.Errorf("%w: got %s; an override must expire (at most %s, BULWARK_OVERRIDE_MAX_TTL); "+
			"lift it earlier with unblock", ErrBadTTL, ttl, l.MaxTTL)
	}
	if ttl > l.MaxTTL {
		return fmt.Errorf("%w: %s is more than %s (BULWARK_OVERRIDE_MAX_TTL)", ErrTTLTooLong, ttl, l.MaxTTL)
	}
	return nil
}

// CheckWidth refuses a network subject wider than MaxNetV4 or MaxNetV6.
// Addresses and sessions always pass.
func (l Limits) CheckWidth(sub subject.Subject) error {
	if sub.Kind != subject.KindNet {
		return nil
	}
	limit, variable := l.MaxNetV6, "BULWARK_OVERRIDE_MAX_NET_V6"
	if sub.Prefix.Addr().Is4() {
		limit, variable = l.MaxNetV4, "BULWARK_OVERRIDE_MAX_NET_V4"
	}
	if bits := sub.Prefix.Bits(); bits < limit {
		return fmt.Errorf("%w: %s covers 2^%d addresses, more than a /%d (%s); force it if you mean it",
			ErrTooWide, sub, sub.Prefix.Addr().BitLen()-bits, limit, variable)
	}
	return nil
}
