package store

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/gofrs/flock"
)

// ErrLocked: another process held the model's lock for longer than the timeout.
var ErrLocked = errors.New("model is locked by another modelhub process")

// lockRetry is how often a waiting process retries the lock.
const lockRetry = 100 * time.Millisecond

// DefaultLockTimeout is how long Lock waits for another process.
const DefaultLockTimeout = 10 * time.Minute

// Lock is a held per-model lock: an OS file lock (flock on Unix, LockFileEx on
// Windows, through gofrs/flock) on HOME/locks/NAME.lock. The OS releases it
// when the process dies, so a crash never leaves a stale lock.
type Lock struct{ fl *flock.Flock }

// Unlock releases the lock.
func (l *Lock) Unlock() error { return l.fl.Unlock() }

// LockPath is the lock file of model name.
func LockPath(home, name string) string {
	return filepath.Join(home, "locks", strings.ToLower(name)+".lock")
}

// LockModel takes the lock of model name. When another process holds it,
// wait is called once with a message, and LockModel retries until it gets
// the lock, ctx ends, or timeout (<= 0: DefaultLockTimeout) passes.
func LockModel(ctx context.Context, home, name string, timeout time.Duration, wait func(string)) (*Lock, error) {
	p := LockPath(home, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return nil, fmt.Errorf("lock %s: %w", name, err)
	}
	fl := flock.New(p)
	ok, err := fl.TryLock()
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", p, err)
	}
	if ok {
		return &Lock{fl}, nil
	}
	if timeout <= 0 {
		timeout = DefaultLockTimeout
	}
	if wait != nil {
		wait(fmt.Sprintf("waiting for another modelhub process that is using %s (up to %s)", name, timeout))
	}
	tctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	ok, err = fl.TryLockContext(tctx, lockRetry)
	if ok {
		return &Lock{fl}, nil
	}
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	if err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return nil, fmt.Errorf("lock %s: %w", p, err)
	}
	return nil, fmt.Errorf("%w: %s is still in use after %s (another pull or run of it); wait for it to finish and try again", ErrLocked, name, timeout)
}
