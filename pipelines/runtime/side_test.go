package runtime

import (
	"strings"
	"testing"
	"time"

	"github.com/matriz/pipelines/pipelines/devstack"
	"github.com/matriz/pipelines/pipelines/observe"
	"github.com/matriz/pipelines/pipelines/ops"
	"github.com/matriz/pipelines/pipelines/pipetest"
	"github.com/matriz/pipelines/pipelines/spec"
	"github.com/matriz/pipelines/schemas"
	"github.com/matriz/pipelines/stages"
	"github.com/matriz/pipelines/topics"
)

// TestBlueGreenSidesRunTwoSpecsOnOneLane: prod runs its own spec while a
// green side runs one whose guardian allows less risk, on the same input:
// each answers every input once, on its own topics and under its own
// group (every record names the group it was written under), each keeps
// its own state, and the green spec's decisions show only on green.
func TestBlueGreenSidesRunTwoSpecsOnOneLane(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test on the embedded broker (skipped with -short)")
	}
	lane := schemas.LaneProd
	e := pipetest.Start(t, lane)
	if err := CheckNamespace("canary"); err == nil {
		t.Error("the canary's namespace was accepted as a side")
	}
	if err := CheckNamespace("gr.een"); err == nil {
		t.Error("a namespace with a dot was accepted")
	}
	cfgGreen := Config{Lane: lane, Namespace: "green"}
	if err := cfgGreen.defaults(); err != nil || cfgGreen.Group != "matriz-prod-green" {
		t.Fatalf("green's group %q (%v), want matriz-prod-green", cfgGreen.Group, err)
	}
	greenSpec, err := spec.Parse("green.yaml", []byte("lanes:\n  prod:\n    guardian: {max_risk: 0.1}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if err := runLaneErr(t, e, Config{Lane: lane, Namespace: "green", Spec: greenSpec}); err == nil || !strings.Contains(err.Error(), "--namespace green") {
		t.Fatalf("green before its topics are deployed: %v, want a refusal naming `matriz deploy … --namespace green`", err)
	}
	if _, err := ops.Deploy(t.Context(), ops.DeployConfig{Brokers: e.Brokers, RegistryURL: e.RegistryURL, Lanes: []schemas.Lane{lane}, Sides: []string{"green"}}); err != nil {
		t.Fatal(err)
	}
	blue, green := &observe.LaneCounters{}, &observe.LaneCounters{}
	stopBlue := runLane(t, e, Config{Lane: lane, Counters: blue})
	stopGreen := runLane(t, e, Config{Lane: lane, Namespace: "green", Spec: greenSpec, Counters: green})
	in := nowBatch(devstack.NewSynthetic(lane, 5, 64), 2000)
	e.Produce(t, lane, in, nil)
	waitCounted(t, blue, int64(len(in)), time.Minute)
	waitCounted(t, green, int64(len(in)), time.Minute)
	if err := stopBlue(); err != nil {
		t.Fatal(err)
	}
	if err := stopGreen(); err != nil {
		t.Fatal(err)
	}

	side := func(topic func(topics.Kind) string, group string) (results map[string]int, denied, records int) {
		results = map[string]int{}
		for _, k := range sideKinds {
			for _, m := range e.ReadAll(t, topic(k)) {
				records++
				if g := pipetest.Header(m, HeaderGroup); g != group {
					t.Errorf("%s holds a record of group %q, want %s only", m.Topic, g, group)
				}
				if k != topics.KindResults {
					continue
				}
				var res schemas.MatrizResult
				if _, err := schemas.DecodeWire(t.Context(), e.Serde.Lookup(), m.Value, &res); err != nil {
					t.Fatal(err)
				}
				results[res.MsgID]++
				for _, c := range res.Trace {
					if o, _ := c.Data.String("outcome"); c.Stage == stages.StageGuardian && o == string(stages.OutcomeDeny) {
						denied++
					}
				}
			}
		}
		return results, denied, records
	}
	blueRes, blueDenied, blueRecs := side(func(k topics.Kind) string { return topics.Name(string(lane), k) }, "matriz-prod")
	greenRes, greenDenied, greenRecs := side(func(k topics.Kind) string { return topics.NamespaceName(string(lane), "green", k) }, "matriz-prod-green")
	t.Logf("blue: %d records, %d denied; green: %d records, %d denied", blueRecs, blueDenied, greenRecs, greenDenied)
	for _, m := range in {
		if blueRes[m.MsgID] != 1 || greenRes[m.MsgID] != 1 {
			t.Fatalf("input %s: %d results on prod, %d on green; want 1 each", m.MsgID, blueRes[m.MsgID], greenRes[m.MsgID])
		}
	}
	if greenDenied <= blueDenied {
		t.Errorf("green (max_risk 0.1) denied %d, prod (0.5) %d: want green's spec to decide on green", greenDenied, blueDenied)
	}
	if n := len(e.ReadAll(t, topics.NamespaceName(string(lane), "green", topics.KindState))); n == 0 {
		t.Error("green wrote no state to matriz.prod.green.state")
	}
}

// runLaneErr runs a lane that is expected to refuse to start and returns
// Run's error.
func runLaneErr(t *testing.T, env *pipetest.Env, cfg Config) error {
	t.Helper()
	cfg.Brokers, cfg.RegistryURL = env.Brokers, env.RegistryURL
	return Run(t.Context(), cfg)
}
