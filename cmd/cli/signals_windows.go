//go:build windows

package cli

import "os"

// stopSignals end a command: on Windows only Ctrl-C (and Ctrl-Break) exist, both
// delivered as os.Interrupt.
var stopSignals = []os.Signal{os.Interrupt}
