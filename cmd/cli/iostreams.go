package cli

import (
	"io"
	"os"

	"golang.org/x/term"

	"github.com/modelhub-ai/modelhub/internal/termsafe"
)

// IOStreams are the command's standard streams and what they are attached to.
type IOStreams struct {
	In     io.Reader
	Out    io.Writer
	ErrOut io.Writer

	InTTY, OutTTY, ErrTTY bool
	// Quiet silences progress and notes (errors still print).
	Quiet bool
	// Color is false when NO_COLOR is set or stderr is not a terminal.
	Color bool
	// TermWidth is the terminal's width in columns (0 when not a terminal).
	TermWidth int
}

// SystemIO returns the process's streams.
func SystemIO() *IOStreams {
	io := &IOStreams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr}
	io.InTTY = isTerminal(os.Stdin)
	io.OutTTY = isTerminal(os.Stdout)
	io.ErrTTY = isTerminal(os.Stderr)
	_, noColor := os.LookupEnv("NO_COLOR")
	io.Color = io.ErrTTY && !noColor && os.Getenv("TERM") != "dumb"
	if io.OutTTY {
		if w, _, err := term.GetSize(int(os.Stdout.Fd())); err == nil {
			io.TermWidth = w
		}
	}
	return io
}

func isTerminal(f *os.File) bool { return term.IsTerminal(int(f.Fd())) }

// termStream is w for a stream of text from outside (a container's log):
// on a terminal (tty) every control character is shown escaped
// (termsafe.Writer), so the engine cannot send the terminal a sequence;
// piped or redirected it stays exact. flush writes what is held at the end.
func termStream(w io.Writer, tty bool) (out io.Writer, flush func()) {
	if !tty {
		return w, func() {}
	}
	sw := termsafe.NewWriter(w)
	return sw, func() { _ = sw.Flush() }
}

// Progress reports whether progress bars may be drawn: stderr is a terminal and not --quiet.
func (s *IOStreams) Progress() bool { return s.ErrTTY && !s.Quiet }

// Notef prints a note for people on stderr unless --quiet.
func (s *IOStreams) Notef(format string, args ...any) {
	if s.Quiet {
		return
	}
	fprintf(s.ErrOut, format+"\n", args...)
}

// Warnf prints a warning on stderr, even with --quiet.
func (s *IOStreams) Warnf(format string, args ...any) {
	fprintf(s.ErrOut, "warning: "+format+"\n", args...)
}
