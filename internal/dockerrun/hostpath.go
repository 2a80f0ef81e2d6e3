package dockerrun

import (
	"errors"
	"fmt"
	"os"
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

// MountLinkError: a folder to bind-mount out of a model folder is, or is
// under, a symbolic link (or resolves elsewhere than where it is): Docker
// would mount whatever the link points to on the host.
type MountLinkError struct {
	Entry  string // the component in the way, relative to the model folder
	Target string // where it points ("" when it is not a link)
	Why    string
}

func (e *MountLinkError) Error() string {
	if e.Target != "" {
		return fmt.Sprintf("refusing to mount %q: it is a symbolic link to %q; %s", e.Entry, e.Target, e.Why)
	}
	return fmt.Sprintf("refusing to mount %q: %s", e.Entry, e.Why)
}

// ModelMount is the bind-mount source for the folder rel (slash-separated,
// e.g. "contrib_src") of the model folder root, checked right before the
// mount: root is resolved (links on the way to the model folder are the
// user's own), then every component of rel is Lstat'ed below it and must be a
// real folder, never a link; finally the whole path is resolved again and
// must be the same path. A model repository cannot make Docker mount
// anything but its own folder this way.
func ModelMount(root, rel string) (string, error) {
	abs, err := filepath.Abs(root)
	if err != nil {
		return "", fmt.Errorf("make %s absolute: %w", root, err)
	}
	base, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return "", fmt.Errorf("model folder %s: %w", root, err)
	}
	const why = "a model's mounted folders must be real folders inside the model folder (replace the link with the folder itself)"
	cur := base
	for i, seg := range strings.Split(rel, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return "", fmt.Errorf("mount %q: not a plain path inside the model folder", rel)
		}
		cur = filepath.Join(cur, seg)
		entry := strings.Join(strings.Split(rel, "/")[:i+1], "/")
		fi, err := os.Lstat(cur)
		if errors.Is(err, os.ErrNotExist) {
			return "", fmt.Errorf("the model folder %s has no %s folder: it cannot be mounted (is it a model folder?)", root, entry)
		}
		if err != nil {
			return "", err
		}
		switch {
		case fi.Mode()&os.ModeSymlink != 0:
			target, _ := os.Readlink(cur)
			return "", &MountLinkError{Entry: entry, Target: target, Why: why}
		case !fi.IsDir():
			return "", &MountLinkError{Entry: entry, Why: "it is not a folder; " + why}
		}
	}
	if again, err := filepath.EvalSymlinks(cur); err != nil || again != cur {
		return "", &MountLinkError{Entry: rel, Why: fmt.Sprintf("it resolves to %q, not to itself; %s", again, why)}
	}
	return engineForm(runtime.GOOS, cur), nil
}
