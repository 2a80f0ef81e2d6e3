//go:build !windows

package cli

import (
	"bytes"
	"fmt"
	"image"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/modelhub-ai/modelhub/internal/testutil"
)

// SIGINT or SIGTERM at varied moments in the first few hundred milliseconds
// of `run` (while it inspects, creates and starts the container): whatever
// the interleaving, no modelhub-NAME container is left, not even a Created one.
func Test_run_earlySignal(t *testing.T) {
	t.Parallel() // Docker-bound: runs beside the scripts
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

// The same for `run -d`, up to and past the moment it is ready: a signal
// before it finished (exit 130) leaves no container; one that came after it
// had finished (exit 0) leaves the model running, as asked.
func Test_runDetach_earlySignal(t *testing.T) {
	t.Parallel() // Docker-bound: runs beside the scripts
	c := testutil.Docker(t)
	model, env := e2eModel(t, testutil.DemoImage(t, c))
	cleanupModel(t, model)
	for i := 0; i < 12; i++ {
		delay := time.Duration(i*i*10) * time.Millisecond // 0 .. 1.2 s
		cmd := exec.Command("modelhub", "run", "-d", model)
		cmd.Env = env
		stderr := &safeBuffer{}
		cmd.Stderr = stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(delay)
		// modelhub installs its handler before it writes anything: once it
		// has written, a signal must be handled, however loaded the machine
		handled := stderr.String() != ""
		cmd.Process.Signal(syscall.SIGINT)
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case <-done:
		case <-time.After(60 * time.Second):
			cmd.Process.Kill()
			t.Fatalf("SIGINT after %s: modelhub did not end", delay)
		}
		n := modelContainers(t, model)
		switch code := cmd.ProcessState.ExitCode(); code {
		case 0:
			if n != 1 {
				t.Errorf("SIGINT after %s: run -d succeeded, %d container(s)", delay, n)
			}
			stop := exec.Command("modelhub", "stop", model)
			stop.Env = env
			if out, err := stop.CombinedOutput(); err != nil {
				t.Fatalf("stop: %v\n%s", err, out)
			}
		case 130, -1:
			// -1: killed before the handler was installed (the race-built
			// test binary can take a second to start on a loaded machine);
			// modelhub installs it before writing anything, so once it has
			// written, the signal must be handled
			if code == -1 && handled {
				t.Errorf("SIGINT after %s (after modelhub wrote %q): modelhub was killed by the signal instead of handling it", delay, stderr.String())
			}
			if n != 0 {
				t.Fatalf("SIGINT after %s: exit %d and %d container(s) of %s left", delay, code, n, model)
			}
		default:
			t.Errorf("SIGINT after %s: exit code %d", delay, code)
		}
	}
}

// SIGINT at varied moments of `predict --replicas 2` (while it starts the
// first replica, the second, or feeds them): whatever the moment, no
// container of the model is left and the exit code is 130 (0 when the batch
// had finished).
func Test_predictReplicas_earlySignal(t *testing.T) {
	t.Parallel()
	c := testutil.Docker(t)
	model, env := e2eModelBehaving(t, testutil.DemoImage(t, c), `{"predict_delay": "200ms"}`)
	cleanupModel(t, model)
	in := t.TempDir()
	for i := range 4 {
		img := image.NewGray(image.Rect(0, 0, 4, 4))
		for j := range img.Pix {
			img.Pix[j] = uint8(i * 60)
		}
		var buf bytes.Buffer
		if err := png.Encode(&buf, img); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(in, fmt.Sprintf("%d.png", i)), buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < 6; i++ {
		delay := time.Duration(i*i*60) * time.Millisecond // 0 .. 1.5 s
		cmd := exec.Command("modelhub", "predict", model, in, "--replicas", "2")
		cmd.Env = env
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(delay)
		cmd.Process.Signal(syscall.SIGINT)
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case <-done:
		case <-time.After(60 * time.Second):
			cmd.Process.Kill()
			t.Fatalf("SIGINT after %s: modelhub did not end", delay)
		}
		if code := cmd.ProcessState.ExitCode(); code != 130 && code != 0 && code != -1 {
			t.Errorf("SIGINT after %s: exit code %d, want 130", delay, code)
		}
		if n := modelContainers(t, model); n != 0 {
			t.Fatalf("SIGINT after %s: %d container(s) of %s left", delay, n, model)
		}
	}
}
