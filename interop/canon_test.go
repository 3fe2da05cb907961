package interop

import (
	"encoding/hex"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"
)

// canon renders a decoded Avro value as one comparable string tree, from
// either side: Python's typed JSON (see testdata/typed.py) or a Go value
// decoded generically by twmb/avro. Longs, doubles (by their bits, so -0
// differs from 0), timestamps and bytes carry a type prefix, so a long 1
// never equals a double 1.
func canon(v any) (string, error) {
	var b strings.Builder
	err := canonTo(&b, v)
	return b.String(), err
}

func canonTo(b *strings.Builder, v any) error {
	switch x := v.(type) {
	case nil:
		b.WriteString("null")
	case bool:
		fmt.Fprintf(b, "%t", x)
	case string:
		b.WriteString(strconv.Quote(x))
	case int32:
		fmt.Fprintf(b, "L%d", x)
	case int64:
		fmt.Fprintf(b, "L%d", x)
	case float64:
		b.WriteString(canonDouble(x))
	case time.Time:
		fmt.Fprintf(b, "T%d", x.UnixMicro())
	case []byte:
		b.WriteString("B" + hex.EncodeToString(x))
	case []any:
		b.WriteString("[")
		for i, e := range x {
			if i > 0 {
				b.WriteString(",")
			}
			if err := canonTo(b, e); err != nil {
				return err
			}
		}
		b.WriteString("]")
	case map[string]any:
		if len(x) == 1 {
			for k, e := range x {
				s, isString := e.(string)
				switch {
				case k == "$long" && isString:
					b.WriteString("L" + s)
					return nil
				case k == "$double" && isString:
					f, err := strconv.ParseFloat(s, 64)
					if err != nil {
						return err
					}
					b.WriteString(canonDouble(f))
					return nil
				case k == "$ts" && isString:
					b.WriteString("T" + s)
					return nil
				case k == "$bytes" && isString:
					b.WriteString("B" + s)
					return nil
				}
			}
		}
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		b.WriteString("{")
		for i, k := range keys {
			if i > 0 {
				b.WriteString(",")
			}
			b.WriteString(strconv.Quote(k) + ":")
			if err := canonTo(b, x[k]); err != nil {
				return err
			}
		}
		b.WriteString("}")
	default:
		return fmt.Errorf("canon: unexpected %T", v)
	}
	return nil
}

func canonDouble(f float64) string {
	if math.IsNaN(f) {
		return "DNaN"
	}
	return fmt.Sprintf("D%016x", math.Float64bits(f))
}
