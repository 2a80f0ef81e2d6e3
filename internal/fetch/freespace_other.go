//go:build !linux && !darwin && !windows

package fetch

import "errors"

// diskFree is not known here: downloads go ahead (a full disk fails the write).
func diskFree(dir string) (int64, error) {
	return 0, errors.ErrUnsupported
}
