package topics

import (
	"errors"
	"strings"
	"testing"
)

func TestNameFollowsLaneKindConvention(t *testing.T) {
	if got := Name(LaneProd, KindEvents); got != "matriz.prod.events" {
		t.Fatalf("Name = %q", got)
	}
}

func TestLaneSpecsCoverEveryKindWithRetentionAndCompaction(t *testing.T) {
	for _, lane := range Lanes() {
		specs, err := LaneSpecs(lane, 6)
		if err != nil {
			t.Fatal(err)
		}
		if len(specs) != len(Kinds()) {
			t.Fatalf("%s: %d specs, want %d", lane, len(specs), len(Kinds()))
		}
		for i, s := range specs {
			k := Kinds()[i]
			if s.Name != "matriz."+lane+"."+string(k) || s.Partitions != 6 || s.ReplicationFactor != ReplicationByCluster {
				t.Errorf("spec %+v", s)
			}
			if s.Compacted != (k == KindState) {
				t.Errorf("%s: Compacted = %v", s.Name, s.Compacted)
			}
			if k == KindState {
				if s.Configs[ConfigCleanupPolicy] != CleanupCompact {
					t.Errorf("%s: %v", s.Name, s.Configs)
				}
				continue
			}
			if s.Configs[ConfigCleanupPolicy] != CleanupDelete || s.Configs[ConfigRetentionMs] == "" {
				t.Errorf("%s: %v", s.Name, s.Configs)
			}
		}
		if ev := specs[2]; ev.Name != Name(lane, KindEvents) || ev.Configs[ConfigRetentionMs] != RetentionForever {
			t.Errorf("events spec %+v: the replay source must keep everything", ev)
		}
	}
}

func TestLaneSpecsRefuseUnknownLaneAndBadPartitions(t *testing.T) {
	_, err := LaneSpecs("staging", 6)
	if !errors.Is(err, ErrUnknownLane) || !strings.Contains(err.Error(), "experimental, candidate or prod") {
		t.Fatalf("err = %v", err)
	}
	_, err = LaneSpecs(LaneProd, 0)
	var se *SpecError
	if !errors.As(err, &se) || se.Field != "partitions" || !errors.Is(err, ErrInvalidSpec) {
		t.Fatalf("err = %v", err)
	}
}

func TestSharedSpecsAreCompactedSinglePartition(t *testing.T) {
	specs := SharedSpecs()
	if len(specs) != 2 || specs[0].Name != ControlTopic || specs[1].Name != SchemasTopic {
		t.Fatalf("specs %+v", specs)
	}
	for _, s := range specs {
		if s.Partitions != 1 || !s.Compacted || s.Configs[ConfigCleanupPolicy] != CleanupCompact {
			t.Errorf("%+v", s)
		}
		if err := s.Validate(); err != nil {
			t.Error(err)
		}
	}
}

func TestSpecValidate(t *testing.T) {
	ok := Spec{Name: "a.b_c-1", Partitions: 1, ReplicationFactor: 3}
	if err := ok.Validate(); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name  string
		spec  Spec
		field string
	}{
		{"empty name", Spec{Partitions: 1, ReplicationFactor: -1}, "name"},
		{"dot", Spec{Name: "..", Partitions: 1, ReplicationFactor: -1}, "name"},
		{"too long", Spec{Name: strings.Repeat("a", 250), Partitions: 1, ReplicationFactor: -1}, "name"},
		{"bad char", Spec{Name: "a/b", Partitions: 1, ReplicationFactor: -1}, "name"},
		{"no partitions", Spec{Name: "a", ReplicationFactor: -1}, "partitions"},
		{"replication 0", Spec{Name: "a", Partitions: 1}, "replication factor"},
		{"empty config key", Spec{Name: "a", Partitions: 1, ReplicationFactor: -1, Configs: map[string]string{"": "x"}}, "configs"},
		{"bad retention", Spec{Name: "a", Partitions: 1, ReplicationFactor: -1, Configs: map[string]string{ConfigRetentionMs: "-2"}}, "configs"},
		{"table without compact", Spec{Name: "a", Partitions: 1, ReplicationFactor: -1, Compacted: true}, "cleanup.policy"},
		{"stream with compact", Spec{Name: "a", Partitions: 1, ReplicationFactor: -1, Configs: map[string]string{ConfigCleanupPolicy: "delete,compact"}}, "cleanup.policy"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.spec.Validate()
			var se *SpecError
			if !errors.As(err, &se) || se.Field != c.field {
				t.Fatalf("err = %v, want field %q", err, c.field)
			}
		})
	}
}

func TestKinds(t *testing.T) {
	for _, k := range Kinds() {
		if !k.Valid() {
			t.Errorf("%s not valid", k)
		}
	}
	if Kind("table").Valid() || KindEvents.Compacted() || !KindState.Compacted() {
		t.Fatal("kind predicates wrong")
	}
	if err := ValidateLane(LaneCandidate); err != nil {
		t.Fatal(err)
	}
}

// TestNamespaceSpecsAreTheOutputKindsWithTheLanesRetention: a canary's
// (or a blue/green side's) topics are the kinds a lane writes, under
// matriz.<lane>.<ns>., kept as long as the lane's own.
func TestNamespaceSpecsAreTheOutputKindsWithTheLanesRetention(t *testing.T) {
	if got := CanaryName("prod", KindResults); got != "matriz.prod.canary.results" {
		t.Errorf("CanaryName = %q", got)
	}
	specs, err := NamespaceSpecs("prod", CanaryNamespace, 6)
	if err != nil {
		t.Fatal(err)
	}
	if len(specs) != len(ReplayKinds()) {
		t.Fatalf("%d specs, want one per output kind (%d)", len(specs), len(ReplayKinds()))
	}
	for i, k := range ReplayKinds() {
		s := specs[i]
		if s.Name != NamespaceName("prod", "canary", k) || s.Partitions != 6 || s.Configs[ConfigRetentionMs] != streamRetention[k] || s.Compacted {
			t.Errorf("%s: %+v", k, s)
		}
	}
	if _, err := NamespaceSpecs("staging", "canary", 6); err == nil {
		t.Error("an unknown lane was accepted")
	}
	if _, err := NamespaceSpecs("prod", "canary", 0); err == nil {
		t.Error("0 partitions were accepted")
	}
}

func TestSideSpecsAddStateAndCheckpoints(t *testing.T) {
	specs, err := SideSpecs("prod", "green", 3)
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]Spec{}
	for _, s := range specs {
		byName[s.Name] = s
	}
	if len(specs) != len(ReplayKinds())+2 || !byName["matriz.prod.green.state"].Compacted || byName["matriz.prod.green.checkpoints"].Configs[ConfigRetentionMs] != RetentionForever || byName["matriz.prod.green.results"].Partitions != 3 {
		t.Errorf("side specs %+v", specs)
	}
	if _, err := SideSpecs("prod", "green", 0); err == nil {
		t.Error("0 partitions were accepted")
	}
}
