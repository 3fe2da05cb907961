package topics

import (
	"errors"
	"os"
)

// retriedTimeout reports whether a kafka-go reader's logged error is a
// read deadline passing on a fetch: the broker held a long poll past the
// reader's deadline (a busy or stopping broker does), and the reader
// simply fetches again. Printed, each one is noise an operator cannot act
// on; a partition that really stalls shows as lag, and an unreachable
// broker as a dial error, both still reported.
func retriedTimeout(args []any) bool {
	for _, a := range args {
		if err, ok := a.(error); ok && errors.Is(err, os.ErrDeadlineExceeded) {
			return true
		}
	}
	return false
}
