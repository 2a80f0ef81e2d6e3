package testutil

import (
	"os"
	"syscall"
)

// MaxRSS returns the peak resident set size in bytes of a finished child
// process (Linux reports ru_maxrss in KiB).
func MaxRSS(ps *os.ProcessState) (int64, bool) {
	ru, ok := ps.SysUsage().(*syscall.Rusage)
	if !ok || ru == nil {
		return 0, false
	}
	return ru.Maxrss * 1024, true
}
