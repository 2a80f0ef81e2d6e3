package bundle

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"sync"

	"github.com/modelhub-ai/modelhub/internal/dockerrun"
)

// fakeImages is an Images whose behaviour tests set through func fields;
// unset ones act like a small engine holding the images in memory.
type fakeImages struct {
	mu     sync.Mutex
	images map[string]dockerrun.Image // ref -> image
	// export is the tar ImageSave streams (default: one built from the refs).
	export []byte
	// loaded records the sha256 of every complete stream ImageLoad read.
	loaded []string
	// loadErrs counts ImageLoad calls whose stream failed.
	loadErrs int
	// onLoad are the images a complete ImageLoad makes present.
	onLoad map[string]dockerrun.Image

	inspect func(ref string) (dockerrun.Image, error)
	load    func(r io.Reader) ([]string, error)
	// called runs first in ImageSave and ImageLoad.
	called func()
}

func (f *fakeImages) ImageInspect(ctx context.Context, ref string) (dockerrun.Image, error) {
	if f.inspect != nil {
		return f.inspect(ref)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if im, ok := f.images[ref]; ok {
		return im, nil
	}
	return dockerrun.Image{}, dockerrun.ErrImageNotFound
}

func (f *fakeImages) ImageSave(ctx context.Context, refs []string) (io.ReadCloser, error) {
	if f.called != nil {
		f.called()
	}
	if f.export == nil {
		var buf bytes.Buffer
		tw := tar.NewWriter(&buf)
		for _, r := range refs {
			body := bytes.Repeat([]byte(r), 5000)
			tw.WriteHeader(&tar.Header{Name: "blobs/" + r, Size: int64(len(body)), Mode: 0o644})
			tw.Write(body)
		}
		tw.Close()
		f.export = buf.Bytes()
	}
	return io.NopCloser(bytes.NewReader(f.export)), nil
}

// ImageLoad reads r to its end like the engine: only a complete stream
// "loads" the images (every ref gets its ID back).
func (f *fakeImages) ImageLoad(ctx context.Context, r io.Reader) ([]string, error) {
	if f.called != nil {
		f.called()
	}
	if f.load != nil {
		return f.load(r)
	}
	h := sha256.New()
	if _, err := io.Copy(h, r); err != nil {
		f.mu.Lock()
		f.loadErrs++
		f.mu.Unlock()
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.loaded = append(f.loaded, hex.EncodeToString(h.Sum(nil)))
	if f.images == nil {
		f.images = map[string]dockerrun.Image{}
	}
	var refs []string
	for ref, im := range f.onLoad {
		f.images[ref] = im
		refs = append(refs, ref)
	}
	return refs, nil
}
