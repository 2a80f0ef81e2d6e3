//go:build windows

package cli

import (
	"os/exec"
	"syscall"
)

// detachProcess starts cmd without a console of its own and outside this
// process's group, so it outlives this process and Ctrl-C here does not reach it.
func detachProcess(cmd *exec.Cmd) {
	const detachedProcess = 0x00000008
	cmd.SysProcAttr = &syscall.SysProcAttr{CreationFlags: syscall.CREATE_NEW_PROCESS_GROUP | detachedProcess}
}
