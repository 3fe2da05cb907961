package bench

// The steady phase's tail, second by second: whether a p99 over the goal
// is the whole phase or a few seconds of it (a start-up burst, a GC, the
// broker) is the first thing to know about it.

import (
	"fmt"
	"strings"
	"time"
)

// p99Timeline returns the p99 of input → result stamped for the inputs
// whose timestamps fall in each bucket after start, in order; a bucket
// without an answered input has a zero summary.
func (b *latencyBook) p99Timeline(start time.Time, bucket time.Duration) []LatencySummary {
	var by [][]time.Duration
	for _, pp := range b.parts {
		for i, s := range pp.sent {
			if s == 0 || i >= len(pp.acked) || pp.acked[i] == 0 {
				continue
			}
			since := time.Duration(s - start.UnixNano())
			if since < 0 {
				continue
			}
			k := int(since / bucket)
			for len(by) <= k {
				by = append(by, nil)
			}
			by[k] = append(by[k], time.Duration(pp.acked[i]-s))
		}
	}
	out := make([]LatencySummary, len(by))
	for k, ds := range by {
		out[k] = summarize(ds)
	}
	return out
}

// timelineString is a timeline's p99s, one per bucket: "p99 by second:
// 212ms 95ms …".
func timelineString(tl []LatencySummary, bucket time.Duration) string {
	parts := make([]string, len(tl))
	for i, s := range tl {
		parts[i] = s.P99.Round(time.Millisecond).String()
		if s.Count == 0 {
			parts[i] = "-"
		}
	}
	return fmt.Sprintf("p99 by %v of input timestamp: %s", bucket, strings.Join(parts, " "))
}
