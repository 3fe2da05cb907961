package stages

import "math"

// welford is a running mean and variance by Welford's algorithm: one pass,
// numerically stable, and small enough to snapshot.
type welford struct {
	N    int64   `json:"n"`
	Mean float64 `json:"mean"`
	M2   float64 `json:"m2"` // sum of squared deviations from the mean
}

// add returns w with x folded in, and false (w unchanged) when the result
// would not be finite, so a huge input cannot poison the baseline.
func (w welford) add(x float64) (welford, bool) {
	n := w.N + 1
	d := x - w.Mean
	mean := w.Mean + d/float64(n)
	m2 := w.M2 + d*(x-mean)
	if math.IsNaN(mean) || math.IsInf(mean, 0) || math.IsNaN(m2) || math.IsInf(m2, 0) {
		return w, false
	}
	return welford{N: n, Mean: mean, M2: m2}, true
}

// std is the sample standard deviation, 0 with fewer than two samples.
func (w welford) std() float64 {
	if w.N < 2 {
		return 0
	}
	return math.Sqrt(w.M2 / float64(w.N-1))
}

// zCap bounds a z-score: a value that differs from a constant baseline
// (std 0) is as far out as it gets, and scores must stay finite.
const zCap = 1e6

// z returns how many standard deviations x lies from the mean, and false
// when the baseline has fewer than two samples.
func (w welford) z(x float64) (float64, bool) {
	if w.N < 2 {
		return 0, false
	}
	d := x - w.Mean
	s := w.std()
	if s == 0 {
		switch {
		case d > 0:
			return zCap, true
		case d < 0:
			return -zCap, true
		}
		return 0, true
	}
	return math.Max(-zCap, math.Min(zCap, d/s)), true
}
