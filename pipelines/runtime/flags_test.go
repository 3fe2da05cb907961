package runtime

import (
	"testing"

	"github.com/matriz/pipelines/pipelines/spec"
	"github.com/matriz/pipelines/schemas"
	"github.com/matriz/pipelines/stages"
)

func TestStartFlagsEnvOverridesSpec(t *testing.T) {
	env := map[string]string{FlagDispatch: "true", FlagExtActions: "off"}
	f, err := StartFlags(spec.Flags{ExtActions: true}, spec.Lane{}, func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if !f.Dispatch || f.ExtActions || f.Learning {
		t.Fatalf("flags %+v, want dispatch on, ext actions off, learning off", f)
	}
	env[FlagLearning] = "perhaps"
	if _, err := StartFlags(spec.Flags{}, spec.Lane{}, func(k string) string { return env[k] }); err == nil {
		t.Fatal("bad env value accepted")
	}
}

func TestLiveFlagsControlRecords(t *testing.T) {
	l := NewLiveFlags(schemas.LaneProd, stages.Flags{})
	steps := []struct {
		key, value string
		want       stages.Flags
		changes    int
		err        bool
	}{
		{"DISPATCH_ENABLED", "true", stages.Flags{Dispatch: true}, 1, false},
		{"DISPATCH_ENABLED", "true", stages.Flags{Dispatch: true}, 0, false},
		{"prod/DISPATCH_ENABLED", "false", stages.Flags{}, 1, false},
		{"candidate/DISPATCH_ENABLED", "true", stages.Flags{}, 0, false},
		{"prod/DISPATCH_ENABLED", "", stages.Flags{Dispatch: true}, 1, false}, // tombstone: global wins again
		{"EXT_ACTIONS_ENABLED", "yes", stages.Flags{Dispatch: true, ExtActions: true}, 1, false},
		{"TELEPORT_ENABLED", "true", stages.Flags{Dispatch: true, ExtActions: true}, 0, true},
		{"staging/DISPATCH_ENABLED", "true", stages.Flags{Dispatch: true, ExtActions: true}, 0, true},
		{"LEARNING_ENABLED", "maybe", stages.Flags{Dispatch: true, ExtActions: true}, 0, true},
	}
	for i, s := range steps {
		ch, err := l.Apply([]byte(s.key), []byte(s.value))
		if (err != nil) != s.err {
			t.Fatalf("step %d (%s=%s): err %v, want error %v", i, s.key, s.value, err, s.err)
		}
		if len(ch) != s.changes {
			t.Fatalf("step %d (%s=%s): changes %v, want %d", i, s.key, s.value, ch, s.changes)
		}
		if got := l.Get(); got != s.want {
			t.Fatalf("step %d (%s=%s): flags %+v, want %+v", i, s.key, s.value, got, s.want)
		}
	}
}
