package clock

import (
	"sync"
	"time"
)

// Fake is a Clock that moves only when told to. Advance fires every ticker
// whose deadline has passed, once per elapsed period, dropping ticks a
// reader has not taken yet, as time.Ticker does.
type Fake struct {
	mu      sync.Mutex
	now     time.Time
	tickers []*fakeTicker
}

// NewFake returns a Fake clock set to start.
func NewFake(start time.Time) *Fake { return &Fake{now: start} }

// Now returns the fake time.
func (f *Fake) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

// Set moves the clock to t (forward only) and fires due tickers.
func (f *Fake) Set(t time.Time) {
	f.mu.Lock()
	if t.After(f.now) {
		f.now = t
	}
	now := f.now
	tickers := append([]*fakeTicker(nil), f.tickers...)
	f.mu.Unlock()
	for _, tk := range tickers {
		tk.fire(now)
	}
}

// Advance moves the clock forward by d and fires due tickers.
func (f *Fake) Advance(d time.Duration) { f.Set(f.Now().Add(d)) }

// NewTicker returns a ticker driven by Advance and Set.
func (f *Fake) NewTicker(d time.Duration) Ticker {
	if d <= 0 {
		panic("clock: non-positive ticker period") // same contract as time.NewTicker
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	t := &fakeTicker{clock: f, period: d, next: f.now.Add(d), c: make(chan time.Time, 1)}
	f.tickers = append(f.tickers, t)
	return t
}

type fakeTicker struct {
	clock  *Fake
	period time.Duration
	mu     sync.Mutex
	next   time.Time
	c      chan time.Time
	done   bool
}

func (t *fakeTicker) C() <-chan time.Time { return t.c }

func (t *fakeTicker) Stop() {
	t.mu.Lock()
	t.done = true
	t.mu.Unlock()
	f := t.clock
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, x := range f.tickers {
		if x == t {
			f.tickers = append(f.tickers[:i], f.tickers[i+1:]...)
			break
		}
	}
}

func (t *fakeTicker) fire(now time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.done || now.Before(t.next) {
		return
	}
	for !now.Before(t.next) {
		t.next = t.next.Add(t.period)
	}
	select {
	case t.c <- now:
	default:
	}
}
