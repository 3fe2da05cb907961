package operators

// ForwardSink feeds a partition's outputs into the lane's shared Sink
// without closing it when the partition's graph completes: the lane Sink
// batches every partition's writes and outlives revocations.
type ForwardSink struct {
	in   chan any
	done chan struct{}
}

func NewForwardSink(into chan<- any) *ForwardSink {
	s := &ForwardSink{in: make(chan any), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		for e := range s.in {
			into <- e
		}
	}()
	return s
}

func (s *ForwardSink) In() chan<- any   { return s.in }
func (s *ForwardSink) AwaitCompletion() { <-s.done }
