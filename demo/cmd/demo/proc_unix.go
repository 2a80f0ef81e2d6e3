//go:build !windows

package main

import (
	"os"
	"os/exec"
	"syscall"
)

// isolate puts modelhub in its own process group, so a Ctrl-C at the
// terminal reaches only us and we pass exactly one interrupt on (two would
// make modelhub kill the container instead of stopping it gracefully).
func isolate(cmd *exec.Cmd) { cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} }

// forward passes an interrupt on to modelhub.
func forward(cmd *exec.Cmd) {
	if cmd.Process != nil {
		_ = cmd.Process.Signal(os.Interrupt)
	}
}
