//go:build windows

package cli

import (
	"os"
	"time"

	"golang.org/x/term"
)

// watchResize polls the console size (Windows has no SIGWINCH) and calls fn
// when it changes, until stopped.
func watchResize(fn func()) (stop func()) {
	done := make(chan struct{})
	go func() {
		fd := int(os.Stdout.Fd())
		w, h, _ := term.GetSize(fd)
		t := time.NewTicker(250 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				if nw, nh, err := term.GetSize(fd); err == nil && (nw != w || nh != h) {
					w, h = nw, nh
					fn()
				}
			case <-done:
				return
			}
		}
	}()
	return func() { close(done) }
}
