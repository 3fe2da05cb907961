// Package promote decides whether a lane's spec may move to the next lane
// (`matriz promote --from candidate --to prod`), from what the lanes wrote
// to Kafka and what the last CI run measured. Every gate of the plan is
// computed and shown — gate, threshold, measured, pass or fail — and none
// can be turned off: the thresholds are the plan's, and the only inputs a
// person chooses are the window (--since), the allow-list of expected
// decision changes, and where the CI report is.
//
// The gates:
//   - ticks: at least MinTicks frames ticked in the window, reconstructed
//     from the frame numbers on the lane's results with the tick's own idle
//     rule, and the lane's drift EMA over them at most MaxDriftEMA;
//   - interlocks: no action executed without the approval its preview
//     required, and no guardian decision that let a message through
//     without consent;
//   - tick p95: no frame in the window ran below the lane's starting rate.
//     The tick steps its rate down only when a full window's p95 frame time
//     is over the lane's budget, so a slower frame on the log is a p95 over
//     budget;
//   - capability regression: the window's log replayed under the target
//     lane's stage parameters (the source lane's own dry-run, tick and
//     ring, which are lane modes, not capabilities) into a namespace of
//     its own, and diffed against what the lane decided: every guardian
//     outcome that changes must be named by the allow-list;
//   - CI budgets: the last CI run's coverage and bench-ratio figures, each
//     at or above its floor.
//
// A pass writes a promotion event (who, which spec, every gate's figure)
// to the target lane's events topic.
package promote
