package runtime

import (
	"testing"

	"github.com/matriz/pipelines/schemas"
)

// TestNotDeployedSaysWhatToDeploy: the error of a lane whose topics are
// missing is the command that deploys them: with the spec file when the
// topics come from it (a canary's), with the namespace for a blue/green
// side, and the missing topics listed, the first three and a count.
func TestNotDeployedSaysWhatToDeploy(t *testing.T) {
	for _, tc := range []struct {
		err  NotDeployedError
		want string
	}{
		{NotDeployedError{Lane: schemas.LaneProd, Missing: []string{"a", "b"}},
			"lane prod is not deployed: topics a, b are missing on the brokers; run `matriz deploy --lanes prod` first"},
		{NotDeployedError{Lane: schemas.LaneProd, Missing: []string{"a", "b", "c", "d", "e"}, Pipeline: true},
			"lane prod is not deployed: topics a, b, c and 2 more are missing on the brokers; run `matriz deploy --lanes prod --pipeline FILE` first"},
		{NotDeployedError{Lane: schemas.LaneCandidate, Missing: []string{"x"}, Side: "blue"},
			"lane candidate is not deployed: topics x are missing on the brokers; run `matriz deploy --lanes candidate --namespace blue` first"},
	} {
		if got := tc.err.Error(); got != tc.want {
			t.Errorf("Error() = %q\nwant %q", got, tc.want)
		}
	}
}
