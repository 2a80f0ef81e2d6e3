//go:build !linux

package bundle

import "os"

// startWriteback does nothing where there is no sync_file_range: the final
// fsync writes everything.
func startWriteback(f *os.File, off, n int64) {}
