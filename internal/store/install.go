package store

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/modelhub-ai/modelhub/internal/registry"
)

// Install puts a model on disk from elsewhere than its repository (a bundle
// made by `modelhub save`): the caller fills Dir, a private staging folder,
// and Commit renames it into place the way Pull does, under the model's lock.
// Until Commit the installed version (if any) is untouched; Abort leaves the
// machine as it was.
type Install struct {
	// Name is the model's name.
	Name string
	// Dir is the staging folder to fill; it is on the filesystem of the models.
	Dir string
	// Final is where the model lives once committed.
	Final string
	// Current is the manifest of the complete installed version, nil if none.
	Current *Manifest

	s    *Store
	lock *Lock
}

// loadingDir is the staging folder of an Install of name. It is not Pull's
// staging folder, so a pull interrupted earlier keeps what it downloaded.
func (s *Store) loadingDir(name string) string {
	return filepath.Join(s.ModelsDir(), ".loading-"+strings.ToLower(name))
}

// BeginInstall takes the lock of model name (waiting up to lockTimeout,
// telling wait) and returns an Install with an empty staging folder.
func (s *Store) BeginInstall(ctx context.Context, name string, lockTimeout time.Duration, wait func(string)) (*Install, error) {
	if err := registry.CheckName(name); err != nil {
		return nil, fmt.Errorf("%q is not a model name: %w", name, err)
	}
	if err := os.MkdirAll(s.ModelsDir(), 0o755); err != nil {
		return nil, err
	}
	lock, err := LockModel(ctx, s.Home, name, lockTimeout, wait)
	if err != nil {
		return nil, err
	}
	in := &Install{Name: name, Final: Dir(s.Home, name), s: s, lock: lock, Dir: s.loadingDir(name)}
	// An existing folder of another case keeps its spelling.
	for _, n := range s.Downloaded() {
		if strings.EqualFold(n, name) {
			in.Final = Dir(s.Home, n)
		}
	}
	s.recoverSwap(name, in.Final)
	if man, err := ReadManifest(in.Final); err == nil && man.Complete {
		in.Current = man
	}
	if err := os.RemoveAll(in.Dir); err == nil {
		err = os.Mkdir(in.Dir, 0o755)
	}
	if err != nil {
		lock.Unlock()
		return nil, fmt.Errorf("prepare %s: %w", in.Dir, err)
	}
	return in, nil
}

// Commit checks that the staging folder holds a complete model (its
// manifest says so) and renames it into place, replacing the installed
// version, then releases the lock.
func (in *Install) Commit() error {
	defer in.release()
	man, err := ReadManifest(in.Dir)
	if err != nil {
		os.RemoveAll(in.Dir)
		return fmt.Errorf("install %s: no readable %s: %w", in.Name, ManifestPath, err)
	}
	if !man.Complete {
		os.RemoveAll(in.Dir)
		return fmt.Errorf("install %s: its manifest says the download was not complete", in.Name)
	}
	if err := in.s.swap(in.Name, in.Dir, in.Final); err != nil {
		os.RemoveAll(in.Dir)
		return err
	}
	return nil
}

// Abort removes the staging folder and releases the lock; the installed
// version, if any, is untouched.
func (in *Install) Abort() error {
	defer in.release()
	if err := os.RemoveAll(in.Dir); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

func (in *Install) release() {
	if in.lock != nil {
		in.lock.Unlock()
		in.lock = nil
	}
}
