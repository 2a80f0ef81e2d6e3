package cli

import (
	"context"
	"errors"
	"net"

	"github.com/modelhub-ai/modelhub/internal/dockerrun"
	"github.com/modelhub-ai/modelhub/internal/predict"
	"github.com/modelhub-ai/modelhub/internal/webui"
)

// The web UI of `modelhub run`: the engine in model images serves no page, so
// run serves one itself, on 127.0.0.1:--ui-port, proxying /api/ to the model,
// for as long as run runs. A detached model outlives run: its page is served
// by `modelhub ui`, and run -d prints that URL only when one answers.

// servesUI reports whether this run serves a web UI itself.
func (o *RunOptions) servesUI() bool {
	return o.mode() == dockerrun.ModeAPI && !o.Detach && !o.NoUI
}

// listenRunUI binds the web UI's port before the model starts, so a busy
// --ui-port fails before anything is created. It returns nil when run serves
// no UI. The note (a busy default port) is for when the page is served: a
// run that fails says only why it failed.
func listenRunUI(opts *RunOptions) (l net.Listener, note string, err error) {
	if !opts.servesUI() {
		return nil, "", nil
	}
	return listenUI(opts.UIPort, opts.UIPortSet, "--ui-port")
}

// serveRunUI serves the page of model m on l until the returned stop is
// called, and returns the page's URL.
func serveRunUI(ctx context.Context, l net.Listener, m webui.Model) (url string, stop func()) {
	sctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	srv := &webui.Server{Models: webui.Fixed(m), Single: m.Name, Preview: previewOutput, Convert: convertUpload}
	go func() {
		defer close(done)
		_ = srv.Serve(sctx, l)
	}()
	return webui.URL(webui.Port(l), ""), func() {
		cancel()
		<-done
	}
}

// detachedUIURL is the page of a detached model on a `modelhub ui` answering
// at --ui-port, or "" (with a note saying how to get one).
func detachedUIURL(ctx context.Context, opts *RunOptions, model string) string {
	if opts.mode() != dockerrun.ModeAPI || opts.NoUI {
		return ""
	}
	if webui.ServesAllModels(ctx, opts.UIPort) {
		return webui.URL(opts.UIPort, model)
	}
	opts.IO.Notef("for a web UI of %s, run `modelhub ui` (it serves every running model until Ctrl-C)", model)
	return ""
}

// convertUpload turns a DICOM file or zipped DICOM series uploaded to the web
// UI into what the model takes, as predict converts DICOM (the zip unpacked
// with safezip's default bounds); other uploads pass as they are.
func convertUpload(ctx context.Context, req webui.ConvertRequest) (*webui.Converted, error) {
	c, err := predict.ConvertUpload(ctx, req.Formats, req.Path, req.Name, predict.UploadOptions{Stage: req.Dir})
	if errors.Is(err, predict.ErrNotConvertible) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &webui.Converted{Path: c.Path, Type: c.Type, Note: c.Note}, nil
}
