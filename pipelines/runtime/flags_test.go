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

// TestGlobalOffWinsOverLaneOn: for every kill switch, a global off on
// matriz.control wins over a per-lane on, whichever came first and
// whatever the start values say; a per-lane off still wins over a global
// on, and a lane on alone turns its lane on.
func TestGlobalOffWinsOverLaneOn(t *testing.T) {
	on := stages.Flags{Dispatch: true, Learning: true, ExtActions: true}
	for _, name := range FlagNames {
		for _, tc := range []struct {
			name    string
			start   stages.Flags
			records [][2]string // key, value in order
			want    bool
		}{
			{"global off then lane on", stages.Flags{}, [][2]string{{name, "false"}, {"prod/" + name, "true"}}, false},
			{"lane on then global off", stages.Flags{}, [][2]string{{"prod/" + name, "true"}, {name, "false"}}, false},
			{"start on, global off, lane on", on, [][2]string{{name, "false"}, {"prod/" + name, "true"}}, false},
			{"global on, lane off", stages.Flags{}, [][2]string{{name, "true"}, {"prod/" + name, "false"}}, false},
			{"global on, lane on", stages.Flags{}, [][2]string{{name, "true"}, {"prod/" + name, "true"}}, true},
			{"lane on alone", stages.Flags{}, [][2]string{{"prod/" + name, "true"}}, true},
			{"global off removed, lane on", stages.Flags{}, [][2]string{{name, "false"}, {"prod/" + name, "true"}, {name, ""}}, true},
			{"global off, other lane on", on, [][2]string{{name, "false"}, {"candidate/" + name, "true"}}, false},
		} {
			t.Run(name+"/"+tc.name, func(t *testing.T) {
				l := NewLiveFlags(schemas.LaneProd, tc.start)
				for _, r := range tc.records {
					if _, err := l.Apply([]byte(r[0]), []byte(r[1])); err != nil {
						t.Fatal(err)
					}
				}
				got := l.Get()
				if v := flagValue(got, name); v != tc.want {
					t.Fatalf("%s = %v after %v, want %v", name, v, tc.records, tc.want)
				}
			})
		}
	}
}

// TestStartFlagsEnvOffWinsOverLaneOn: an environment variable set to
// false is the process's kill switch at start: it wins over the lane's
// own route.dispatch in the spec.
func TestStartFlagsEnvOffWinsOverLaneOn(t *testing.T) {
	lane := spec.Lane{Route: spec.Route{Dispatch: true}}
	for _, name := range FlagNames {
		f, err := StartFlags(spec.Flags{Dispatch: true, Learning: true, ExtActions: true}, lane, func(k string) string {
			if k == name {
				return "false"
			}
			return ""
		})
		if err != nil {
			t.Fatal(err)
		}
		if flagValue(f, name) {
			t.Errorf("%s=false in the environment, lane on in the spec: flag on", name)
		}
	}
}

func flagValue(f stages.Flags, name string) bool {
	switch name {
	case FlagDispatch:
		return f.Dispatch
	case FlagLearning:
		return f.Learning
	case FlagExtActions:
		return f.ExtActions
	case FlagCanary:
		return f.Canary
	}
	panic("unknown flag " + name)
}
