package schemas

import "reflect"

// boxBatch is how many payload entries a boxer holds before it puts them
// into the map.
const boxBatch = 8

// boxer puts decoded payload values into a Payload with few allocations.
// Storing a float64, a string or a slice in an interface allocates a copy
// of it, one per value; the boxer instead collects a batch of values in
// arrays, makes one interface of them all (one allocation), and takes
// every value's interface from that copy through reflect: Value.Interface
// on an element of a non-addressable array refers to the element in
// place. Entries go into the map in the order they were read, so a
// duplicate key keeps its last value, as with the reflective decoder. Nil
// and booleans cost nothing to box and go the same way, to keep that
// order. The reader fills a boxer on its own stack by indexing
// (reader.payload).
type boxer struct {
	n     int
	keys  [boxBatch]string
	kinds [boxBatch]boxKind
	v     boxValues
}

// boxValues holds a batch's values, entry i's in element i of the array of
// its kind. Its fields are exported because reflect hands out interfaces
// only of exported fields; the type stays the package's own.
type boxValues struct {
	Floats [boxBatch]float64
	Longs  [boxBatch]int64
	Strs   [boxBatch]string
	Vecs   [boxBatch][]float64
	Lists  [boxBatch][]string
}

// The fields of boxValues, by index, for reflect.
const (
	boxFieldFloats = iota
	boxFieldLongs
	boxFieldStrs
	boxFieldVecs
	boxFieldLists
)

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
	var values reflect.Value
	for _, k := range b.kinds[:b.n] {
		if k >= boxLong {
			values = reflect.ValueOf(b.v)
			break
		}
	}
	for i, kind := range b.kinds[:b.n] {
		var v any
		switch kind {
		case boxFalse:
			v = false
		case boxTrue:
			v = true
		case boxLong:
			v = values.Field(boxFieldLongs).Index(i).Interface()
		case boxDouble:
			v = values.Field(boxFieldFloats).Index(i).Interface()
		case boxString:
			v = values.Field(boxFieldStrs).Index(i).Interface()
		case boxDoubles:
			v = values.Field(boxFieldVecs).Index(i).Interface()
		case boxStrings:
			v = values.Field(boxFieldLists).Index(i).Interface()
		}
		p[b.keys[i]] = v
	}
	b.n = 0
}
