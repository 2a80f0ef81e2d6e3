//go:build !windows

package main

import (
	"bytes"
	"fmt"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The preStop hook `modelhub deploy --kube` writes (python3 -c "import os,
// signal; os.kill(1, signal.SIGINT)") runs in the demo image too: it signals
// the process, and any other program is refused.
func TestPythonKill(t *testing.T) {
	child := exec.Command("sleep", "60")
	if err := child.Start(); err != nil {
		t.Skip("no sleep command:", err)
	}
	done := make(chan error, 1)
	go func() { done <- child.Wait() }()
	var stderr bytes.Buffer
	code := fmt.Sprintf("import os, signal; os.kill(%d, signal.SIGINT)", child.Process.Pid)
	if got := run([]string{"/usr/bin/python3", "-c", code}, nil, &stderr, &stderr); got != 0 {
		child.Process.Kill()
		t.Fatalf("exit %d: %s", got, stderr.String())
	}
	select {
	case err := <-done:
		ws, _ := child.ProcessState.Sys().(syscall.WaitStatus)
		if !ws.Signaled() || ws.Signal() != syscall.SIGINT {
			t.Errorf("child ended with %v, want SIGINT", err)
		}
	case <-time.After(10 * time.Second):
		child.Process.Kill()
		t.Fatal("the child did not get the signal")
	}

	stderr.Reset()
	if got := run([]string{"python3", "-c", "import shutil; shutil.rmtree('/')"}, nil, &stderr, &stderr); got != 2 ||
		!strings.Contains(stderr.String(), "only os.kill") {
		t.Errorf("other code: exit %d, stderr %q; want 2 and a refusal", got, stderr.String())
	}
}
