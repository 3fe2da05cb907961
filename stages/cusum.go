package stages

// cusum is a one-sided (upper) CUSUM over z-scores: it accumulates how far
// each score lies above k standard deviations and signals when the sum
// reaches h. It catches a small shift that persists, which a z ≥ 3 test on
// single values misses.
type cusum struct {
	S float64 `json:"s"`
}

// step folds z in and returns the sum and whether it reached h; a signal
// resets the sum so the next one needs fresh evidence.
func (c *cusum) step(z, k, h float64) (float64, bool) {
	s := max(0, c.S+z-k)
	if s >= h {
		c.S = 0
		return s, true
	}
	c.S = s
	return s, false
}
