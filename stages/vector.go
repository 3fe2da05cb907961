package stages

import (
	"fmt"
	"math"
)

// cosine returns cos(a, b) in [-1, 1], or an explanation of why it is not
// defined: an empty or zero vector, a length mismatch, or a NaN/Inf
// element. Both vectors are scaled by their largest magnitude first, so
// very large elements do not overflow the dot product to Inf and very
// small ones do not underflow a non-zero vector to zero.
func cosine(a, b []float64) (float64, error) {
	if len(a) == 0 || len(b) == 0 {
		return 0, fmt.Errorf("empty vector (intent has %d elements, action %d)", len(a), len(b))
	}
	if len(a) != len(b) {
		return 0, fmt.Errorf("length mismatch: intent has %d elements, action %d", len(a), len(b))
	}
	sa, err := maxAbs("intent", a)
	if err != nil {
		return 0, err
	}
	sb, err := maxAbs("action", b)
	if err != nil {
		return 0, err
	}
	if sa == 0 {
		return 0, fmt.Errorf("intent is a zero vector")
	}
	if sb == 0 {
		return 0, fmt.Errorf("action is a zero vector")
	}
	var dot, na, nb float64
	for i := range a {
		x, y := a[i]/sa, b[i]/sb
		dot += x * y
		na += x * x
		nb += y * y
	}
	c := dot / (math.Sqrt(na) * math.Sqrt(nb))
	// Rounding can push |c| a hair past 1; drift = 1 - c must stay in [0, 2].
	return math.Max(-1, math.Min(1, c)), nil
}

// maxAbs returns the largest |v[i]|, or an error naming the first element
// that is NaN or infinite.
func maxAbs(name string, v []float64) (float64, error) {
	m := 0.0
	for i, x := range v {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return 0, fmt.Errorf("%s[%d] is %v", name, i, x)
		}
		if ax := math.Abs(x); ax > m {
			m = ax
		}
	}
	return m, nil
}
