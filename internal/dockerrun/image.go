package dockerrun

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/build"
	"github.com/docker/docker/api/types/image"
)

// Image describes a local image.
type Image struct {
	ID       string
	RepoTags []string
	// RepoDigests are the image's registry digests (repo@sha256:…); empty
	// for an image built locally and never pushed or pulled.
	RepoDigests []string
	OS          string
	Arch        string
	Size        int64
}

// Platform is the image's platform, e.g. linux/amd64.
func (i Image) Platform() string { return i.OS + "/" + i.Arch }

// ImageInspect returns the local image ref, or an error matching ErrImageNotFound.
func (c *Client) ImageInspect(ctx context.Context, ref string) (Image, error) {
	r, err := c.api.ImageInspect(ctx, ref)
	if err != nil {
		if isNotFound(err) {
			return Image{}, fmt.Errorf("image %s: %w", ref, ErrImageNotFound)
		}
		return Image{}, c.wrap(err)
	}
	return Image{ID: r.ID, RepoTags: r.RepoTags, RepoDigests: r.RepoDigests, OS: r.Os, Arch: r.Architecture, Size: r.Size}, nil
}

// PullProgress is the state of a pull, summed over all layers so far.
type PullProgress struct {
	Image      string
	Status     string // the last status line that is not about one layer
	Layers     int    // layers seen
	LayersDone int    // layers downloaded (or already present)
	Current    int64  // bytes downloaded, all layers
	Total      int64  // bytes to download, over the layers whose size is known
}

// PullOptions tune ImagePull.
type PullOptions struct {
	Platform string             // e.g. linux/amd64; empty = the engine's own
	Progress func(PullProgress) // called after every engine message; may be nil
}

// PullError is a failed pull: the image, and the engine's reason.
type PullError struct {
	Image  string
	Reason string
}

func (e *PullError) Error() string {
	return fmt.Sprintf("pull image %s: %s; check the image name, your network connection, and `docker login` if the registry needs it", e.Image, e.Reason)
}

// streamMessage is one JSON message of the engine's pull/push/build streams.
type streamMessage struct {
	Stream         string `json:"stream"`
	Status         string `json:"status"`
	ID             string `json:"id"`
	ProgressDetail struct {
		Current int64 `json:"current"`
		Total   int64 `json:"total"`
	} `json:"progressDetail"`
	Error       string `json:"error"`
	ErrorDetail struct {
		Message string `json:"message"`
	} `json:"errorDetail"`
}

func (m streamMessage) err() string {
	if m.ErrorDetail.Message != "" {
		return m.ErrorDetail.Message
	}
	return m.Error
}

// readStream decodes a stream, calling fn per message, and returns the first
// error message the engine sent.
func readStream(r io.Reader, fn func(streamMessage)) error {
	dec := json.NewDecoder(r)
	for {
		var m streamMessage
		if err := dec.Decode(&m); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		if e := m.err(); e != "" {
			return errors.New(strings.TrimSpace(e))
		}
		if fn != nil {
			fn(m)
		}
	}
}

type layerState struct {
	current, total int64
	done           bool
}

// pullTracker sums per-layer progress into PullProgress.
type pullTracker struct {
	p      PullProgress
	layers map[string]*layerState
	order  []string
}

func newPullTracker(ref string) *pullTracker {
	return &pullTracker{p: PullProgress{Image: ref}, layers: map[string]*layerState{}}
}

func (t *pullTracker) update(m streamMessage) PullProgress {
	isLayer := m.ID != "" && !strings.HasPrefix(m.Status, "Pulling from") && !strings.HasPrefix(m.Status, "Digest:") && !strings.HasPrefix(m.Status, "Status:")
	if !isLayer {
		t.p.Status = strings.TrimSpace(strings.TrimSpace(m.Status + " " + m.ID))
		if m.ID != "" && strings.HasPrefix(m.Status, "Pulling from") {
			t.p.Status = m.Status
		}
		return t.p
	}
	l, ok := t.layers[m.ID]
	if !ok {
		l = &layerState{}
		t.layers[m.ID] = l
		t.order = append(t.order, m.ID)
	}
	switch {
	case m.Status == "Downloading":
		l.current, l.total = m.ProgressDetail.Current, m.ProgressDetail.Total
	case m.Status == "Download complete", m.Status == "Verifying Checksum":
		l.current = l.total
	case m.Status == "Pull complete", m.Status == "Already exists":
		l.current = l.total
		l.done = true
	}
	t.p.Layers, t.p.LayersDone, t.p.Current, t.p.Total = len(t.order), 0, 0, 0
	for _, id := range t.order {
		s := t.layers[id]
		if s.done {
			t.p.LayersDone++
		}
		t.p.Current += s.current
		t.p.Total += s.total
	}
	return t.p
}

// ImagePull pulls ref, reporting summed layer progress.
func (c *Client) ImagePull(ctx context.Context, ref string, opts PullOptions) error {
	rc, err := c.api.ImagePull(ctx, ref, image.PullOptions{Platform: opts.Platform})
	if err != nil {
		if err = c.wrap(err); errors.Is(err, ErrUnreachable) || ctx.Err() != nil {
			return err
		}
		return &PullError{Image: ref, Reason: engineReason(err)}
	}
	defer rc.Close()
	t := newPullTracker(ref)
	err = readStream(rc, func(m streamMessage) {
		p := t.update(m)
		if opts.Progress != nil {
			opts.Progress(p)
		}
	})
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if err != nil {
		return &PullError{Image: ref, Reason: err.Error()}
	}
	return nil
}

// engineReason strips the SDK's "Error response from daemon: " prefix.
func engineReason(err error) string {
	return strings.TrimPrefix(err.Error(), "Error response from daemon: ")
}

// ImageBuild builds a tagged image from a tar build context (with a
// Dockerfile at its root) using the classic builder, which every engine has.
// The build log is written to log when not nil.
func (c *Client) ImageBuild(ctx context.Context, tag string, tarContext io.Reader, log io.Writer) error {
	resp, err := c.api.ImageBuild(ctx, tarContext, build.ImageBuildOptions{
		Tags:        []string{tag},
		Remove:      true,
		ForceRemove: true,
		Version:     build.BuilderV1,
	})
	if err != nil {
		return fmt.Errorf("build image %s: %w", tag, c.wrap(err))
	}
	defer resp.Body.Close()
	err = readStream(resp.Body, func(m streamMessage) {
		if log != nil && m.Stream != "" {
			io.WriteString(log, m.Stream)
		}
	})
	if err != nil {
		return fmt.Errorf("build image %s: %w", tag, err)
	}
	return nil
}

// ImageTag adds the name target to the local image source.
func (c *Client) ImageTag(ctx context.Context, source, target string) error {
	if err := c.api.ImageTag(ctx, source, target); err != nil {
		return fmt.Errorf("tag %s as %s: %w", source, target, c.wrap(err))
	}
	return nil
}

// ImagePush pushes ref to its registry anonymously.
func (c *Client) ImagePush(ctx context.Context, ref string) error {
	auth := base64.URLEncoding.EncodeToString([]byte("{}"))
	rc, err := c.api.ImagePush(ctx, ref, image.PushOptions{RegistryAuth: auth})
	if err != nil {
		return fmt.Errorf("push %s: %w", ref, c.wrap(err))
	}
	defer rc.Close()
	if err := readStream(rc, nil); err != nil {
		return fmt.Errorf("push %s: %w", ref, err)
	}
	return nil
}

// ImageRemove removes the local image ref (untagging it). An image that a
// container uses gives an error matching ErrImageInUse; a missing one,
// ErrImageNotFound.
func (c *Client) ImageRemove(ctx context.Context, ref string) error {
	_, err := c.api.ImageRemove(ctx, ref, image.RemoveOptions{PruneChildren: true})
	switch {
	case err == nil:
		return nil
	case isNotFound(err):
		return fmt.Errorf("remove image %s: %w", ref, ErrImageNotFound)
	case cerrdefs.IsConflict(err):
		return fmt.Errorf("remove image %s: %w (%s)", ref, ErrImageInUse, engineReason(err))
	}
	return fmt.Errorf("remove image %s: %w", ref, c.wrap(err))
}
