package bundle

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/modelhub-ai/modelhub/internal/dockerrun"
)

// fakeImages is an Images whose behaviour tests set through func fields;
// unset ones act like a small engine holding the images in memory: a load
// adds the images of the export's manifest.json by ID (their configuration
// blob) and tags them with its RepoTags, as Docker does.
type fakeImages struct {
	mu     sync.Mutex
	images map[string]dockerrun.Image // ref -> image
	byID   map[string]dockerrun.Image
	// export is the tar ImageSave streams (default: fakeExport of the refs).
	export []byte
	// loaded records the sha256 of every complete stream ImageLoad read,
	// streams the manifest.json of each.
	loaded  []string
	streams [][]byte
	// loadErrs counts ImageLoad calls whose stream failed.
	loadErrs int
	// onLoad are the images a complete ImageLoad can add, by ref.
	onLoad map[string]dockerrun.Image

	inspect func(ref string) (dockerrun.Image, error)
	load    func(r io.Reader) ([]string, error)
	tag     func(source, target string) error
	// called runs first in ImageSave and ImageLoad.
	called func()
}

func (f *fakeImages) ImageInspect(ctx context.Context, ref string) (dockerrun.Image, error) {
	if f.inspect != nil {
		return f.inspect(ref)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.lookup(ref)
}

func (f *fakeImages) lookup(ref string) (dockerrun.Image, error) {
	if strings.HasPrefix(ref, "sha256:") {
		if im, ok := f.byID[ref]; ok {
			return im, nil
		}
	}
	if im, ok := f.images[ref]; ok {
		return im, nil
	}
	return dockerrun.Image{}, fmt.Errorf("image %s: %w", ref, dockerrun.ErrImageNotFound)
}

func (f *fakeImages) ImageTag(ctx context.Context, source, target string) error {
	if f.tag != nil {
		if err := f.tag(source, target); err != nil {
			return err
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	im, err := f.lookup(source)
	if err != nil {
		return err
	}
	f.setTag(target, im)
	return nil
}

func (f *fakeImages) setTag(ref string, im dockerrun.Image) {
	if f.images == nil {
		f.images = map[string]dockerrun.Image{}
	}
	f.images[ref] = im
}

func (f *fakeImages) ImageRemove(ctx context.Context, ref string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	im, err := f.lookup(ref)
	if err != nil {
		return err
	}
	if strings.HasPrefix(ref, "sha256:") {
		for r, x := range f.images {
			if x.ID == im.ID {
				delete(f.images, r)
			}
		}
		delete(f.byID, im.ID)
		return nil
	}
	delete(f.images, ref)
	for _, x := range f.images {
		if x.ID == im.ID {
			return nil
		}
	}
	delete(f.byID, im.ID)
	return nil
}

// fakeExport is an export like docker save's of images (ref -> image):
// a blob per image and a manifest.json tagging each with its ref.
func fakeExport(images map[string]dockerrun.Image, refs []string) []byte {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	type item struct {
		Config   string
		RepoTags []string
		Layers   []string
	}
	var items []item
	for _, r := range refs {
		body := bytes.Repeat([]byte(r), 5000)
		blob := "blobs/sha256/" + strings.TrimPrefix(images[r].ID, "sha256:")
		tw.WriteHeader(&tar.Header{Name: blob, Size: int64(len(body)), Mode: 0o644})
		tw.Write(body)
		items = append(items, item{Config: blob, RepoTags: []string{r}, Layers: []string{}})
	}
	m, _ := json.Marshal(items)
	tw.WriteHeader(&tar.Header{Name: "manifest.json", Size: int64(len(m)), Mode: 0o644})
	tw.Write(m)
	tw.Close()
	return buf.Bytes()
}

func (f *fakeImages) ImageSave(ctx context.Context, refs []string) (io.ReadCloser, error) {
	if f.called != nil {
		f.called()
	}
	if f.export == nil {
		f.export = fakeExport(f.images, refs)
	}
	return io.NopCloser(bytes.NewReader(f.export)), nil
}

// ImageLoad reads r to its end like the engine: only a complete stream
// loads: every image of its manifest.json whose ID onLoad knows, tagged
// with its RepoTags.
func (f *fakeImages) ImageLoad(ctx context.Context, r io.Reader) ([]string, error) {
	if f.called != nil {
		f.called()
	}
	if f.load != nil {
		return f.load(r)
	}
	h := sha256.New()
	data, err := io.ReadAll(io.TeeReader(r, h))
	if err != nil {
		f.mu.Lock()
		f.loadErrs++
		f.mu.Unlock()
		return nil, err
	}
	var manifest []byte
	tr := tar.NewReader(bytes.NewReader(data))
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("load: %v", err)
		}
		if hdr.Name == "manifest.json" {
			manifest, _ = io.ReadAll(tr)
		}
	}
	var items []struct {
		Config   string
		RepoTags []string
	}
	if err := json.Unmarshal(manifest, &items); err != nil {
		return nil, fmt.Errorf("load: manifest.json: %v", err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.loaded = append(f.loaded, hex.EncodeToString(h.Sum(nil)))
	f.streams = append(f.streams, manifest)
	if f.byID == nil {
		f.byID = map[string]dockerrun.Image{}
	}
	var out []string
	for _, it := range items {
		id := blobID(it.Config)
		var im dockerrun.Image
		for _, x := range f.onLoad {
			if x.ID == id {
				im = x
			}
		}
		if im.ID == "" {
			im = dockerrun.Image{ID: id}
		}
		f.byID[id] = im
		for _, t := range it.RepoTags {
			f.setTag(t, im)
			out = append(out, t)
		}
		if len(it.RepoTags) == 0 {
			out = append(out, id)
		}
	}
	return out, nil
}

// fakeID is the ID of the fake image img:1.
var fakeID = "sha256:" + strings.Repeat("a", 64)
