package operators

// ForwardSink feeds a partition's outputs into the lane's shared Sink
// without closing it when the partition's graph completes: the lane Sink
// batches every partition's writes and outlives revocations. send hands
// one output on; once it refuses (the lane Sink is closed), the rest are
// read and dropped, so the graph upstream still completes.
type ForwardSink struct {
	in   chan any
	done chan struct{}
}

func NewForwardSink(send func(any) bool) *ForwardSink {
	s := &ForwardSink{in: make(chan any), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		open := true
		for e := range s.in {
			open = open && send(e)
		}
	}()
	return s
}

func (s *ForwardSink) In() chan<- any   { return s.in }
func (s *ForwardSink) AwaitCompletion() { <-s.done }
