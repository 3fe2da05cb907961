package stages

// The conformance tests live in package stages_test (stagetest imports
// stages), so the fixtures are exported to them here, in a test file.
var (
	FxMsg     = fxMsg
	FxFrame   = fxFrame
	FxID      = fxID
	FxRotated = fxRotated
)
