package runtime

import (
	"testing"

	"github.com/matriz/pipelines/stages"
)

// TestSetFlagKnowsOnlyTheFlags: setting a name that is no flag changes
// nothing and says so, so a control record for a flag this binary does
// not know cannot flip another.
func TestSetFlagKnowsOnlyTheFlags(t *testing.T) {
	f := stages.Flags{Dispatch: true}
	if setFlag(&f, "TURBO", false) {
		t.Error("setFlag accepted an unknown flag name")
	}
	if f != (stages.Flags{Dispatch: true}) {
		t.Errorf("flags changed by an unknown name: %+v", f)
	}
	for _, name := range FlagNames {
		g := stages.Flags{}
		if !setFlag(&g, name, true) || !flagValue(g, name) {
			t.Errorf("setFlag(%s, true) did not turn it on: %+v", name, g)
		}
	}
}
