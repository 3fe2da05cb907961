package rehearsal

import (
	"strings"
	"testing"
	"time"

	"github.com/matriz/pipelines/schemas"
)

func TestFromEnvReadsLanesAndKeep(t *testing.T) {
	env := map[string]string{EnvLanes: "prod, candidate", EnvKeep: "1"}
	var c Config
	if err := c.FromEnv(func(k string) string { return env[k] }); err != nil {
		t.Fatal(err)
	}
	if len(c.Lanes) != 2 || c.Lanes[0] != schemas.LaneProd || c.Lanes[1] != schemas.LaneCandidate || !c.Keep || c.faultLane() != schemas.LaneProd {
		t.Fatalf("config %+v from %v", c, env)
	}
	c = Config{Lanes: []schemas.Lane{schemas.LaneCandidate}}
	c.defaults()
	if c.faultLane() != schemas.LaneCandidate || c.Cut <= c.SessionTimeout {
		t.Fatalf("without prod the faults hit %s, cut %v for session %v", c.faultLane(), c.Cut, c.SessionTimeout)
	}
	env[EnvLanes] = "prod,staging"
	if err := c.FromEnv(func(k string) string { return env[k] }); err == nil || !strings.Contains(err.Error(), EnvLanes) || !strings.Contains(err.Error(), "staging") {
		t.Fatalf("bad lane: %v, want an error naming %s and the lane", err, EnvLanes)
	}
}

// The runtime's member ids hold spaces and parentheses, so slog quotes them.
func TestLogLineAttrUnquotes(t *testing.T) {
	l := logLine{attrs: `time=2026-12-06T19:18:24.100Z level=INFO msg=generation lane=prod generation=3 member="matriz@c78d (github.com/segmentio/kafka-go)-87b4" partitions="map[matriz.prod.messages:[0 1]]"`}
	if got := l.attr("member"); got != "matriz@c78d (github.com/segmentio/kafka-go)-87b4" {
		t.Fatalf("member %q", got)
	}
	if got := l.attr("generation"); got != "3" {
		t.Fatalf("generation %q", got)
	}
	if got := l.attr("missing"); got != "" {
		t.Fatalf("missing attr %q", got)
	}
}

func TestReportSaysPassOrEveryFailure(t *testing.T) {
	r := &Report{Wall: 65 * time.Second, Lanes: []LaneReport{{Lane: "prod", Inputs: 10, Results: 9, DLQ: 1, Decisions: map[string]int{"deny": 2, "allow": 7}, Faults: []string{"SIGKILL (6.5s)"}}},
		Faults: []Fault{{What: "SIGKILL", Lanes: []string{"prod"}, Detail: "killed", Recover: map[string]time.Duration{"prod": 6500 * time.Millisecond}}}}
	var b strings.Builder
	r.Write(&b)
	for _, want := range []string{"wall time 1m5s", "allow 7 deny 2", "SIGKILL on prod: killed; recovered: prod 6.5s", "result: PASS"} {
		if !strings.Contains(b.String(), want) {
			t.Fatalf("report lacks %q:\n%s", want, b.String())
		}
	}
	r.failf("lane %s: %d inputs missing", "prod", 3)
	b.Reset()
	r.Write(&b)
	if r.OK() || !strings.Contains(b.String(), "result: FAIL (1)\n  - lane prod: 3 inputs missing") {
		t.Fatalf("a failed report:\n%s", b.String())
	}
}
