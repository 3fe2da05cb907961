package schemas

import (
	"bytes"
	"math/rand/v2"
	"testing"
	"time"
)

// TestCrumbMemoSameBytes: results and traces written through one memo —
// traces repeating their result's crumbs, other results sharing none, a
// crumb whose stage or time differs for the same payload, and a result
// that fails to encode after writing some crumbs — give exactly the
// bytes AppendWire gives for each, and the memo copied crumbs instead of
// encoding them.
func TestCrumbMemoSameBytes(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 15))
	memo := &CrumbMemo{}
	hits := 0
	for i := range 300 {
		if i%50 == 0 {
			memo.Reset()
		}
		r := genRecord(rng, NameResult).(*MatrizResult)
		tr := genRecord(rng, NameTrace).(*Trace)
		tr.Crumbs = append([]Crumb(nil), r.Trace...)
		if len(tr.Crumbs) > 0 && i%3 == 0 {
			tr.Crumbs = tr.Crumbs[1:]
		}
		if len(tr.Crumbs) > 1 && i%7 == 0 {
			tr.Crumbs[1].T = tr.Crumbs[1].T.Add(time.Microsecond) // the same payload, another time
		}
		if len(tr.Crumbs) > 0 && i%11 == 0 {
			tr.Crumbs[0].Stage += "x"
		}
		if i%13 == 0 && len(r.Trace) > 0 {
			// Fails after its crumbs are written: what the memo took from
			// it must not be copied later, as its bytes are overwritten.
			bad := *r
			bad.Reasons = nil
			bad.Trace = append(append([]Crumb(nil), r.Trace...), Crumb{Stage: "bad", Data: Payload{"x": int32(1)}})
			n := len(memo.seen)
			if _, err := AppendWireMemo(make([]byte, 0, 64), 9, &bad, memo); err == nil {
				t.Fatalf("case %d: a payload holding an int32 encoded", i)
			}
			if len(memo.seen) != n {
				t.Fatalf("case %d: a failed encode left %d crumbs in the memo", i, len(memo.seen)-n)
			}
		}
		buf := make([]byte, 0, 16) // small, so encodes move it
		for _, v := range []any{r, tr} {
			var want, got []byte
			var err1, err2 error
			start := len(buf)
			before := len(memo.seen)
			switch x := v.(type) {
			case *MatrizResult:
				want, err1 = AppendWire(nil, 3, x)
				buf, err2 = AppendWireMemo(buf, 3, x, memo)
			case *Trace:
				want, err1 = AppendWire(nil, 4, x)
				buf, err2 = AppendWireMemo(buf, 4, x, memo)
				crumbs := 0
				for _, c := range x.Crumbs {
					if len(c.Data) > 0 {
						crumbs++
					}
				}
				hits += crumbs - (len(memo.seen) - before)
			}
			got = buf[start:]
			if err1 != nil || err2 != nil {
				t.Fatalf("case %d: %T: %v / %v", i, v, err1, err2)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("case %d: %T through the memo:\n got %x\nwant %x", i, v, got, want)
			}
		}
	}
	if hits == 0 {
		t.Fatal("no crumb was copied from the memo")
	}
}

// memoPair is a result and the trace that repeats its crumbs after the
// first, as the prod lane's guardian writes them.
func memoPair() (*MatrizResult, *Trace) {
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	crumbs := make([]Crumb, 8)
	for i := range crumbs {
		crumbs[i] = Crumb{Stage: "stage-" + string(rune('a'+i)), T: t0, Data: Payload{
			"topic": "memory", "ok": true, "score": 0.25 * float64(i), "samples": int64(i), "node": "memory-node", "lane": "prod"}}
	}
	r := &MatrizResult{ID: "r", MsgID: "m", TS: t0, Lane: LaneProd, Node: "memory", NodeVersion: "1", OK: true, Payload: Payload{"a": 1.0}, Trace: crumbs}
	tr := &Trace{ID: "t", TS: t0, MsgID: "m", Lane: LaneProd, Stage: "guardian", Decision: "allow", Crumbs: crumbs[1:], RiskClass: RiskMinimal}
	return r, tr
}

// BenchmarkCrumbMemo: a result and its trace, encoded with and without a
// memo.
func BenchmarkCrumbMemo(b *testing.B) {
	r, tr := memoPair()
	for _, memo := range []bool{false, true} {
		name := "plain"
		if memo {
			name = "memo"
		}
		b.Run(name, func(b *testing.B) {
			var m *CrumbMemo
			if memo {
				m = &CrumbMemo{}
			}
			buf := make([]byte, 0, 1<<16)
			b.ReportAllocs()
			for b.Loop() {
				buf, _ = AppendWireMemo(buf[:0], 1, r, m)
				buf, _ = AppendWireMemo(buf, 2, tr, m)
				m.Reset()
			}
		})
	}
}
