package observe

// This file reads the live page's figures from a prometheus.Gatherer by
// metric name and labels, so a metric added later shows on the page as soon
// as the process exports it, and one it does not export shows as missing
// rather than as zero.

import (
	"math"
	"sort"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// sample is one series of a gathered family: its labels and its value (a
// counter's or gauge's value; a histogram's cumulative buckets).
type sample struct {
	labels  map[string]string
	value   float64
	buckets []bucket // histograms only
}

// bucket is a histogram bucket: the count of observations ≤ upper.
type bucket struct {
	upper float64
	count float64
}

// gathered is one gather of a registry: family name → its series.
type gathered map[string][]sample

// gather reads g. A gatherer that fails part-way still returns the families
// it collected (promhttp does the same with ContinueOnError), so one broken
// collector does not blank the page.
func gather(g prometheus.Gatherer) gathered {
	fams, _ := g.Gather()
	out := gathered{}
	for _, f := range fams {
		ss := make([]sample, 0, len(f.GetMetric()))
		for _, m := range f.GetMetric() {
			s := sample{labels: map[string]string{}}
			for _, lp := range m.GetLabel() {
				s.labels[lp.GetName()] = lp.GetValue()
			}
			switch {
			case m.Counter != nil:
				s.value = m.GetCounter().GetValue()
			case m.Gauge != nil:
				s.value = m.GetGauge().GetValue()
			case m.Untyped != nil:
				s.value = m.GetUntyped().GetValue()
			case m.Histogram != nil:
				s.buckets = histBuckets(m.GetHistogram())
				s.value = float64(m.GetHistogram().GetSampleCount())
			default:
				continue
			}
			ss = append(ss, s)
		}
		out[f.GetName()] = ss
	}
	return out
}

func histBuckets(h *dto.Histogram) []bucket {
	bs := make([]bucket, 0, len(h.GetBucket())+1)
	for _, b := range h.GetBucket() {
		bs = append(bs, bucket{upper: b.GetUpperBound(), count: float64(b.GetCumulativeCount())})
	}
	if len(bs) == 0 || !math.IsInf(bs[len(bs)-1].upper, 1) {
		bs = append(bs, bucket{upper: math.Inf(1), count: float64(h.GetSampleCount())})
	}
	return bs
}

// lane returns the series of family name whose lane label is lane; ok is
// false when the process does not export the family at all.
func (g gathered) lane(name, lane string) (ss []sample, ok bool) {
	all, ok := g[name]
	for _, s := range all {
		if s.labels["lane"] == lane {
			ss = append(ss, s)
		}
	}
	return ss, ok
}

// sum adds the lane's series of family name; nil when the family is
// missing.
func (g gathered) sum(name, lane string) *float64 {
	ss, ok := g.lane(name, lane)
	if !ok {
		return nil
	}
	var v float64
	for _, s := range ss {
		v += s.value
	}
	return &v
}

// by returns the lane's series of family name keyed by one label (an
// outcome, a reason), nil when the family is missing.
func (g gathered) by(name, lane, label string) map[string]float64 {
	ss, ok := g.lane(name, lane)
	if !ok {
		return nil
	}
	out := map[string]float64{}
	for _, s := range ss {
		out[s.labels[label]] += s.value
	}
	return out
}

// perPartition returns the lane's series of family name keyed by their
// partition label; series without one (a per-lane gauge) are left out.
func (g gathered) perPartition(name, lane string) map[int32]float64 {
	ss, _ := g.lane(name, lane)
	out := map[int32]float64{}
	for _, s := range ss {
		p, err := strconv.ParseInt(s.labels["partition"], 10, 32)
		if err != nil {
			continue
		}
		out[int32(p)] = s.value
	}
	return out
}

// laneGauge returns the lane's gauge of family name: the series without a
// partition label if there is one, else reduce over the partitions' series;
// nil when there is none.
func (g gathered) laneGauge(name, lane string, reduce func([]float64) float64) *float64 {
	ss, _ := g.lane(name, lane)
	var parts []float64
	for _, s := range ss {
		if _, ok := s.labels["partition"]; !ok {
			v := s.value
			return &v
		}
		parts = append(parts, s.value)
	}
	if len(parts) == 0 {
		return nil
	}
	v := reduce(parts)
	return &v
}

// histogram returns the lane's histogram of family name, its buckets summed
// over any other labels; nil when there is none.
func (g gathered) histogram(name, lane string) []bucket {
	ss, _ := g.lane(name, lane)
	var out []bucket
	for _, s := range ss {
		if out == nil {
			out = append([]bucket(nil), s.buckets...)
			continue
		}
		for i := range min(len(out), len(s.buckets)) {
			out[i].count += s.buckets[i].count
		}
	}
	return out
}

// quantile estimates the q-quantile of the observations between two
// readings of a histogram (prev may be nil: since the start) the way
// PromQL's histogram_quantile does, interpolating inside the bucket; ok is
// false when nothing was observed in between.
func quantile(q float64, prev, cur []bucket) (float64, bool) {
	if len(cur) == 0 {
		return 0, false
	}
	delta := make([]bucket, len(cur))
	for i, b := range cur {
		delta[i] = b
		if len(prev) == len(cur) {
			delta[i].count -= prev[i].count
		}
	}
	total := delta[len(delta)-1].count
	if total <= 0 {
		return 0, false
	}
	rank := q * total
	i := sort.Search(len(delta), func(i int) bool { return delta[i].count >= rank })
	if i == len(delta)-1 {
		// In the +Inf bucket: the highest finite bound is all that is known.
		if i == 0 {
			return 0, false
		}
		return delta[i-1].upper, true
	}
	lower, below := 0.0, 0.0
	if i > 0 {
		lower, below = delta[i-1].upper, delta[i-1].count
	}
	in := delta[i].count - below
	if in <= 0 {
		return delta[i].upper, true
	}
	return lower + (delta[i].upper-lower)*(rank-below)/in, true
}

func minOf(vs []float64) float64 {
	m := vs[0]
	for _, v := range vs[1:] {
		m = min(m, v)
	}
	return m
}

func sumOf(vs []float64) float64 {
	var s float64
	for _, v := range vs {
		s += v
	}
	return s
}
