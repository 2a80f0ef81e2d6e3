package dockerrun

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/docker/docker/client"
)

// ImageSave exports the local images refs as one tar stream (the engine's
// `docker save`: layers shared between the images are written once). The
// caller reads it to the end and closes it.
func (c *Client) ImageSave(ctx context.Context, refs []string) (io.ReadCloser, error) {
	rc, err := c.api.ImageSave(ctx, refs)
	if err != nil {
		if isNotFound(err) {
			return nil, fmt.Errorf("export images %s: %w", strings.Join(refs, ", "), ErrImageNotFound)
		}
		return nil, fmt.Errorf("export images %s: %w", strings.Join(refs, ", "), c.wrap(err))
	}
	return rc, nil
}

// ImageLoad imports an image tar stream (as written by ImageSave) into the
// engine and returns what the engine reported loading ("Loaded image: REF"
// or "Loaded image ID: ID" lines, without the prefix). When r fails before
// its end the engine gets a broken request and loads nothing of it.
func (c *Client) ImageLoad(ctx context.Context, r io.Reader) ([]string, error) {
	resp, err := c.api.ImageLoad(ctx, r, client.ImageLoadWithQuiet(true))
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("load images: %w", c.wrap(err))
	}
	defer resp.Body.Close()
	var loaded []string
	err = readStream(resp.Body, func(m streamMessage) {
		for _, line := range strings.Split(strings.TrimSpace(m.Stream), "\n") {
			for _, p := range []string{"Loaded image: ", "Loaded image ID: "} {
				if s, ok := strings.CutPrefix(line, p); ok {
					loaded = append(loaded, strings.TrimSpace(s))
				}
			}
		}
	})
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	if err != nil {
		return nil, fmt.Errorf("load images: %w", err)
	}
	return loaded, nil
}
