//go:build !windows

package cli

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"

	"github.com/modelhub-ai/modelhub/internal/testutil"
)

func modelContainers(t *testing.T, model string) int {
	c := testutil.Docker(t)
	cs, err := c.List(context.Background(), true)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, ct := range cs {
		if ct.Model == model {
			n++
		}
	}
	return n
}

func cleanupModel(t *testing.T, model string) {
	t.Cleanup(func() {
		c, err := sharedDocker()
		if err == nil {
			removeModelContainers(c, model)
		}
	})
}

// Ctrl-C (SIGINT) or SIGTERM while the model runs in the foreground:
// stopped, removed, exit 130.
func Test_run_sigint(t *testing.T) {
	t.Parallel() // Docker-bound: runs beside the scripts
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) {
			t.Parallel()
			testRunSignal(t, sig)
		})
	}
}

func testRunSignal(t *testing.T, sig syscall.Signal) {
	c := testutil.Docker(t)
	model, env := e2eModel(t, testutil.DemoImage(t, c))
	cleanupModel(t, model)
	port := testutil.FreePort(t)
	cmd := exec.Command("modelhub", "run", "--api-port", fmt.Sprint(port), model)
	cmd.Env = env
	var stderr bytes.Buffer
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(stdout)
	ready := false
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), "REST API: ") {
			ready = true
			break
		}
	}
	if !ready {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("no URL printed; stderr:\n%s", stderr.String())
	}
	go io.Copy(io.Discard, stdout)
	if n := modelContainers(t, model); n != 1 {
		t.Fatalf("%d containers while running, want 1", n)
	}
	cmd.Process.Signal(sig)
	err = cmd.Wait()
	if code := cmd.ProcessState.ExitCode(); code != 130 {
		t.Errorf("exit code %d (%v), want 130; stderr:\n%s", code, err, stderr.String())
	}
	if n := modelContainers(t, model); n != 0 {
		t.Errorf("%d containers left after Ctrl-C", n)
	}
	for _, want := range []string{"stopping " + model, model + " stopped and removed"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr.String())
		}
	}
	// a normal end by Ctrl-C is said once, calmly: no error line after it
	if strings.Contains(stderr.String(), "modelhub: interrupted") {
		t.Errorf("a Ctrl-C end of run reads like an error:\n%s", stderr.String())
	}
}

// A model that ignores SIGTERM: the first Ctrl-C waits for the 10 s grace,
// the second kills it at once; still exit 130 and nothing left.
func Test_run_sigint_twice(t *testing.T) {
	t.Parallel() // Docker-bound: runs beside the scripts
	c := testutil.Docker(t)
	model, env := e2eModelBehaving(t, testutil.DemoImage(t, c), `{"ignore_sigterm": true}`)
	cleanupModel(t, model)
	cmd := exec.Command("modelhub", "run", "--api-port", fmt.Sprint(testutil.FreePort(t)), model)
	cmd.Env = env
	var stderr safeBuffer
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(stdout)
	for sc.Scan() && !strings.HasPrefix(sc.Text(), "REST API: ") {
	}
	go io.Copy(io.Discard, stdout)
	waitFor(t, &stderr, regexp.MustCompile(`ignoring SIGTERM`), 10*time.Second)
	start := time.Now()
	cmd.Process.Signal(syscall.SIGINT)
	waitFor(t, &stderr, regexp.MustCompile(`press Ctrl\+C again to kill it now`), 10*time.Second)
	time.Sleep(500 * time.Millisecond)
	cmd.Process.Signal(syscall.SIGINT)
	cmd.Wait()
	// Without the kill, stopping takes the whole 10 s grace period.
	if d := time.Since(start); d > 9*time.Second {
		t.Errorf("the second Ctrl-C did not kill at once: %s", d)
	}
	if code := cmd.ProcessState.ExitCode(); code != 130 {
		t.Errorf("exit code %d, want 130; stderr:\n%s", code, stderr.String())
	}
	if n := modelContainers(t, model); n != 0 {
		t.Errorf("%d containers left", n)
	}
}

// On a terminal: the box with the URLs, and Ctrl-C typed at the terminal
// stops and removes the container.
func Test_run_tty_box(t *testing.T) {
	t.Parallel() // Docker-bound: runs beside the scripts
	c := testutil.Docker(t)
	model, env := e2eModel(t, testutil.DemoImage(t, c))
	cleanupModel(t, model)
	port := testutil.FreePort(t)
	cmd := exec.Command("modelhub", "run", "--api-port", fmt.Sprint(port), model)
	cmd.Env = env
	ptmx, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 40, Cols: 120})
	if err != nil {
		t.Fatal(err)
	}
	defer ptmx.Close()
	var out safeBuffer
	go io.Copy(&out, ptmx)
	waitFor(t, &out, regexp.MustCompile(`Press Ctrl\+C to stop`), 30*time.Second)
	for _, want := range []string{"╭", "✓ " + model + " is ready", fmt.Sprintf("REST API  http://127.0.0.1:%d/api/get_config", port), "╯"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("terminal output lacks %q:\n%s", want, out.String())
		}
	}
	io.WriteString(ptmx, "\x03") // Ctrl-C at the terminal
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("Ctrl-C did not end modelhub:\n%s", out.String())
	}
	if code := cmd.ProcessState.ExitCode(); code != 130 {
		t.Errorf("exit code %d, want 130:\n%s", code, out.String())
	}
	if n := modelContainers(t, model); n != 0 {
		t.Errorf("%d containers left after Ctrl-C", n)
	}
}

// Bash mode under a pseudo-terminal: the shell runs our commands, sees the
// terminal size, and its exit status becomes ours.
func Test_run_bash_pty(t *testing.T) {
	t.Parallel() // Docker-bound: runs beside the scripts
	c := testutil.Docker(t)
	model, env := e2eModel(t, testutil.DemoImage(t, c))
	cleanupModel(t, model)
	api, jup := testutil.FreePort(t), testutil.FreePort(t)
	cmd := exec.Command("modelhub", "run", "-b", "--api-port", fmt.Sprint(api), "--jupyter-port", fmt.Sprint(jup), model)
	cmd.Env = env
	ptmx, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 31, Cols: 97})
	if err != nil {
		t.Fatal(err)
	}
	defer ptmx.Close()
	var out safeBuffer
	go io.Copy(&out, ptmx)
	waitFor(t, &out, regexp.MustCompile(`demo\$ `), 30*time.Second)
	// both ports are published, as start.py did, and printed
	if want := fmt.Sprintf("published ports: REST API (port 80) at http://127.0.0.1:%d, notebook (port 8080) at http://127.0.0.1:%d", api, jup); !strings.Contains(out.String(), want) {
		t.Errorf("output lacks %q:\n%s", want, out.String())
	}
	cs, err := c.List(context.Background(), false)
	if err != nil {
		t.Fatal(err)
	}
	for _, ct := range cs {
		published := map[int]int{}
		for _, p := range ct.Ports {
			published[p.Container] = p.Host
		}
		if ct.Model == model && (len(published) != 2 || published[80] != api || published[8080] != jup) {
			t.Errorf("published ports %v, want 80 -> %d and 8080 -> %d", ct.Ports, api, jup)
		}
	}
	io.WriteString(ptmx, "echo hello $((1+1))\r")
	waitFor(t, &out, regexp.MustCompile(`hello \$\(\(1\+1\)\)`), 10*time.Second)
	io.WriteString(ptmx, "size\r")
	waitFor(t, &out, regexp.MustCompile(`31 97`), 10*time.Second)
	// A resize is forwarded (SIGWINCH).
	pty.Setsize(ptmx, &pty.Winsize{Rows: 40, Cols: 120})
	time.Sleep(300 * time.Millisecond)
	io.WriteString(ptmx, "size\r")
	waitFor(t, &out, regexp.MustCompile(`40 120`), 10*time.Second)
	io.WriteString(ptmx, "exit 7\r")
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("modelhub did not end after exit; output:\n%s", out.String())
	}
	if code := cmd.ProcessState.ExitCode(); code != 7 {
		t.Errorf("exit code %d, want 7; output:\n%s", code, out.String())
	}
	if n := modelContainers(t, model); n != 0 {
		t.Errorf("%d containers left after the shell ended", n)
	}
}

type safeBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *safeBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *safeBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func waitFor(t *testing.T, b *safeBuffer, re *regexp.Regexp, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !re.MatchString(b.String()) {
		if time.Now().After(deadline) {
			t.Fatalf("output never matched %q:\n%s", re, b.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}
