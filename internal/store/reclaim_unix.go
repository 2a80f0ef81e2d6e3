//go:build !windows

package store

import (
	"io/fs"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// maxBlocked bounds the folders unremovable reports.
const maxBlocked = 20

// unremovable lists the non-empty folders under dir (dir included) whose
// entries this user may not delete (no write or search permission, as the
// kernel decides: owner, group, ACLs; root may delete anything), relative to
// dir, and the folders it cannot read. Nothing is changed.
func unremovable(dir string) []string {
	var out []string
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if len(out) >= maxBlocked {
			return filepath.SkipAll
		}
		rel, _ := filepath.Rel(dir, p)
		if err != nil {
			if p != dir || !isNotExist(err) {
				out = append(out, filepath.ToSlash(rel))
			}
			if d != nil && d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if !d.IsDir() {
			return nil
		}
		if unix.Access(p, unix.W_OK|unix.X_OK) != nil && !emptyDir(p) {
			out = append(out, filepath.ToSlash(rel))
		}
		return nil
	})
	return out
}
