package topics

import "errors"

// ErrFenced is wrapped by the error a fenced record's Ack resolves with.
var ErrFenced = errors.New("write refused: its writer no longer holds the claim it was made under")

// dropFenced resolves and removes the records whose Fence refuses them, so
// a writer that lost its claim while its records waited in a batch (or in
// a retry's backoff) writes none of them. A refusal is not a write
// failure: the records' inputs stay uncommitted for the claim's next owner.
func (s *Sink) dropFenced(msgs []Message) []Message {
	keep := msgs[:0:0]
	dropped := false
	for i, m := range msgs {
		err := error(nil)
		if m.Fence != nil {
			err = m.Fence()
		}
		if err == nil {
			if m.Fence != nil && m.Time.IsZero() {
				// Stamped when the fence admitted it: a record that lands
				// late (its writer froze mid-request) still shows when
				// its writer last held the claim.
				msgs[i].Time = s.cfg.clock.Now()
				m.Time = msgs[i].Time
			}
			if dropped {
				keep = append(keep, m)
			}
			continue
		}
		if !dropped {
			dropped = true
			keep = append(keep, msgs[:i]...)
		}
		if !errors.Is(err, ErrFenced) {
			err = errors.Join(ErrFenced, err)
		}
		m.Ack.Done(err)
		s.fenced.Add(1)
	}
	if !dropped {
		return msgs
	}
	return keep
}

// Fenced is the number of records refused by their Fence.
func (s *Sink) Fenced() int64 { return s.fenced.Load() }
