package schemas

import "unsafe"

// This file boxes decoded payload values into interfaces with few
// allocations. Converting a float64, an int64, a string or a slice to an
// interface allocates a copy of it, one allocation per value. The decoder
// instead writes a payload's values into a boxSlab, one allocation for
// many values of every kind, and makes each value's interface refer to
// its slot in place (boxAt). A slot is written once, before its interface
// is made, and never again: a full slab is left to the interfaces that
// refer into it and a new one takes its place. Nil and booleans need no
// slot (their interfaces refer to static data).

// The slots of each kind a slab has, sized so that one slab holds a
// typical message payload (intent and action vectors, a few doubles, a
// priority string, fanout and depth) in 192 bytes. A hostile body of
// entries of one kind fills a slab every two entries of three bytes or
// more: 32 bytes of slab per input byte at most, about what the map slot
// of each such entry costs anyway.
const (
	slabFloats = 6
	slabLongs  = 2
	slabStrs   = 2
	slabVecs   = 2
	slabLists  = 2
)

// boxSlab holds decoded payload values, each in a slot of its kind.
type boxSlab struct {
	floats [slabFloats]float64
	longs  [slabLongs]int64
	strs   [slabStrs]string
	vecs   [slabVecs][]float64
	lists  [slabLists][]string
}

// boxer fills one slab after another; it lives on its decoder's stack.
// The counts say how many slots of each kind the current slab has used.
type boxer struct {
	slab                   *boxSlab
	nf, nl, ns, nv, nlists int
}

// refill starts a new slab: called when the current one (or none) has no
// slot left of the kind wanted.
func (b *boxer) refill() {
	*b = boxer{slab: new(boxSlab)}
}

func (b *boxer) double(f float64) any {
	if b.slab == nil || b.nf == slabFloats {
		b.refill()
	}
	p := &b.slab.floats[b.nf]
	*p = f
	b.nf++
	return boxAt(protoFloat, unsafe.Pointer(p))
}

func (b *boxer) long(v int64) any {
	if b.slab == nil || b.nl == slabLongs {
		b.refill()
	}
	p := &b.slab.longs[b.nl]
	*p = v
	b.nl++
	return boxAt(protoLong, unsafe.Pointer(p))
}

func (b *boxer) string(s string) any {
	if b.slab == nil || b.ns == slabStrs {
		b.refill()
	}
	p := &b.slab.strs[b.ns]
	*p = s
	b.ns++
	return boxAt(protoString, unsafe.Pointer(p))
}

func (b *boxer) doubles(v []float64) any {
	if b.slab == nil || b.nv == slabVecs {
		b.refill()
	}
	p := &b.slab.vecs[b.nv]
	*p = v
	b.nv++
	return boxAt(protoDoubles, unsafe.Pointer(p))
}

func (b *boxer) strings(v []string) any {
	if b.slab == nil || b.nlists == slabLists {
		b.refill()
	}
	p := &b.slab.lists[b.nlists]
	*p = v
	b.nlists++
	return boxAt(protoStrings, unsafe.Pointer(p))
}

// Prototypes of the boxed kinds: an interface of each dynamic type, whose
// type word boxAt keeps. Their zero values box without allocating.
var (
	protoFloat   any = float64(0)
	protoLong    any = int64(0)
	protoString  any = ""
	protoDoubles any = []float64(nil)
	protoStrings any = []string(nil)
)

// eface is the layout of an interface{} value, as the runtime and
// package reflect (its emptyInterface) define it: a type word and a
// pointer to the value.
type eface struct {
	typ  unsafe.Pointer
	data unsafe.Pointer
}

// boxAt returns an interface of proto's dynamic type whose value is the
// one at p, which must be of that type and never change afterwards (an
// interface's value is immutable). This is what reflect.Value.Interface
// does for an element of a non-addressable array, without reflect's
// checks and copies: the types are fixed here, one per slab slot kind.
func boxAt(proto any, p unsafe.Pointer) any {
	(*eface)(unsafe.Pointer(&proto)).data = p
	return proto
}
