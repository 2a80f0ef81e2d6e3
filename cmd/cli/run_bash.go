package cli

import (
	"context"
	"fmt"
	"io"
	"time"

	"golang.org/x/term"
)

// fdOf returns the file descriptor behind a stream, if any.
func fdOf(v any) (int, bool) {
	f, ok := v.(interface{ Fd() uintptr })
	if !ok {
		return 0, false
	}
	return int(f.Fd()), true
}

// runBash attaches the terminal to a shell in the container (raw mode,
// resizes forwarded) and exits with the shell's status.
func runBash(ctx context.Context, opts *RunOptions, d dockerAPI, st *started) error {
	ios := opts.IO
	defer removeQuietly(ctx, d, st.id)
	inFd, ok := fdOf(ios.In)
	outFd, ok2 := fdOf(ios.Out)
	if !ok || !ok2 {
		return fmt.Errorf("bash mode needs a terminal")
	}
	att, err := d.Attach(ctx, st.id)
	if err != nil {
		return err
	}
	defer att.Close()
	if err := d.Start(ctx, st.id); err != nil {
		return err
	}
	ios.Notef("shell in %s (container %s); `exit` ends it and removes the container", st.model.Name, st.name)
	resize := func() {
		if w, h, err := term.GetSize(outFd); err == nil {
			_ = d.Resize(context.WithoutCancel(ctx), st.id, uint(h), uint(w))
		}
	}
	resize()
	stopResize := watchResize(resize)
	defer stopResize()
	state, err := term.MakeRaw(inFd)
	if err != nil {
		return fmt.Errorf("put the terminal in raw mode: %w", err)
	}
	defer term.Restore(inFd, state)

	outDone := make(chan struct{})
	go func() {
		defer close(outDone)
		_, _ = io.Copy(ios.Out, att)
	}()
	go func() {
		_, _ = io.Copy(att, ios.In)
		_ = att.CloseWrite()
	}()
	type waitResult struct {
		code int
		err  error
	}
	waited := make(chan waitResult, 1)
	go func() {
		code, err := d.Wait(context.WithoutCancel(ctx), st.id)
		waited <- waitResult{code, err}
	}()
	var code int
	select {
	case <-ctx.Done(): // SIGTERM (in raw mode Ctrl-C goes to the shell)
		term.Restore(inFd, state)
		cctx, cancel := cleanupContext(ctx, 30*time.Second)
		defer cancel()
		_ = d.Kill(cctx, st.id)
		return ErrInterrupted
	case r := <-waited:
		<-outDone
		term.Restore(inFd, state)
		if r.err != nil {
			return r.err
		}
		code = r.code
	}
	if code != 0 {
		return &ExitError{Code: code, Silent: true}
	}
	return nil
}
