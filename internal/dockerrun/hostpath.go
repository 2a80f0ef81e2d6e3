package dockerrun

import (
	"fmt"
	"path/filepath"
	"runtime"
	"strings"
)

// HostPath turns a folder on this computer into the form the engine expects as a
// bind-mount source: an absolute, clean path with symbolic links resolved (Docker
// Desktop shares the real folders, e.g. /private/var on macOS), and on Windows the
// native form with a drive letter (C:\Users\me\models\x), which Docker Desktop takes as
// it is.
func HostPath(p string) (string, error) {
	abs, err := filepath.Abs(p)
	if err != nil {
		return "", fmt.Errorf("make %s absolute: %w", p, err)
	}
	if real, err := filepath.EvalSymlinks(abs); err == nil {
		abs = real
	}
	return engineForm(runtime.GOOS, abs), nil
}

// engineForm is the OS-specific part of HostPath, separate so every OS's rule is
// tested on any machine: Windows paths get backslashes and an upper-case drive
// letter; other systems' paths are used as they are.
func engineForm(goos, abs string) string {
	if goos != "windows" {
		return abs
	}
	p := strings.ReplaceAll(abs, "/", `\`)
	if len(p) >= 2 && p[1] == ':' {
		p = strings.ToUpper(p[:1]) + p[1:]
	}
	return p
}
