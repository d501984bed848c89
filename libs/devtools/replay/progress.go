package replay

import (
	"fmt"
	"io"
	"os"
	"time"
)

// IsTerminal reports whether f is a terminal (a character device), which is
// when a progress line helps rather than litters a log. A stat is enough
// here; a terminal library would add nothing.
func IsTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// startProgress prints a progress line to w once a second, overwriting
// itself, until the returned stop is called; w nil prints nothing.
func startProgress(w io.Writer, c *counters, e *engineLoop, start time.Time) (stop func()) {
	if w == nil {
		return func() {}
	}
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for {
			select {
			case <-done:
				fmt.Fprint(w, "\r\033[K")
				return
			case <-tick.C:
				el := time.Since(start).Seconds()
				lines := c.lines.Load()
				fmt.Fprintf(w, "\r\033[Kreplay: %s lines read, %s events scored, %.0f lines/s, %d verdict changes, %s",
					count(lines), count(e.done.Load()), float64(lines)/el, e.verdicts.Load(), time.Duration(el*float64(time.Second)).Round(time.Second))
			}
		}
	}()
	return func() {
		close(done)
		<-finished
	}
}

// count writes n shortly: 950, 12.3k, 4.56M.
func count(n int64) string {
	switch {
	case n >= 1_000_000:
		return fmt.Sprintf("%.2fM", float64(n)/1e6)
	case n >= 10_000:
		return fmt.Sprintf("%.1fk", float64(n)/1e3)
	}
	return fmt.Sprint(n)
}
