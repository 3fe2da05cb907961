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
// the reflective decoder. Nil and booleans cost nothing to box and go the
// same way, to keep that order. The reader fills a boxer on its own stack
// by indexing (reader.payload).
type boxer struct {
	n      int
	keys   [boxBatch]string
	kinds  [boxBatch]boxKind
	floats [boxBatch]float64
	longs  [boxBatch]int64
	strs   [boxBatch]string
	vecs   [boxBatch][]float64
	lists  [boxBatch][]string
}

// boxKind says which of a boxer's arrays holds an entry's value, or which
// value it is when it needs none.
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

// flush puts the held entries into p and empties the boxer.
func (b *boxer) flush(p Payload) {
	var used [boxStrings + 1]bool
	for _, k := range b.kinds[:b.n] {
		used[k] = true
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
	for i, kind := range b.kinds[:b.n] {
		var v any
		switch kind {
		case boxFalse:
			v = false
		case boxTrue:
			v = true
		case boxLong:
			v = longs.Index(i).Interface()
		case boxDouble:
			v = floats.Index(i).Interface()
		case boxString:
			v = strs.Index(i).Interface()
		case boxDoubles:
			v = vecs.Index(i).Interface()
		case boxStrings:
			v = lists.Index(i).Interface()
		}
		p[b.keys[i]] = v
	}
	b.n = 0
}
