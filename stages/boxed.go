package stages

import "github.com/matriz/pipelines/schemas"

// boxed holds the string payload values the stages write on every message
// (outcomes, risk classes, drift levels, breaker states) already converted
// to interfaces, and the lanes: converting a string to `any` allocates, and a crumb, an
// event and a trace per message add up at 30 frames a second.
var boxed = func() map[string]any {
	m := make(map[string]any)
	add := func(s string) { m[s] = s }
	for _, o := range outcomes {
		add(string(o))
	}
	for _, c := range []schemas.RiskClass{schemas.RiskMinimal, schemas.RiskLimited, schemas.RiskHigh, schemas.RiskUnacceptable} {
		add(string(c))
	}
	for _, l := range []DriftLevel{DriftNone, DriftWarn, DriftBlock} {
		add(l.String())
	}
	for _, b := range []BreakerState{BreakerClosed, BreakerOpen, BreakerHalfOpen} {
		add(b.String())
	}
	for _, l := range schemas.Lanes {
		add(string(l))
	}
	return m
}()

// box returns s as a payload value, without allocating for the common ones.
func box(s string) any {
	if v, ok := boxed[s]; ok {
		return v
	}
	return s
}
