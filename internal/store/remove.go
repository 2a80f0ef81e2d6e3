package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/gofrs/flock"
)

// ErrNotDownloaded: rm was given a name that is not under Home/models.
var ErrNotDownloaded = errors.New("model is not downloaded")

// ErrLocalFolder: rm was given a path; it only removes downloaded models.
var ErrLocalFolder = errors.New("not a downloaded model")

// Find returns the folder under Home/models named name (ignoring case),
// complete or not.
func (s *Store) Find(name string) (string, error) {
	if IsPath(name) {
		return "", fmt.Errorf("%q is a path: %w; rm only removes models downloaded under %s (delete your own folders yourself)", name, ErrLocalFolder, s.ModelsDir())
	}
	for _, n := range s.Downloaded() {
		if strings.EqualFold(n, name) {
			return filepath.Join(s.ModelsDir(), n), nil
		}
	}
	// A pull interrupted before its first completion leaves only a staging folder.
	if _, err := os.Stat(s.stagingDir(name)); err == nil {
		return filepath.Join(s.ModelsDir(), name), nil
	}
	have := s.Downloaded()
	hint := "no models are downloaded"
	if len(have) > 0 {
		hint = "downloaded: " + strings.Join(have, ", ")
	}
	return "", fmt.Errorf("%w: %q (%s)", ErrNotDownloaded, name, hint)
}

// RemoveOptions tune Remove.
type RemoveOptions struct {
	// LockTimeout is how long to wait for another process (0: DefaultLockTimeout).
	LockTimeout time.Duration
	// Wait receives the note when another process holds the model's lock.
	Wait func(string)
	// InUse, when set, is checked under the model's lock, before anything
	// moves: an error (e.g. a container of the model is starting or runs)
	// removes nothing. A model being started holds the lock until its
	// container runs, so the check sees it.
	InUse func(ctx context.Context) error
}

// Remove deletes the downloaded model at dir (from Find) with its staging
// leftovers, under the model's lock. The folder is first renamed aside, so a
// half-deleted model is never mistaken for one. A ctx cancelled before that
// rename removes nothing; once renamed, the removal completes.
func (s *Store) Remove(ctx context.Context, dir string, o RemoveOptions) error {
	name := filepath.Base(dir)
	if filepath.Dir(dir) != s.ModelsDir() || strings.HasPrefix(name, ".") {
		return fmt.Errorf("%s: %w", dir, ErrLocalFolder)
	}
	lock, err := LockModel(ctx, s.Home, name, o.LockTimeout, o.Wait)
	if err != nil {
		return err
	}
	defer lock.Unlock()
	if err := ctx.Err(); err != nil {
		return err
	}
	if o.InUse != nil {
		if err := o.InUse(ctx); err != nil {
			return err
		}
	}
	// Nothing moves until everything can be deleted: files a model container
	// wrote as root are given back first, or the error says how to.
	image := imageOf(dir)
	for _, p := range []string{dir, s.stagingDir(name), s.oldDir(name)} {
		if err := s.ensureRemovable(ctx, p, image); err != nil {
			return err
		}
	}
	// Leftovers of removals that failed on such files (older versions):
	// given back too when possible, then swept.
	for _, p := range s.trashOf(name) {
		_ = s.ensureRemovable(ctx, p, imageOf(p))
	}
	s.sweepTrash(name)
	trash := filepath.Join(s.ModelsDir(), trashPrefix+strings.ToLower(name)+"-"+fmt.Sprint(time.Now().UnixNano()))
	if err := os.Rename(dir, trash); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove %s: %w", dir, err)
	}
	var errs []error
	for _, p := range []string{trash, s.stagingDir(name), s.loadingDir(name), s.oldDir(name)} {
		if err := os.RemoveAll(p); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("remove %s: %w", dir, err)
	}
	return nil
}

// trashOf lists the .trash-NAME-NANOSECONDS folders of the model name.
func (s *Store) trashOf(name string) []string {
	prefix := trashPrefix + strings.ToLower(name) + "-"
	matches, _ := filepath.Glob(filepath.Join(s.ModelsDir(), prefix+"*"))
	var out []string
	for _, m := range matches {
		rest := strings.TrimPrefix(filepath.Base(m), prefix)
		if rest != "" && strings.Trim(rest, "0123456789") == "" {
			out = append(out, m)
		}
	}
	return out
}

// trashPrefix starts the name of a model folder being removed
// (.trash-NAME-NANOSECONDS): renamed aside first, so a half-deleted model is
// never mistaken for one.
const trashPrefix = ".trash-"

// sweepTrash removes the trash folders failed removals left: those of model
// held (whose lock the caller holds) and of every model whose lock is free;
// one whose model is in use is left for a later pull or rm. It is best effort:
// what cannot be removed now is tried again next time.
func (s *Store) sweepTrash(held string) {
	ents, err := os.ReadDir(s.ModelsDir())
	if err != nil {
		return
	}
	for _, e := range ents {
		rest, ok := strings.CutPrefix(e.Name(), trashPrefix)
		i := strings.LastIndex(rest, "-")
		if !ok || i <= 0 {
			continue
		}
		name, p := rest[:i], filepath.Join(s.ModelsDir(), e.Name())
		if strings.EqualFold(name, held) {
			_ = os.RemoveAll(p)
			continue
		}
		fl := flock.New(LockPath(s.Home, name))
		if ok, err := fl.TryLock(); err != nil || !ok {
			continue
		}
		_ = os.RemoveAll(p)
		_ = fl.Unlock()
	}
}

func readJSON(path string, v any) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	return json.Unmarshal(data, v)
}
