package schemas

import (
	"fmt"
	"reflect"
	"testing"
)

// TestBoxerKeepsEveryValue boxes more values of each kind than several
// slabs hold, interleaved, and checks every interface still holds the
// value and the Go type it was boxed with: a slot written twice, or a
// value boxed with another kind's type, shows here.
func TestBoxerKeepsEveryValue(t *testing.T) {
	var box boxer
	var got, want []any
	for i := range 3 * slabFloats {
		f, l, s := float64(i)+0.5, int64(-i), fmt.Sprint("s", i)
		vec, list := []float64{float64(i), 1}, []string{s, "x"}
		got = append(got, box.double(f), box.long(l), box.string(s), box.doubles(vec), box.strings(list))
		want = append(want, f, l, s, vec, list)
	}
	for i := range want {
		if reflect.TypeOf(got[i]) != reflect.TypeOf(want[i]) || !reflect.DeepEqual(got[i], want[i]) {
			t.Fatalf("value %d: boxed %#v (%T), want %#v (%T)", i, got[i], got[i], want[i], want[i])
		}
	}
	// An interface made by boxAt compares and switches like a converted one.
	if got[0] != any(0.5) || got[1] != any(int64(0)) || got[2] != any("s0") {
		t.Fatalf("boxed scalars compare unequal to converted ones: %v %v %v", got[0], got[1], got[2])
	}
}
