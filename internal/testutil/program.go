package testutil

import (
	"os"
	"os/exec"
	"path/filepath"
)

// SystemProgram is the path of a program from Debian that may live in
// /usr/sbin, which a user's PATH often lacks (Orthanc, squid); "" when it is
// not installed.
func SystemProgram(name string) string {
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	p := filepath.Join("/usr/sbin", name)
	if _, err := os.Stat(p); err == nil {
		return p
	}
	return ""
}
