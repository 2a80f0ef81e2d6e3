//go:build !windows

package cli

import (
	"fmt"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/modelhub-ai/modelhub/internal/testutil"
)

// SIGINT or SIGTERM at varied moments in the first few hundred milliseconds
// of `run` (while it inspects, creates and starts the container): whatever
// the interleaving, no modelhub-NAME container is left, not even a Created one.
func Test_run_earlySignal(t *testing.T) {
	c := testutil.Docker(t)
	model, env := e2eModel(t, testutil.DemoImage(t, c))
	cleanupModel(t, model)
	port := testutil.FreePort(t)
	sigs := []syscall.Signal{syscall.SIGINT, syscall.SIGTERM}
	for i := 0; i < 24; i++ {
		delay := time.Duration(i*15) * time.Millisecond
		sig := sigs[i%2]
		cmd := exec.Command("modelhub", "run", "--api-port", fmt.Sprint(port), model)
		cmd.Env = env
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(delay)
		cmd.Process.Signal(sig)
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case <-done:
		case <-time.After(60 * time.Second):
			cmd.Process.Kill()
			t.Fatalf("%s after %s: modelhub did not end", sig, delay)
		}
		if code := cmd.ProcessState.ExitCode(); code != 130 && code != -1 { // -1: killed before the handler was installed
			t.Errorf("%s after %s: exit code %d, want 130", sig, delay, code)
		}
		if n := modelContainers(t, model); n != 0 {
			t.Fatalf("%s after %s: %d container(s) of %s left", sig, delay, n, model)
		}
	}
}
