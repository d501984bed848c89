package leader

import "github.com/bulwarkhq/bulwark/libs/enforce/election"

// Config configures leader election (BULWARK_LEADER_*); it is declared in
// libs/enforce/election, which carries no client-go dependency.
type Config = election.Config

// DefaultConfig is the env defaults, with election off.
func DefaultConfig(leaseName string) Config { return election.DefaultConfig(leaseName) }
