//go:build !linux

package testutil

import "os"

// MaxRSS is only measured on Linux.
func MaxRSS(*os.ProcessState) (int64, bool) { return 0, false }
