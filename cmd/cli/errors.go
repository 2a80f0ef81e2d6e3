package cli

import (
	"errors"
	"fmt"
)

// Exit codes.
const (
	ExitOK          = 0
	ExitFailure     = 1
	ExitUsage       = 2
	ExitInterrupted = 130
)

// ErrInterrupted is the cause of a context cancelled by Ctrl-C or SIGTERM.
var ErrInterrupted = errors.New("interrupted")

// errStoppedByUser ends a command whose normal end is Ctrl-C (a foreground
// run, ui): exit 130 like any interruption, but without the "modelhub:
// interrupted" line, which reads like an error after the command has said
// calmly what it stopped.
var errStoppedByUser = &ExitError{Code: ExitInterrupted, Silent: true}

// UsageError is a mistake in the command line: exit 2 and a pointer to --help.
type UsageError struct{ Err error }

func (e *UsageError) Error() string { return e.Err.Error() }
func (e *UsageError) Unwrap() error { return e.Err }

func usageErrorf(format string, args ...any) error {
	return &UsageError{Err: fmt.Errorf(format, args...)}
}

// ExitError ends the program with Code. Its message, if any, was already printed
// (Silent) or is printed like any error.
type ExitError struct {
	Code   int
	Err    error
	Silent bool
}

func (e *ExitError) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("exit status %d", e.Code)
	}
	return e.Err.Error()
}
func (e *ExitError) Unwrap() error { return e.Err }
