package adapters

import "math"

// round9 rounds x to 9 decimal places, the precision of every figure a
// node reports: enough for any score, and coarse enough that results are
// identical across CPU architectures. It also turns -0 into 0.
func round9(x float64) float64 {
	r := math.Round(x*1e9) / 1e9
	if r == 0 {
		return 0
	}
	return r
}

// round9s rounds every element into a new slice.
func round9s(xs []float64) []float64 {
	out := make([]float64, len(xs))
	for i, x := range xs {
		out[i] = round9(x)
	}
	return out
}

func clamp01(x float64) float64 {
	return math.Min(1, math.Max(0, x))
}

func finite(xs []float64) bool {
	for _, x := range xs {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return false
		}
	}
	return true
}

func norm(xs []float64) float64 {
	var s float64
	for _, x := range xs {
		s += x * x
	}
	return math.Sqrt(s)
}

// cosine returns the cosine similarity of a and b (same length), and false
// when either is a zero vector, for which the angle is undefined, or so
// long that its squared length overflows.
func cosine(a, b []float64) (float64, bool) {
	var dot, na, nb float64
	for i := range a {
		dot += a[i] * b[i]
		na += a[i] * a[i]
		nb += b[i] * b[i]
	}
	if na == 0 || nb == 0 || math.IsInf(na, 0) || math.IsInf(nb, 0) {
		return 0, false
	}
	c := dot / (math.Sqrt(na) * math.Sqrt(nb))
	return math.Max(-1, math.Min(1, c)), true
}
