package cli

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// testFactory is a Factory over in-memory streams (a terminal of width columns when
// tty), with --index a file holding index and --home and MODELHUB_CACHE in a temp dir.
func testFactory(t *testing.T, index string, tty bool, width int) (*Factory, *bytes.Buffer, *bytes.Buffer) {
	t.Helper()
	dir := t.TempDir()
	p := filepath.Join(dir, "models.json")
	if err := os.WriteFile(p, []byte(index), 0o644); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	ios := &IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut, OutTTY: tty, ErrTTY: tty, TermWidth: width}
	f := NewFactory(ios, make(chan struct{}), make(chan struct{}))
	f.Opts.Index = p
	f.Opts.Home = filepath.Join(dir, "home")
	t.Setenv("MODELHUB_CACHE", filepath.Join(dir, "cache"))
	return f, &out, &errOut
}

// execFlags builds the command newCmd on a testFactory with a runF that only keeps
// its options, executes it on args (split at spaces) and returns those options
// (nil when runF was not reached) and the error of Execute.
func execFlags[O any](t *testing.T, newCmd func(*Factory, func(context.Context, *O) error) *cobra.Command, args string) (*O, error) {
	t.Helper()
	f, _, _ := testFactory(t, "[]", false, 0)
	var got *O
	cmd := newCmd(f, func(_ context.Context, o *O) error { got = o; return nil })
	cmd.SetArgs(strings.Fields(args))
	cmd.SetOut(io.Discard)
	cmd.SetErr(io.Discard)
	err := cmd.Execute()
	return got, err
}

// flagCase runs execFlags for one row of a flag-parsing table. With wantErr set it
// reports (t.Errorf) an error that is missing or does not contain wantErr — and, when
// usage is set, one that is not a *UsageError — and returns nil: the row is done.
// Otherwise any error is fatal and the options runF received are returned.
func flagCase[O any](t *testing.T, newCmd func(*Factory, func(context.Context, *O) error) *cobra.Command, args, wantErr string, usage bool) *O {
	t.Helper()
	got, err := execFlags(t, newCmd, args)
	if wantErr != "" {
		var ue *UsageError
		if err == nil || !strings.Contains(err.Error(), wantErr) || (usage && !errors.As(err, &ue)) {
			t.Errorf("%q: error %v, want %q", args, err, wantErr)
		}
		return nil
	}
	if err != nil {
		t.Fatalf("%q: %v", args, err)
	}
	if got == nil {
		t.Fatalf("%q: the command did not reach its run function", args)
	}
	return got
}
