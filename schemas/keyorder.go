package schemas

// This file orders the keys of a small map for the direct encoders, which
// write map entries sorted by key (append.go). A map is iterated once
// into arrays on the encoder's stack and sorted there by index: moving a
// one-byte index costs less than moving an entry, and most comparisons
// are of the keys' first eight bytes as one number rather than a call to
// compare strings (payload keys share prefixes such as "frame_" and
// "glyph_", but rarely eight bytes).

// entriesOnStack is how many map entries are sorted in arrays on the
// stack; larger maps sort in a heap slice.
const entriesOnStack = 16

// keyOrder is the order of up to entriesOnStack keys: idx[:n] lists
// their positions in key order once sort has run.
type keyOrder struct {
	prefix [entriesOnStack]uint64 // keyPrefix of each key, by position
	idx    [entriesOnStack]uint8
}

// sort orders the positions of keys[:n] by key, with prefix[:n] already
// filled. Keys of a map are distinct, so the order is total; an insertion
// sort suits the few keys a payload has.
func (o *keyOrder) sort(keys *[entriesOnStack]string, n int) {
	for i := range n {
		o.idx[i] = uint8(i)
	}
	for i := 1; i < n; i++ {
		x := o.idx[i]
		px, kx := o.prefix[x], keys[x]
		j := i
		for ; j > 0; j-- {
			y := o.idx[j-1]
			if py := o.prefix[y]; px > py || px == py && kx > keys[y] {
				break
			}
			o.idx[j] = y
		}
		o.idx[j] = x
	}
}

// keyPrefix returns s's first 8 bytes, big-endian, zero-padded. Prefixes
// that differ order as their strings do (a string that is a prefix of
// another pads with zeros, below any byte it lacks), so only keys with
// equal prefixes need comparing as strings.
func keyPrefix(s string) uint64 {
	if len(s) >= 8 {
		_ = s[7]
		return uint64(s[0])<<56 | uint64(s[1])<<48 | uint64(s[2])<<40 | uint64(s[3])<<32 |
			uint64(s[4])<<24 | uint64(s[5])<<16 | uint64(s[6])<<8 | uint64(s[7])
	}
	var u uint64
	for i := range len(s) {
		u |= uint64(s[i]) << (56 - 8*i)
	}
	return u
}
