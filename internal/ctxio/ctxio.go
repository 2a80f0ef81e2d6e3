// Package ctxio stops long copies when their context ends. It is a leaf: it
// imports nothing of modelhub.
package ctxio

import (
	"context"
	"io"
)

// Reader reads from r until ctx ends; then every Read fails with ctx's error,
// so an io.Copy of a large file stops within one buffer of a Ctrl-C.
func Reader(ctx context.Context, r io.Reader) io.Reader { return reader{ctx, r} }

type reader struct {
	ctx context.Context
	r   io.Reader
}

func (r reader) Read(p []byte) (int, error) {
	if err := r.ctx.Err(); err != nil {
		return 0, err
	}
	return r.r.Read(p)
}
