package testutil

import (
	"fmt"
	"os"
	"testing"
)

// SkipUnlessRequired skips t loudly (also on stderr, so that a skipped
// suite shows in `go test` without -v) saying why the kind of test did not
// run, or fails it when the environment variable env is set (.ci/run sets
// it after installing the tool).
func SkipUnlessRequired(t testing.TB, kind, why, env string) {
	t.Helper()
	msg := "SKIP (this " + kind + " test did not run): " + why
	if os.Getenv(env) != "" {
		t.Fatal(msg + " — and " + env + " is set")
	}
	fmt.Fprintln(os.Stderr, msg)
	t.Skip(msg)
}
