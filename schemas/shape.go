package schemas

import "fmt"

// This file puts payloads into the shape twmb/avro encodes (toWire) and
// back into the documented Go types after decoding (fromWire). The only
// real difference is the []string branch, which travels as the record
// matriz.StringList; see Payload.toWire.

// toWire returns what AppendEncode hands to twmb/avro for v: v itself when
// every payload is already in wire shape (the common case, no allocation),
// or else a shallow copy of the record whose changed payloads, and crumb
// slice, are copies, so the caller's value is never modified. A value the
// payload union cannot hold is an *EncodeError naming the field.
func toWire[T Record](v *T) (any, error) {
	switch x := any(v).(type) {
	case *MatrizMessage:
		return payloadToWire(x, func(m *MatrizMessage) *Payload { return &m.Payload })
	case *MatrizResult:
		p, changed, err := x.Payload.toWire()
		if err != nil {
			return nil, payloadError("payload", err)
		}
		tr, err := crumbsToWire(x.Trace, "trace")
		if err != nil {
			return nil, err
		}
		if changed || tr != nil {
			c := *x
			c.Payload = p
			if tr != nil {
				c.Trace = tr
			}
			return &c, nil
		}
	case *Event:
		return payloadToWire(x, func(e *Event) *Payload { return &e.Payload })
	case *Trace:
		cr, err := crumbsToWire(x.Crumbs, "crumbs")
		if err != nil {
			return nil, err
		}
		in, inChanged, err := x.Inputs.toWire()
		if err != nil {
			return nil, payloadError("inputs", err)
		}
		out, outChanged, err := x.Outputs.toWire()
		if err != nil {
			return nil, payloadError("outputs", err)
		}
		if inChanged || outChanged || cr != nil {
			c := *x
			c.Inputs, c.Outputs = in, out
			if cr != nil {
				c.Crumbs = cr
			}
			return &c, nil
		}
	}
	return v, nil
}

// payloadToWire is toWire for a record whose only payload is the one
// payload returns a pointer to: x itself when it is in wire shape, else a
// shallow copy with the payload converted.
func payloadToWire[R any](x *R, payload func(*R) *Payload) (any, error) {
	p, changed, err := payload(x).toWire()
	if err != nil {
		return nil, payloadError("payload", err)
	}
	if !changed {
		return x, nil
	}
	c := *x
	*payload(&c) = p
	return &c, nil
}

// crumbsToWire returns nil when no crumb's data needs a change, and
// otherwise a copy of cs with the changed data in wire shape. field names
// the crumb array in errors ("trace[2].data").
func crumbsToWire(cs []Crumb, field string) ([]Crumb, error) {
	var out []Crumb
	for i := range cs {
		p, changed, err := cs[i].Data.toWire()
		if err != nil {
			return nil, payloadError(fmt.Sprintf("%s[%d].data", field, i), err)
		}
		if changed {
			if out == nil {
				out = append([]Crumb(nil), cs...)
			}
			out[i].Data = p
		}
	}
	return out, nil
}

func payloadError(field string, err error) error {
	return &EncodeError{Field: field, Err: err}
}

// fromWire normalises decoded payload values to the documented Go types,
// and an empty glyph provenance to nil, the zero value a producer that
// never set it has, so a message round-trips to a deeply equal value
// whichever GLYPH version carried it.
func fromWire[T Record](v *T) error {
	switch x := any(v).(type) {
	case *Glyph:
		x.normalize()
	case *MatrizMessage:
		x.Glyph.normalize()
		return x.Payload.normalize()
	case *MatrizResult:
		if err := x.Payload.normalize(); err != nil {
			return err
		}
		return normalizeCrumbs(x.Trace)
	case *Event:
		return x.Payload.normalize()
	case *Trace:
		if err := x.Inputs.normalize(); err != nil {
			return err
		}
		if err := x.Outputs.normalize(); err != nil {
			return err
		}
		return normalizeCrumbs(x.Crumbs)
	}
	return nil
}

func normalizeCrumbs(cs []Crumb) error {
	for i := range cs {
		if err := cs[i].Data.normalize(); err != nil {
			return err
		}
	}
	return nil
}

func (g *Glyph) normalize() {
	if len(g.Provenance) == 0 {
		g.Provenance = nil
	}
}
