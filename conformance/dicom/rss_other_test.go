//go:build !unix

package dicom

import "os"

// peakRSS is not measured on this system.
func peakRSS(ps *os.ProcessState) int64 { return 0 }
