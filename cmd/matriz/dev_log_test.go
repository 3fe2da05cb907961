package main

import (
	"log/slog"
	"strings"
	"testing"
)

// TestDevLogsControlChangesWithoutDebug: without --debug, matriz dev's
// stderr carries flag changes and refused control records, and nothing else.
func TestDevLogsControlChangesWithoutDebug(t *testing.T) {
	var b strings.Builder
	log := slog.New(controlOnly{slog.NewTextHandler(&b, nil)}).With("lane", "prod")
	log.Warn("kafka", "err", "i/o timeout")
	log.Info("partition assigned", "partition", 3)
	log.Warn("flag changed", "flag", "EXT_ACTIONS_ENABLED", "from", true, "to", false)
	log.Warn("control record ignored: the flags in force are unchanged", "key", "prod/DISPATCH_ENABLED", "value", "maybe")
	out := b.String()
	if n := strings.Count(out, "\n"); n != 2 {
		t.Fatalf("%d lines, want the flag change and the refused record:\n%s", n, out)
	}
	for _, want := range []string{"flag changed", "EXT_ACTIONS_ENABLED", "lane=prod", "value=maybe"} {
		if !strings.Contains(out, want) {
			t.Fatalf("stderr lacks %q:\n%s", want, out)
		}
	}
}
