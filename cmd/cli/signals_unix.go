//go:build !windows

package cli

import (
	"os"
	"syscall"
)

// stopSignals end a command like Ctrl-C: Ctrl-C itself and SIGTERM (docker stop,
// systemd, kill).
var stopSignals = []os.Signal{os.Interrupt, syscall.SIGTERM}
