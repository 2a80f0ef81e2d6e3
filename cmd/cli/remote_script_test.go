package cli

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/modelhub-ai/modelhub/internal/testutil"
)

// The remote-engine scripts put an sshd on 127.0.0.1 in front of the local
// daemon: `[!sshd] skip` then `sshd-setup`, which points DOCKER_HOST at it
// (ssh://root@127.0.0.1:PORT) and puts an ssh that knows the test's key first
// on PATH. A missing sshd fails instead of skipping when
// MODELHUB_REQUIRE_SSHD is set (.ci/run sets it).

func init() {
	scriptConds["sshd"] = func() (bool, error) {
		why := testutil.SSHDUnavailable()
		if why != "" && os.Getenv(testutil.EnvRequireSSHD) != "" {
			return false, fmt.Errorf("%s, and %s is set", why, testutil.EnvRequireSSHD)
		}
		if why != "" {
			fmt.Fprintln(os.Stderr, "SKIP (the remote-engine scripts did not run): "+why)
		}
		return why == "", nil
	}
	scriptCmds["sshd-setup"] = cmdSSHDSetup
	scriptCmds["volumes"] = cmdVolumes
}

// sshd-setup: see above. The model's volumes are removed when the script ends.
func cmdSSHDSetup(ts *testscript.TestScript, neg bool, args []string) {
	s, stop, err := testutil.RunSSHD(ts.MkAbs("sshd"))
	ts.Check(err)
	ts.Defer(stop)
	ts.Setenv("DOCKER_HOST", s.URL)
	ts.Setenv("PATH", s.Bin+string(os.PathListSeparator)+ts.Getenv("PATH"))
	c := mustDocker(ts)
	model := ts.Getenv("MODEL")
	ts.Defer(func() {
		removeModelContainers(c, model)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		names, _ := c.ModelVolumes(ctx, model)
		for _, n := range names {
			_ = c.RemoveVolume(ctx, n)
		}
	})
}

// volumes: the names of $MODEL's volumes on the engine, or none.
func cmdVolumes(ts *testscript.TestScript, neg bool, args []string) {
	c := mustDocker(ts)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	names, err := c.ModelVolumes(ctx, ts.Getenv("MODEL"))
	ts.Check(err)
	if len(names) == 0 {
		names = []string{"none"}
	}
	fmt.Fprintln(ts.Stdout(), strings.Join(names, "\n"))
}
