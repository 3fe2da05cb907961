package stages

// configure applies a stage's functional options to cfg, which holds the
// defaults, and validates the result once. Options only record values, so
// every range and cross-field rule lives in the config's validate: a
// FoldBudget is checked against the max fanout whichever option came
// first.
func configure[C any, O ~func(*C)](cfg *C, opts []O, validate func(*C) error) error {
	for _, o := range opts {
		o(cfg)
	}
	return validate(cfg)
}
