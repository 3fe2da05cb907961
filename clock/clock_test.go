package clock

import (
	"context"
	"testing"
	"time"
)

func TestFakeTickerFiresOncePerAdvanceAndDropsUnread(t *testing.T) {
	start := time.Unix(0, 0)
	f := NewFake(start)
	tk := f.NewTicker(10 * time.Millisecond)
	defer tk.Stop()

	f.Advance(5 * time.Millisecond)
	select {
	case <-tk.C():
		t.Fatal("ticked before its period")
	default:
	}

	f.Advance(5 * time.Millisecond)
	select {
	case got := <-tk.C():
		if !got.Equal(start.Add(10 * time.Millisecond)) {
			t.Fatalf("tick at %v, want %v", got, start.Add(10*time.Millisecond))
		}
	default:
		t.Fatal("no tick at the period")
	}

	// Three periods pass unread: one tick is buffered, the rest dropped.
	f.Advance(30 * time.Millisecond)
	<-tk.C()
	select {
	case <-tk.C():
		t.Fatal("more than one tick buffered")
	default:
	}
}

func TestFakeSetNeverMovesBackwards(t *testing.T) {
	start := time.Unix(100, 0)
	f := NewFake(start)
	f.Set(time.Unix(50, 0))
	if !f.Now().Equal(start) {
		t.Fatalf("clock moved backwards to %v", f.Now())
	}
}

func TestStoppedTickerNeverFires(t *testing.T) {
	f := NewFake(time.Unix(0, 0))
	tk := f.NewTicker(time.Millisecond)
	tk.Stop()
	f.Advance(time.Second)
	select {
	case <-tk.C():
		t.Fatal("stopped ticker fired")
	default:
	}
}

func TestSleepWaitsForTheClockOrTheContext(t *testing.T) {
	f := NewFake(time.Unix(0, 0))
	done := make(chan bool)
	go func() { done <- Sleep(context.Background(), f, time.Second) }()
	// The sleeper's ticker may not exist yet when the clock first moves:
	// keep moving it until Sleep returns.
	var ok bool
	for waiting := true; waiting; {
		f.Advance(time.Second)
		select {
		case ok = <-done:
			waiting = false
		case <-time.After(time.Millisecond):
		}
	}
	if !ok {
		t.Fatal("Sleep reported a cancelled context")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if Sleep(ctx, f, time.Hour) {
		t.Fatal("Sleep waited out a cancelled context")
	}
}
