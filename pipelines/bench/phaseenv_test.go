package bench

import (
	"fmt"
	"strings"
	"testing"

	"github.com/matriz/pipelines/clock"
	"github.com/matriz/pipelines/pipelines/devstack"
	"github.com/matriz/pipelines/pipelines/spec"
	"github.com/matriz/pipelines/schemas"
)

// twoPartitionProd starts the embedded broker and registry with the prod
// lane deployed on two partitions and returns a phase environment on them
// and what the phase says.
func twoPartitionProd(t *testing.T) (PhaseEnv, *strings.Builder) {
	t.Helper()
	lane := schemas.LaneProd
	sp, err := spec.Default()
	if err != nil {
		t.Fatal(err)
	}
	sp.Lanes[lane].Partitions = 2
	stack, err := devstack.StartDeployed(t.Context(), devstack.Config{Partitions: 2}, sp.Partitions(), lane)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stack.Close() })
	out := &strings.Builder{}
	env := PhaseEnv{Lane: lane, Brokers: stack.BrokerAddrs(), RegistryURL: stack.RegistryURL, Serde: stack.Serde, Spec: sp, Partitions: 2,
		Clock: clock.Real{}, Say: func(f string, a ...any) { fmt.Fprintf(out, f+"\n", a...) }}
	return env, out
}
