package runtime

import (
	"testing"
)

// TestSinkGateRefusesSendsOnceClosed: a send blocked on a busy Sink gives
// up when the gate closes (close does not wait for the Sink to read), the
// Sink's input is closed, and sends after close are refused instead of
// panicking the process on a closed channel.
func TestSinkGateRefusesSendsOnceClosed(t *testing.T) {
	in := make(chan any) // a Sink that reads nothing: every send blocks
	g := newSinkGate(in)
	blocked := make(chan bool)
	go func() { blocked <- g.send("late output") }()
	g.close()
	if ok := <-blocked; ok {
		t.Fatal("a send blocked at close reported the output handed over")
	}
	if _, open := <-in; open {
		t.Fatal("the Sink's input is still open after close")
	}
	for range 3 {
		if g.send("after close") {
			t.Fatal("a send after close reported the output handed over")
		}
	}
}

// TestSinkGateHandsOver: while open, outputs reach the Sink in order.
func TestSinkGateHandsOver(t *testing.T) {
	in := make(chan any, 2)
	g := newSinkGate(in)
	if !g.send(1) || !g.send(2) {
		t.Fatal("send on an open gate refused")
	}
	g.close()
	var got []any
	for e := range in {
		got = append(got, e)
	}
	if len(got) != 2 || got[0] != 1 || got[1] != 2 {
		t.Fatalf("Sink read %v, want [1 2]", got)
	}
}
