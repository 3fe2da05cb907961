package operators

import "fmt"

// OptionError is an option value an operator's constructor refused: which
// operator, which option, the value, and what it accepts. It wraps the
// operator's sentinel (ErrTick, ErrDecimate), and the spec maps Option
// back to the field of the YAML that set it.
type OptionError struct {
	Operator string
	Option   string
	Value    any
	Want     string
	Err      error
}

func (e *OptionError) Error() string {
	return fmt.Sprintf("%s: option %s = %v: want %s", e.Operator, e.Option, e.Value, e.Want)
}

// Unwrap returns the operator's sentinel error.
func (e *OptionError) Unwrap() error { return e.Err }
