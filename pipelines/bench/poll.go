package bench

import (
	"context"
	"fmt"
	"time"

	"github.com/matriz/pipelines/clock"
)

// pollUntil checks done now and every period until it reports true, ctx
// ends, or within passes; then the error names what done last said was
// missing (its second result).
func pollUntil(ctx context.Context, cl clock.Clock, period, within time.Duration, done func() (bool, string)) error {
	tk := cl.NewTicker(period)
	defer tk.Stop()
	deadline := cl.Now().Add(within)
	for {
		ok, missing := done()
		if ok {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case now := <-tk.C():
			if now.After(deadline) {
				return fmt.Errorf("%s after %v", missing, within)
			}
		}
	}
}
