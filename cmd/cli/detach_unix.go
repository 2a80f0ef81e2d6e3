//go:build !windows

package cli

import (
	"os/exec"
	"syscall"
)

// detachProcess makes cmd a session of its own, so it outlives this process
// and a Ctrl-C typed here does not reach it.
func detachProcess(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
}
