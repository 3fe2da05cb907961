package runtime

import (
	"testing"

	"github.com/matriz/pipelines/stages"
)

// TestSameCutSeesAWakeWithoutNewInput: a cut at the same offsets as the
// one committed last is written again only when something moved since: an
// approval that woke the idle partition closed a frame (its window state)
// and executed the action (the guardian's state, the approvals applied).
// Only a cut that holds nothing new is skipped.
func TestSameCutSeesAWakeWithoutNewInput(t *testing.T) {
	base := func() *Checkpoint {
		return &Checkpoint{Next: 40, Resume: 40, Tick: []byte(`{"closed":100,"max_ts":105}`),
			State: map[string][]byte{"guardian": []byte(`{"pending":["a1"]}`)}, Flags: stages.Flags{ExtActions: true}}
	}
	if !sameCut(base(), base()) {
		t.Fatal("two identical cuts are not the same")
	}
	for name, change := range map[string]func(*Checkpoint){
		"next":     func(c *Checkpoint) { c.Next = 41 },
		"open":     func(c *Checkpoint) { c.Open = []int64{39} },
		"final":    func(c *Checkpoint) { c.Final = true },
		"window":   func(c *Checkpoint) { c.Tick = []byte(`{"closed":133,"max_ts":138}`) },
		"stage":    func(c *Checkpoint) { c.State["guardian"] = nil },
		"approved": func(c *Checkpoint) { c.Approved = []string{"a1"} },
		"flags":    func(c *Checkpoint) { c.Flags.ExtActions = false },
	} {
		c := base()
		change(c)
		if sameCut(base(), c) {
			t.Errorf("a cut whose %s changed counts as the same: it would not be written", name)
		}
	}
}
