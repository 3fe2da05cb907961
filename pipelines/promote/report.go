package promote

import (
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"
)

// WriteText prints the gates as a table, then the verdict.
func (r *Report) WriteText(w io.Writer) error {
	fmt.Fprintf(w, "promote %s -> %s, spec %s", r.From, r.To, r.SpecVersion)
	if !r.Since.IsZero() {
		fmt.Fprintf(w, ", window since %s", r.Since.UTC().Format("2006-01-02T15:04:05Z"))
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "GATE\tTHRESHOLD\tMEASURED\tRESULT")
	for _, g := range r.Gates {
		res := "pass"
		if !g.Pass {
			res = "FAIL"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", g.Name, g.Threshold, g.Measured, res)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if r.Passed() {
		_, err := fmt.Fprintf(w, "every gate passed; promotion event %s written to matriz.%s.events\n", r.Event, r.To)
		return err
	}
	_, err := fmt.Fprintf(w, "refused: %d of %d gates not met: %v\n", len(r.Failed()), len(r.Gates), r.Failed())
	return err
}

// WriteJSON prints the report as one JSON object.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(struct {
		*Report
		Passed bool `json:"passed"`
	}{r, r.Passed()})
}
