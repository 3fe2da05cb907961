package promote

import (
	"bufio"
	"bytes"
	"fmt"
	"slices"
	"strings"

	"github.com/matriz/pipelines/stages"
)

// AllowList names the guardian outcome changes a promotion expects: the
// ones the new spec is meant to make (a lower max_risk turns some allow
// into deny). One rule per line, `FROM -> TO`, each an outcome or * for
// any; # starts a comment. Blank lines are ignored.
//
//	# max_drift 0.35 -> 0.25: messages in the band are now refused
//	allow -> deny
type AllowList []AllowRule

// AllowRule is one expected change.
type AllowRule struct{ From, To string }

func (r AllowRule) String() string { return r.From + " -> " + r.To }

// Allows reports whether a change from → to is expected.
func (l AllowList) Allows(from, to string) bool {
	return slices.ContainsFunc(l, func(r AllowRule) bool {
		return (r.From == "*" || r.From == from) && (r.To == "*" || r.To == to)
	})
}

// AllowListError is a line of an allow-list that is not a rule.
type AllowListError struct {
	File   string
	Line   int
	Reason string
}

func (e *AllowListError) Error() string {
	return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Reason)
}

// outcomeNames are the guardian outcomes a rule may name ("" is a result
// without a guardian crumb: the chain stopped before the guardian).
var outcomeNames = []string{
	string(stages.OutcomeAllow), string(stages.OutcomeDeny), string(stages.OutcomeDryRun), string(stages.OutcomePending),
	string(stages.OutcomeExecuted), string(stages.OutcomeUncertain), "none",
}

// ParseAllowList reads an allow-list file's content.
func ParseAllowList(file string, data []byte) (AllowList, error) {
	var l AllowList
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line, _, _ := strings.Cut(sc.Text(), "#")
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		from, to, ok := strings.Cut(line, "->")
		from, to = strings.TrimSpace(from), strings.TrimSpace(to)
		if !ok || from == "" || to == "" {
			return nil, &AllowListError{file, n, fmt.Sprintf("%q is not a rule; write FROM -> TO, e.g. allow -> deny", line)}
		}
		for _, o := range []string{from, to} {
			if o != "*" && !slices.Contains(outcomeNames, o) {
				return nil, &AllowListError{file, n, fmt.Sprintf("%q is not a guardian outcome; want one of %s or *", o, strings.Join(outcomeNames, ", "))}
			}
		}
		l = append(l, AllowRule{From: from, To: to})
	}
	return l, sc.Err()
}
