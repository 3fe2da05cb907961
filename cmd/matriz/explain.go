package main

import (
	"context"

	"github.com/matriz/pipelines/pipelines/inspect"
)

func runExplain(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "explain", "MSG_ID --lane L [--json] [--brokers HOST:PORT,…] [--registry URL]",
		"Tells the story of one message from the lane's log: the input on matriz.<lane>.messages, the\n"+
			"node's result with every crumb of its trace (route, learn, adapter, drift with drift_ema\n"+
			"and coherence, fold-guard, breakthrough, guardian, goals), the guardian's decision with\n"+
			"every reason, its inputs and the policy values in force, the events, actions and their\n"+
			"statuses, and any DLQ record; each fact with the topic/partition/offset it was read from.\n"+
			"Every topic is read to its end as of the start. --json prints the story as one JSON object.")
	lane := fs.lane(e, " the message went through")
	conn := fs.connection()
	asJSON := fs.Bool("json", false, "print the story as one JSON object")
	pos, err := fs.args(args, "MSG_ID")
	if err != nil {
		return err
	}
	l, err := lane.resolve()
	if err != nil {
		return err
	}
	st, err := inspect.Explain(ctx, inspect.ExplainConfig{Brokers: conn.Brokers(), RegistryURL: conn.Registry(), Lane: l, MsgID: pos[0]})
	if err != nil {
		return err
	}
	if *asJSON {
		return st.WriteJSON(e.stdout)
	}
	return st.WriteText(e.stdout)
}
