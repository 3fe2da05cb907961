package runtime

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"

	"github.com/matriz/pipelines/schemas"
	"github.com/matriz/pipelines/topics"
)

// notKafka listens on an address that accepts connections and closes them
// at once: another service's port passed as --brokers.
func notKafka(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	return ln.Addr().String()
}

// unreachable is an address nothing listens on.
const unreachable = "127.0.0.1:1"

// TestRunStopsOnBrokersOrRegistryItCannotUse: a --brokers address that
// accepts connections but does not speak Kafka is named as such, rather
// than surfacing later as missing topics; with no broker answering, an
// unreachable registry is the error; either way the lane reports itself
// not ready with the error.
func TestRunStopsOnBrokersOrRegistryItCannotUse(t *testing.T) {
	ready := NewReadiness()
	err := Run(context.Background(), Config{Lane: schemas.LaneProd, Brokers: []string{notKafka(t)}, RegistryURL: "http://" + unreachable, Readiness: ready})
	var nk *topics.NotKafkaError
	if !errors.As(err, &nk) || !strings.Contains(err.Error(), "did not answer the Kafka protocol") {
		t.Fatalf("Run against a port that is not Kafka = %v, want a NotKafkaError", err)
	}
	if r := ready.Err(); r == nil || !strings.Contains(r.Error(), "lane prod stopped: ") {
		t.Errorf("readiness after the failed start: %v, want the lane stopped with its error", r)
	}

	err = Run(context.Background(), Config{Lane: schemas.LaneProd, Brokers: []string{unreachable}, RegistryURL: "http://" + unreachable})
	if err == nil || !strings.HasPrefix(err.Error(), "schema registry: ") {
		t.Fatalf("Run with the registry unreachable = %v, want a schema registry error", err)
	}
}

// TestReplayStopsBeforeReadingWhatItCannotRun: a replay stops, before it
// reads a record, on a registry it cannot reach, a flag override in the
// environment it cannot read (naming the variable), and brokers it cannot
// reach to create its namespace's topics on.
func TestReplayStopsBeforeReadingWhatItCannotRun(t *testing.T) {
	reg := memRegistryURL(t, schemas.LaneProd)
	for _, tc := range []struct {
		name     string
		registry string
		env      map[string]string
		want     string
	}{
		{"registry unreachable", "http://" + unreachable, nil, "schema registry: "},
		{"flag override unreadable", reg, map[string]string{FlagDispatch: "maybe"}, "environment " + FlagDispatch + ": "},
		{"brokers unreachable", reg, nil, "cannot reach Kafka at " + unreachable},
	} {
		cfg := ReplayConfig{Lane: schemas.LaneProd, Name: "r1", Brokers: []string{unreachable}, RegistryURL: tc.registry,
			Getenv: func(k string) string { return tc.env[k] }, Ranges: []ReplayRange{{Partition: 0, From: 0, To: 10}}}
		stats, err := Replay(context.Background(), cfg)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: Replay = %v, want an error containing %q", tc.name, err, tc.want)
		}
		if len(stats.Records) != 0 {
			t.Errorf("%s: the replay read %v", tc.name, stats.Records)
		}
	}
}

// TestRunRefusesAnUnreadableFlagBeforeItConnects: a flag override in the
// environment that is no boolean is a bad setting like any other, named
// with its variable before the lane dials a broker or the registry (both
// unreachable here, which would otherwise be the error).
func TestRunRefusesAnUnreadableFlagBeforeItConnects(t *testing.T) {
	err := Run(context.Background(), Config{Lane: schemas.LaneProd, Brokers: []string{unreachable}, RegistryURL: "http://" + unreachable,
		Getenv: func(k string) string { return map[string]string{FlagLearning: "maybe"}[k] }})
	if err == nil || !strings.HasPrefix(err.Error(), "environment "+FlagLearning+": ") {
		t.Fatalf("Run with %s=maybe = %v, want the variable named before any connection", FlagLearning, err)
	}
}
