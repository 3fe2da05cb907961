package spec

// This file turns a lane's tick and decimate sections into the operators'
// options: the runtime starts its ticks and rings with them, and Parse
// checks them with the same calls, so the spec refuses what the runtime
// would.

import (
	"time"

	"github.com/matriz/pipelines/pipelines/operators"
	"github.com/matriz/pipelines/schemas"
)

// TickOptions are the options of lane's tick.
func (l *Lane) TickOptions(lane schemas.Lane) []operators.TickOption {
	return []operators.TickOption{
		operators.TickFPS(l.Tick.FPS),
		operators.TickGrace(time.Duration(l.Tick.GraceMS) * time.Millisecond),
		operators.TickBudget(lane, time.Duration(l.Tick.BudgetMS)*time.Millisecond),
	}
}

// DecimateOptions are the options of the lane's decimation ring.
func (l *Lane) DecimateOptions() []operators.DecimateOption {
	return []operators.DecimateOption{
		operators.DecimateCapacity(l.Decimate.K),
		operators.DecimateMaxRecords(l.Decimate.MaxRecords),
		operators.DecimatePolicy(operators.Policy(l.Decimate.Policy)),
	}
}
