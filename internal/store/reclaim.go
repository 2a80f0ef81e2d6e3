package store

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
)

// ErrNotRemovable is matched (errors.Is) by a *NotRemovableError.
var ErrNotRemovable = errors.New("files in the model folder cannot be removed")

// NotRemovableError: a model folder holds files this user cannot delete —
// written as root by a model container into the mounted contrib_src (e.g.
// __pycache__ by older versions) — and they could not be given back. It is
// returned before anything is touched.
type NotRemovableError struct {
	Dir   string
	Paths []string // the folders that block, relative to Dir
	Why   error    // why they were not given back automatically (nil: not tried)
}

func (e *NotRemovableError) Error() string {
	what := e.Paths[0]
	if len(e.Paths) > 1 {
		what += fmt.Sprintf(" and %d more", len(e.Paths)-1)
	}
	why := ""
	if e.Why != nil {
		why = " (giving them back through Docker failed: " + oneLine(e.Why.Error()) + ")"
	}
	return fmt.Sprintf("%s holds files another user (root, in a model container) wrote, which you cannot delete: %s%s; nothing was changed; give them back with `sudo chown -R %d:%d %s` and try again",
		e.Dir, what, why, os.Getuid(), os.Getgid(), e.Dir)
}

// Is makes errors.Is(err, ErrNotRemovable) true.
func (e *NotRemovableError) Is(target error) bool { return target == ErrNotRemovable }

func oneLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return s
}

// Reclaimer gives every file under the model folder dir back to the current
// user, e.g. with `chown -R` in a short-lived container of the model's image
// (the CLI's is dockerrun.Client.Chown). image may be "".
type Reclaimer func(ctx context.Context, dir, image string) error

// ensureRemovable makes sure this user can delete everything under dir
// before anything is removed or swapped: folders another user (root in a
// model container) owns are given back through s.Reclaim; when that is not
// possible the error is a *NotRemovableError naming the fix.
func (s *Store) ensureRemovable(ctx context.Context, dir, image string) error {
	blocked := unremovable(dir)
	if len(blocked) == 0 {
		return nil
	}
	var why error
	if s.Reclaim != nil {
		why = s.Reclaim(ctx, dir, image)
		if why == nil {
			if blocked = unremovable(dir); len(blocked) == 0 {
				return nil
			}
			why = errors.New("some files still belong to another user")
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	return &NotRemovableError{Dir: dir, Paths: blocked, Why: why}
}

// imageOf is the Docker image recorded for the model folder dir ("" when unknown).
func imageOf(dir string) string {
	if m, err := ReadManifest(dir); err == nil {
		return m.DockerID
	}
	return ""
}

func isNotExist(err error) bool { return errors.Is(err, os.ErrNotExist) }

func emptyDir(p string) bool {
	f, err := os.Open(p)
	if err != nil {
		return false
	}
	defer f.Close()
	names, _ := f.Readdirnames(1)
	return len(names) == 0
}
