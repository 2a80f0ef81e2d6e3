package cli

import (
	"context"
	"fmt"
	"io"

	"golang.org/x/term"

	"github.com/modelhub-ai/modelhub/internal/launch"
)

// fdOf returns the file descriptor behind a stream, if any.
func fdOf(v any) (int, bool) {
	f, ok := v.(interface{ Fd() uintptr })
	if !ok {
		return 0, false
	}
	return int(f.Fd()), true
}

// runBash connects the terminal to the shell launch started (raw mode,
// resizes forwarded), removes the container when the shell ends and exits
// with the shell's status.
func runBash(ctx context.Context, ios *IOStreams, h *launch.Handle) error {
	defer h.Remove(ctx)
	att := h.Attachment
	defer att.Close()
	inFd, ok := fdOf(ios.In)
	outFd, ok2 := fdOf(ios.Out)
	if !ok || !ok2 {
		return fmt.Errorf("bash mode needs a terminal")
	}
	u := h.URLs()
	ios.Notef("shell in %s (container %s); `exit` ends it and removes the container", h.Model, h.Container)
	ios.Notef("published ports: REST API (port 80) at %s, notebook (port 8080) at %s", u.APIPort, u.Jupyter)
	resize := func() {
		if w, ht, err := term.GetSize(outFd); err == nil {
			_ = h.Resize(context.WithoutCancel(ctx), uint(ht), uint(w))
		}
	}
	resize()
	stopResize := watchResize(resize)
	defer stopResize()
	defer prepareConsoleOutput(outFd)()
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
	select {
	case <-ctx.Done(): // SIGTERM (in raw mode Ctrl-C goes to the shell)
		term.Restore(inFd, state)
		return ErrInterrupted // the deferred Remove kills it
	case <-h.Exited():
	}
	<-outDone
	term.Restore(inFd, state)
	code, err := h.Wait(ctx)
	if err != nil {
		return err
	}
	if code != 0 {
		return &ExitError{Code: code, Silent: true}
	}
	return nil
}
