//go:build !linux

package fetch

import "os"

// maxRSS is only measured on Linux.
func maxRSS(*os.ProcessState) (int64, bool) { return 0, false }
