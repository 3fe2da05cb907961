package runtime

import (
	"context"
	"strings"
	"testing"

	"github.com/matriz/pipelines/schemas"
)

// TestConfigDefaultsRefusesLaneAndNamespace: a lane that is none of the
// three, or a side namespace that cannot name topics, is refused with an
// error naming the value and what is allowed; a valid side runs in a group
// of its own, so it never shares offsets with the lane's own group.
func TestConfigDefaultsRefusesLaneAndNamespace(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
		want string
	}{
		{"no lane", Config{}, `lane "": want experimental, candidate or prod`},
		{"unknown lane", Config{Lane: "staging"}, `lane "staging": want experimental, candidate or prod`},
		{"canary namespace", Config{Lane: schemas.LaneProd, Namespace: "canary"}, `namespace "canary": the lane's canary topics use it`},
		{"replay namespace", Config{Lane: schemas.LaneProd, Namespace: "replay"}, `namespace "replay": the lane's replay topics use it`},
		{"too long", Config{Lane: schemas.LaneProd, Namespace: strings.Repeat("b", 65)}, "want 1 to 64 letters, digits"},
		{"a dot", Config{Lane: schemas.LaneProd, Namespace: "blue.1"}, `'.' is not allowed`},
	} {
		if err := tc.cfg.defaults(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: defaults() = %v, want an error containing %q", tc.name, err, tc.want)
		}
	}
	if err := CheckNamespace(""); err == nil || !strings.Contains(err.Error(), "want 1 to 64") {
		t.Errorf("CheckNamespace(\"\") = %v, want the empty name refused", err)
	}
	for _, tc := range []struct {
		cfg  Config
		want string
	}{
		{Config{Lane: schemas.LaneProd, Namespace: "blue"}, "matriz-prod-blue"},
		{Config{Lane: schemas.LaneProd, Namespace: "green", Group: "ops"}, "ops"},
		{Config{Lane: schemas.LaneCandidate}, "matriz-candidate"},
	} {
		if err := tc.cfg.defaults(); err != nil || tc.cfg.Group != tc.want {
			t.Errorf("lane %s namespace %q group %q: defaults() = %v, group %q; want %q", tc.cfg.Lane, tc.cfg.Namespace, tc.cfg.Group, err, tc.cfg.Group, tc.want)
		}
	}
}

// TestReplayRefusesBadConfigBeforeConnecting: a replay without a
// namespace, or of a lane that is none of the three, is refused before it
// dials the (here unreachable) brokers or registry.
func TestReplayRefusesBadConfigBeforeConnecting(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  ReplayConfig
		want string
	}{
		{"no namespace", ReplayConfig{Lane: schemas.LaneProd}, "replay: a namespace name is required"},
		{"unknown lane", ReplayConfig{Lane: "staging", Name: "r1"}, `lane "staging": want experimental, candidate or prod`},
		{"unknown reader version", ReplayConfig{Lane: schemas.LaneProd, Name: "r1", ReaderVersion: 3}, "reader version: "},
	} {
		tc.cfg.Brokers, tc.cfg.RegistryURL = []string{"127.0.0.1:1"}, "http://127.0.0.1:1"
		if _, err := Replay(context.Background(), tc.cfg); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: Replay = %v, want an error containing %q", tc.name, err, tc.want)
		}
	}
}
