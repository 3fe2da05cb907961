package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"
)

// TestBoundShutdownExitsOnePastTheBound: once the signal ended ctx, a
// command still running past the bound is ended with exit 1 and one line
// saying so; before the signal nothing happens.
func TestBoundShutdownExitsOnePastTheBound(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var out bytes.Buffer
	exited := make(chan int, 1)
	go boundShutdown(ctx, &out, time.Millisecond, func(code int) { exited <- code })
	select {
	case code := <-exited:
		t.Fatalf("exit %d before any signal", code)
	case <-time.After(5 * time.Millisecond):
	}
	cancel()
	select {
	case code := <-exited:
		if code != 1 || strings.Count(out.String(), "\n") != 1 || !strings.Contains(out.String(), "still stopping 1ms after the signal; exiting without finishing") {
			t.Fatalf("exit %d, stderr %q", code, out.String())
		}
	case <-time.After(time.Second):
		t.Fatal("no exit past the bound")
	}
}
