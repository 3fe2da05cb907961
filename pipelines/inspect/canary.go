package inspect

// `matriz canary report`: how a lane's canary decides against the lane on
// the same inputs, read back from the log. The canary's results on
// matriz.<lane>.canary.results are joined by msg_id with the lane's own
// on matriz.<lane>.results; per joined input the two decisions (result ok
// and the guardian's outcome, as the runtime compares them) agree or not.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/matriz/pipelines/pipelines/replay"
	"github.com/matriz/pipelines/pipelines/runtime"
	"github.com/matriz/pipelines/schemas"
	"github.com/matriz/pipelines/stages"
	"github.com/matriz/pipelines/topics"
)

// ErrNoCanary: the lane has no canary topics to report on.
var ErrNoCanary = errors.New("no canary")

// CanaryConfig is one `matriz canary report`.
type CanaryConfig struct {
	Brokers     []string
	RegistryURL string
	Lane        schemas.Lane
}

// CanarySide is one chain's figures over the joined inputs.
type CanarySide struct {
	// Outcomes counts the guardian's outcomes ("none": no verdict).
	Outcomes map[string]int `json:"outcomes"`
	OK       int            `json:"ok"` // results with ok=true
	// LatencyP50 and LatencyP95 are from an input's event time to its
	// result's write (the result record's timestamp).
	LatencyP50 time.Duration `json:"latency_p50_ns"`
	LatencyP95 time.Duration `json:"latency_p95_ns"`
}

// CanaryAbort is a canary_abort event on the lane's event log.
type CanaryAbort struct {
	Time         time.Time `json:"time"`
	Partition    int64     `json:"partition"`
	Agreement    float64   `json:"agreement"`
	Samples      int64     `json:"samples"`
	MinAgreement float64   `json:"min_agreement"`
	MinSamples   int64     `json:"min_samples"`
}

// CanaryDisagreement is one input the chains decided differently.
type CanaryDisagreement struct {
	MsgID    string          `json:"msg_id"`
	Baseline stages.Decision `json:"baseline"`
	Canary   stages.Decision `json:"canary"`
}

// CanaryReport compares a lane's canary with the lane.
type CanaryReport struct {
	Lane       schemas.Lane `json:"lane"`
	Samples    int          `json:"samples"` // inputs both answered
	Agreed     int          `json:"agreed"`
	Agreement  float64      `json:"agreement"` // Agreed/Samples; 1 with no samples
	Baseline   CanarySide   `json:"baseline"`
	Canary     CanarySide   `json:"canary"`
	OutcomeTVD float64      `json:"outcome_tvd"` // total variation distance of the two outcome mixes, in [0, 1]
	// ExtraP50 and ExtraP95 are how much later the canary's result was
	// written than the lane's, per input.
	ExtraP50 time.Duration `json:"extra_latency_p50_ns"`
	ExtraP95 time.Duration `json:"extra_latency_p95_ns"`
	// OnlyCanary counts canary results whose input has no result of the
	// lane (dead-lettered there, or not written yet).
	OnlyCanary    int                  `json:"only_canary"`
	Aborts        []CanaryAbort        `json:"aborts"`
	Disagreements []CanaryDisagreement `json:"disagreements"` // the first maxDisagreements
}

// maxDisagreements is how many disagreements a report lists.
const maxDisagreements = 10

// answer is one result as the report compares it.
type answer struct {
	d       stages.Decision
	written time.Time
	latency time.Duration
}

func answerOf(r *Record) answer {
	res := r.Result
	a := answer{d: stages.Decision{OK: res.OK, Status: "result"}, written: r.Time}
	for i, c := range res.Trace {
		if i == 0 && c.Stage == runtime.StageDecode {
			a.latency = r.Time.Sub(c.T)
		}
		if c.Stage == stages.StageGuardian {
			if o, ok := c.Data.String("outcome"); ok {
				a.d.Outcome = stages.Outcome(o)
			}
		}
	}
	return a
}

// ReportCanary reads the canary's results, the lane's results of the same
// inputs and the lane's canary_abort events, each topic to its end as of
// the call, and compares them.
func ReportCanary(ctx context.Context, cfg CanaryConfig) (*CanaryReport, error) {
	d, err := newDecoder(ctx, cfg.RegistryURL)
	if err != nil {
		return nil, err
	}
	lane := string(cfg.Lane)
	start := replay.Position{Kind: replay.PositionStart}
	canaryTopic := topics.CanaryName(lane, topics.KindResults)
	if err := topics.CheckTopics(ctx, cfg.Brokers, []string{canaryTopic}); err != nil {
		if errors.As(err, new(*topics.MissingTopicsError)) {
			return nil, fmt.Errorf("lane %s has no canary: %s is missing (give the lane a canary section in its pipeline spec, then run `matriz deploy --lanes %s --pipeline FILE`): %w", lane, canaryTopic, lane, ErrNoCanary)
		}
		return nil, err
	}
	canary := map[string]answer{}
	if err := readLog(ctx, cfg.Brokers, canaryTopic, start, false, func(m topics.Message) error {
		if r := d.decode(ctx, topics.KindResults, m); r.Err == nil {
			canary[r.Result.MsgID] = answerOf(&r)
		}
		return nil
	}); err != nil {
		return nil, err
	}
	base := map[string]answer{}
	if err := readLog(ctx, cfg.Brokers, topics.Name(lane, topics.KindResults), start, false, func(m topics.Message) error {
		if _, ok := canary[string(m.Header(runtime.HeaderMsgID))]; !ok {
			return nil // no canary answer to compare it with: not decoded
		}
		if r := d.decode(ctx, topics.KindResults, m); r.Err == nil {
			base[r.Result.MsgID] = answerOf(&r)
		}
		return nil
	}); err != nil {
		return nil, err
	}
	rep := compareCanary(cfg.Lane, base, canary)
	// The abort event names the canary as its stage: an event that does
	// not hold the word is not one, and needs no decoding.
	if err := readLog(ctx, cfg.Brokers, topics.Name(lane, topics.KindEvents), start, false, func(m topics.Message) error {
		if !bytes.Contains(m.Value, []byte(runtime.StageCanary)) {
			return nil
		}
		if r := d.decode(ctx, topics.KindEvents, m); r.Err == nil && r.Event.Kind == schemas.EventCanaryAbort {
			rep.Aborts = append(rep.Aborts, abortOf(r.Event))
		}
		return nil
	}); err != nil {
		return nil, err
	}
	return rep, nil
}

func abortOf(ev *schemas.Event) CanaryAbort {
	f := func(k string) float64 { v, _ := ev.Payload[k].(float64); return v }
	i := func(k string) int64 { v, _ := ev.Payload[k].(int64); return v }
	return CanaryAbort{Time: ev.TS, Partition: i("partition"), Agreement: f("agreement"), Samples: i("samples"), MinAgreement: f("min_agreement"), MinSamples: i("min_samples")}
}

// compareCanary joins the two sides' answers by msg_id.
func compareCanary(lane schemas.Lane, base, canary map[string]answer) *CanaryReport {
	rep := &CanaryReport{Lane: lane, Agreement: 1, Baseline: CanarySide{Outcomes: map[string]int{}}, Canary: CanarySide{Outcomes: map[string]int{}}}
	var baseLat, canLat, extra []time.Duration
	for _, id := range slices.Sorted(maps.Keys(canary)) {
		c := canary[id]
		b, ok := base[id]
		if !ok {
			rep.OnlyCanary++
			continue
		}
		rep.Samples++
		if b.d == c.d {
			rep.Agreed++
		} else if len(rep.Disagreements) < maxDisagreements {
			rep.Disagreements = append(rep.Disagreements, CanaryDisagreement{MsgID: id, Baseline: b.d, Canary: c.d})
		}
		for _, s := range []struct {
			side *CanarySide
			a    answer
			lat  *[]time.Duration
		}{{&rep.Baseline, b, &baseLat}, {&rep.Canary, c, &canLat}} {
			s.side.Outcomes[outcomeName(s.a.d.Outcome)]++
			if s.a.d.OK {
				s.side.OK++
			}
			*s.lat = append(*s.lat, s.a.latency)
		}
		extra = append(extra, c.written.Sub(b.written))
	}
	if rep.Samples > 0 {
		rep.Agreement = float64(rep.Agreed) / float64(rep.Samples)
	}
	rep.Baseline.LatencyP50, rep.Baseline.LatencyP95 = quantile(baseLat, 0.5), quantile(baseLat, 0.95)
	rep.Canary.LatencyP50, rep.Canary.LatencyP95 = quantile(canLat, 0.5), quantile(canLat, 0.95)
	rep.ExtraP50, rep.ExtraP95 = quantile(extra, 0.5), quantile(extra, 0.95)
	rep.OutcomeTVD = tvd(rep.Baseline.Outcomes, rep.Canary.Outcomes, rep.Samples)
	return rep
}

func outcomeName(o stages.Outcome) string {
	if o == "" {
		return "none"
	}
	return string(o)
}

// tvd is the total variation distance between two counts over n samples
// each: half the sum of the shares' differences.
func tvd(a, b map[string]int, n int) float64 {
	if n == 0 {
		return 0
	}
	sum := 0.0
	for _, k := range slices.Sorted(maps.Keys(mergeKeys(a, b))) {
		sum += math.Abs(float64(a[k]-b[k])) / float64(n)
	}
	return sum / 2
}

func mergeKeys(a, b map[string]int) map[string]bool {
	out := map[string]bool{}
	for k := range a {
		out[k] = true
	}
	for k := range b {
		out[k] = true
	}
	return out
}

// quantile is the q-quantile of ds by nearest rank (0 with none).
func quantile(ds []time.Duration, q float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Sorted(slices.Values(ds))
	i := int(math.Ceil(q*float64(len(s)))) - 1
	return s[max(i, 0)]
}

// WriteJSON writes the report as one JSON object.
func (r *CanaryReport) WriteJSON(w io.Writer) error {
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

// WriteText writes the report for a person.
func (r *CanaryReport) WriteText(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "canary of lane %s: %d inputs answered by both", r.Lane, r.Samples)
	if r.OnlyCanary > 0 {
		fmt.Fprintf(&b, " (%d by the canary alone: dead-lettered or not yet answered by the lane)", r.OnlyCanary)
	}
	fmt.Fprintf(&b, "\nagreement      %.4f (%d of %d: result ok and guardian outcome alike)\n", r.Agreement, r.Agreed, r.Samples)
	mix := func(s CanarySide) string {
		var parts []string
		for _, k := range slices.Sorted(maps.Keys(s.Outcomes)) {
			parts = append(parts, fmt.Sprintf("%s %d", k, s.Outcomes[k]))
		}
		return fmt.Sprintf("%s; ok %d", strings.Join(parts, ", "), s.OK)
	}
	fmt.Fprintf(&b, "outcomes       lane:   %s\n               canary: %s\n", mix(r.Baseline), mix(r.Canary))
	fmt.Fprintf(&b, "outcome drift  %.4f (total variation distance of the two mixes, 0 same … 1 disjoint)\n", r.OutcomeTVD)
	fmt.Fprintf(&b, "latency        lane p50 %v p95 %v; canary p50 %v p95 %v (event time to result written)\n",
		r.Baseline.LatencyP50, r.Baseline.LatencyP95, r.Canary.LatencyP50, r.Canary.LatencyP95)
	fmt.Fprintf(&b, "               the canary's result after the lane's: p50 %v p95 %v\n", r.ExtraP50, r.ExtraP95)
	if len(r.Aborts) == 0 {
		b.WriteString("aborted        no canary_abort event on the log\n")
	}
	for _, a := range r.Aborts {
		fmt.Fprintf(&b, "aborted        at %s by partition %d: agreement %.4f over %d inputs, below %v (min_samples %d)\n",
			a.Time.UTC().Format(time.RFC3339Nano), a.Partition, a.Agreement, a.Samples, a.MinAgreement, a.MinSamples)
	}
	for _, d := range r.Disagreements {
		fmt.Fprintf(&b, "differs        %s: lane ok=%v %s, canary ok=%v %s\n", d.MsgID, d.Baseline.OK, outcomeName(d.Baseline.Outcome), d.Canary.OK, outcomeName(d.Canary.Outcome))
	}
	_, err := io.WriteString(w, b.String())
	return err
}
