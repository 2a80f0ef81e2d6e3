//go:build windows

package fetch

import "golang.org/x/sys/windows"

// diskFree is the bytes available to this user on the volume of dir.
func diskFree(dir string) (int64, error) {
	p, err := windows.UTF16PtrFromString(dir)
	if err != nil {
		return 0, err
	}
	var avail, total, totalFree uint64
	if err := windows.GetDiskFreeSpaceEx(p, &avail, &total, &totalFree); err != nil {
		return 0, err
	}
	return int64(avail), nil
}
