//go:build !windows

package main

import (
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"syscall"
)

// killCode is the only Python program the demo engine runs: the preStop hook
// of the pods `modelhub deploy --kube` writes.
var killCode = regexp.MustCompile(`^import os, signal; os\.kill\((\d+), signal\.(SIGINT|SIGTERM|SIGKILL)\)$`)

// pythonKill runs `python3 -c CODE` for CODE matching killCode: it sends the
// signal to the process, as the real image's python3 does.
func pythonKill(code string, stderr io.Writer) int {
	m := killCode.FindStringSubmatch(strings.TrimSpace(code))
	if m == nil {
		fmt.Fprintf(stderr, "demo python3: only os.kill(PID, signal.SIGINT|SIGTERM|SIGKILL) runs here, not %q\n", code)
		return 2
	}
	pid, _ := strconv.Atoi(m[1])
	sig := map[string]syscall.Signal{"SIGINT": syscall.SIGINT, "SIGTERM": syscall.SIGTERM, "SIGKILL": syscall.SIGKILL}[m[2]]
	if err := syscall.Kill(pid, sig); err != nil {
		fmt.Fprintln(stderr, "demo python3: os.kill:", err)
		return 1
	}
	return 0
}
