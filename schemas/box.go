package schemas

import "reflect"

// boxBatch is how many payload entries a boxer holds before it puts them
// into the map.
const boxBatch = 8

// boxer puts decoded payload values into a Payload with few allocations.
// Storing a float64, a string or a slice in an interface allocates a copy
// of it, one per value; the boxer instead collects a batch of values of
// each type in an array, makes one interface of each array (one
// allocation), and takes every value's interface from that array's copy
// through reflect: Value.Interface on an element of a non-addressable
// array refers to the element in place. Entries go into the map in the
// order they were read, so a duplicate key keeps its last value, as with
// the reflective decoder. Nil, booleans and small longs cost nothing to
// box and go the same way, to keep that order.
type boxer struct {
	entries [boxBatch]boxEntry
	n       int
	floats  [boxBatch]float64
	longs   [boxBatch]int64
	strs    [boxBatch]string
	vecs    [boxBatch][]float64
	lists   [boxBatch][]string
}

type boxEntry struct {
	key  string
	kind boxKind
	at   uint8 // index into the kind's array
}

type boxKind uint8

const (
	boxNil boxKind = iota
	boxFalse
	boxTrue
	boxLong
	boxDouble
	boxString
	boxDoubles
	boxStrings
)

func (b *boxer) full() bool { return b.n == boxBatch }

func (b *boxer) add(k string, kind boxKind) {
	b.entries[b.n] = boxEntry{key: k, kind: kind, at: uint8(b.n)}
	b.n++
}

func (b *boxer) addNil(k string) { b.add(k, boxNil) }

func (b *boxer) addBool(k string, v bool) {
	if v {
		b.add(k, boxTrue)
	} else {
		b.add(k, boxFalse)
	}
}

func (b *boxer) addLong(k string, v int64)        { b.longs[b.n] = v; b.add(k, boxLong) }
func (b *boxer) addDouble(k string, v float64)    { b.floats[b.n] = v; b.add(k, boxDouble) }
func (b *boxer) addString(k string, v string)     { b.strs[b.n] = v; b.add(k, boxString) }
func (b *boxer) addDoubles(k string, v []float64) { b.vecs[b.n] = v; b.add(k, boxDoubles) }
func (b *boxer) addStrings(k string, v []string)  { b.lists[b.n] = v; b.add(k, boxStrings) }

// flush puts the held entries into p and empties the boxer.
func (b *boxer) flush(p Payload) {
	var used [boxStrings + 1]bool
	for _, e := range b.entries[:b.n] {
		used[e.kind] = true
	}
	var longs, floats, strs, vecs, lists reflect.Value
	if used[boxLong] {
		longs = reflect.ValueOf(b.longs)
	}
	if used[boxDouble] {
		floats = reflect.ValueOf(b.floats)
	}
	if used[boxString] {
		strs = reflect.ValueOf(b.strs)
	}
	if used[boxDoubles] {
		vecs = reflect.ValueOf(b.vecs)
	}
	if used[boxStrings] {
		lists = reflect.ValueOf(b.lists)
	}
	for _, e := range b.entries[:b.n] {
		var v any
		switch e.kind {
		case boxFalse:
			v = false
		case boxTrue:
			v = true
		case boxLong:
			v = longs.Index(int(e.at)).Interface()
		case boxDouble:
			v = floats.Index(int(e.at)).Interface()
		case boxString:
			v = strs.Index(int(e.at)).Interface()
		case boxDoubles:
			v = vecs.Index(int(e.at)).Interface()
		case boxStrings:
			v = lists.Index(int(e.at)).Interface()
		}
		p[e.key] = v
	}
	b.n = 0
}
