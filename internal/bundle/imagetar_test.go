package bundle

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/modelhub-ai/modelhub/internal/dockerrun"
	"github.com/modelhub-ai/modelhub/internal/store"
)

var (
	victimID = "sha256:" + strings.Repeat("b", 64)
	oldID    = "sha256:" + strings.Repeat("c", 64)
)

// export is an image export of the entries given.
func export(t *testing.T, entries ...craftEntry) string {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := e.hdr
		if h.Typeflag == tar.TypeReg {
			h.Size = int64(len(e.body))
		}
		if err := tw.WriteHeader(&h); err != nil {
			t.Fatal(err)
		}
		tw.Write([]byte(e.body))
	}
	tw.Close()
	return buf.String()
}

var (
	blob     = reg("blobs/sha256/"+strings.Repeat("a", 64), strings.Repeat("config", 100))
	goodMeta = reg("manifest.json", `[{"Config":"blobs/sha256/`+strings.Repeat("a", 64)+`","RepoTags":["img:1"],"Layers":[]}]`)
)

func withTags(tags string) craftEntry {
	return reg("manifest.json", `[{"Config":"blobs/sha256/`+strings.Repeat("a", 64)+`","RepoTags":`+tags+`,"Layers":[]}]`)
}

// imageBundle is a bundle of model demo (image img:1) whose images.tar is
// exp, its checksum right: as an attacker who edited it writes it.
func imageBundle(t *testing.T, exp string, extra ...craftEntry) string {
	t.Helper()
	body := "x"
	man := &Manifest{Format: Format, Version: FormatVersion,
		Models: []Model{{Name: "demo", Commit: "c1", DockerID: "img:1"}},
		Images: []Image{{Ref: "img:1", ID: fakeID}},
		Entries: []Entry{
			{Path: "models/demo/a.txt", Type: TypeFile, Mode: 0o644, Size: 1, SHA256: sum(body)},
			{Path: "models/demo/.modelhub/manifest.json", Type: TypeFile, Mode: 0o644},
			{Path: ImagesName, Type: TypeFile, Mode: 0o644, Size: int64(len(exp)), SHA256: sum(exp)},
		}}
	sm, _ := json.Marshal(&store.Manifest{Commit: "c1", DockerID: "img:1", Complete: true})
	man.Entries[1].Size, man.Entries[1].SHA256 = int64(len(sm)), sum(string(sm))
	entries := append([]craftEntry{reg("models/demo/a.txt", body), reg("models/demo/.modelhub/manifest.json", string(sm)), reg(ImagesName, exp)}, extra...)
	return craft(t, man, entries...)
}

// victimEngine holds victim:tag and an older img:1.
func victimEngine() *fakeImages {
	return &fakeImages{
		images: map[string]dockerrun.Image{"victim:tag": {ID: victimID}, "img:1": {ID: oldID}},
		byID:   map[string]dockerrun.Image{victimID: {ID: victimID}, oldID: {ID: oldID}},
		onLoad: map[string]dockerrun.Image{"img:1": {ID: fakeID}},
	}
}

// unchanged fails unless d holds what victimEngine does.
func unchanged(t *testing.T, d *fakeImages) {
	t.Helper()
	if len(d.images) != 2 || d.images["victim:tag"].ID != victimID || d.images["img:1"].ID != oldID || len(d.byID) != 2 {
		t.Errorf("Docker changed: tags %v, images %v", d.images, d.byID)
	}
}

func TestLoadRetag(t *testing.T) {
	link := func(name, to string) craftEntry {
		return craftEntry{hdr: tar.Header{Name: name, Typeflag: tar.TypeSymlink, Linkname: to}}
	}
	tests := []struct {
		name string
		exp  string
		msg  string
	}{
		{"RepoTags names another image", export(t, blob, withTags(`["img:1","victim:tag"]`)),
			`images.tar tags "victim:tag" (in its manifest.json), an image the bundle does not list; the bundle was altered after it was saved, nothing was loaded`},
		{"fully qualified", export(t, blob, withTags(`["docker.io/library/victim:tag"]`)), `tags "docker.io/library/victim:tag"`},
		{"no tag means latest", export(t, blob, withTags(`["img"]`)), `tags "img"`},
		{"key in lower case", export(t, blob, reg("manifest.json", `[{"Config":"x","repotags":["victim:tag"]}]`)), `tags "victim:tag"`},
		{"key folded", export(t, blob, reg("manifest.json", `[{"Config":"x","RepoTag\u017f":["victim:tag"]}]`)), `tags "victim:tag"`},
		{"key escaped", export(t, blob, reg("manifest.json", `[{"Config":"x","Repo\u0054ags":["victim:tag"]}]`)), `tags "victim:tag"`},
		{"key twice", export(t, blob, reg("manifest.json", `[{"RepoTags":["victim:tag"],"RepoTags":["img:1"]}]`)), `key "RepoTags" appears twice`},
		{"key twice in another case", export(t, blob, reg("manifest.json", `[{"RepoTags":["img:1"],"REPOTAGS":["victim:tag"]}]`)), `appears twice`},
		{"not a string", export(t, blob, withTags(`[1]`)), "RepoTags holds a value that is not a string"},
		{"not an array", export(t, blob, reg("manifest.json", `{"RepoTags":["victim:tag"]}`)), "its manifest.json is not a JSON array"},
		{"trailing data", export(t, blob, reg("manifest.json", `[{"RepoTags":[]}] [{"RepoTags":["victim:tag"]}]`)), "not a JSON array"},
		{"index.json names another image", export(t, blob, goodMeta, reg("index.json",
			`{"schemaVersion":2,"manifests":[{"digest":"sha256:`+strings.Repeat("d", 64)+`","annotations":{"io.containerd.image.name":"docker.io/library/victim:tag"}}]}`)),
			`tags "docker.io/library/victim:tag" (in its index.json)`},
		{"index.json ref name", export(t, blob, goodMeta, reg("index.json",
			`{"manifests":[{"annotations":{"org.opencontainers.image.ref.name":"victim:tag"}}]}`)), `tags "victim:tag" (in its index.json)`},
		{"index.json other tag", export(t, blob, goodMeta, reg("index.json",
			`{"manifests":[{"annotations":{"org.opencontainers.image.ref.name":"tag"}}]}`)), `tags "tag" (in its index.json)`},
		{"index.json annotations twice", export(t, blob, goodMeta, reg("index.json",
			`{"manifests":[{"annotations":{"io.containerd.image.name":"victim:tag"},"Annotations":{}}]}`)), `key "Annotations" appears twice`},
		{"repositories", export(t, blob, goodMeta, reg("repositories", `{"victim":{"tag":"`+strings.Repeat("a", 64)+`"}}`)), `tags "victim:tag" (in its repositories)`},
		{"manifest is a link", export(t, blob, link("manifest.json", "blobs/sha256/"+strings.Repeat("a", 64))), "its manifest.json is not a plain file"},
		{"manifest through a link", export(t, blob, link("x", "."), reg("x/manifest.json", `[{"RepoTags":["victim:tag"]}]`), goodMeta), `holds entry "x/manifest.json" inside the link "x"`},
		{"manifest twice", export(t, blob, goodMeta, reg("./manifest.json", `[{"RepoTags":["victim:tag"]}]`)), "holds manifest.json twice"},
		{"manifest in capitals", export(t, blob, goodMeta, reg("MANIFEST.JSON", `[{"RepoTags":["victim:tag"]}]`)), `holds "MANIFEST.JSON"`},
		{"no manifest", export(t, blob), "it has no manifest.json"},
		{"not a tar", "hello, this is no export", "is not a valid image export"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := imageBundle(t, tc.exp)
			d := victimEngine()
			home := t.TempDir()
			_, err := load(t, p, home, d, false)
			t.Log(err)
			if !errors.Is(err, ErrUnsafe) || !strings.Contains(err.Error(), tc.msg) || !strings.HasPrefix(err.Error(), p+": bundle holds an unsafe entry: images.tar ") {
				t.Fatalf("err = %v, want ErrUnsafe saying %q", err, tc.msg)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("not one line: %q", err)
			}
			if len(d.loaded) != 0 {
				t.Errorf("Docker loaded %d export(s)", len(d.loaded))
			}
			unchanged(t, d)
			if store.Installed(home) != nil {
				t.Errorf("installed %v", store.Installed(home))
			}
			leftovers(t, home)
		})
	}
}

// An export whose names are all the bundle's loads; Docker receives it
// with no names and modelhub tags the image.
func TestLoadExportNamesStripped(t *testing.T) {
	exp := export(t, blob, goodMeta,
		reg("index.json", `{"schemaVersion":2,"manifests":[{"digest":"sha256:`+strings.Repeat("a", 64)+`","annotations":{"io.containerd.image.name":"docker.io/library/img:1","org.opencontainers.image.ref.name":"1","other":"kept"}}]}`),
		reg("repositories", `{"img":{"1":"`+strings.Repeat("a", 64)+`"}}`))
	p := imageBundle(t, exp)
	d := &fakeImages{
		images: map[string]dockerrun.Image{"victim:tag": {ID: victimID}},
		byID:   map[string]dockerrun.Image{victimID: {ID: victimID}},
		onLoad: map[string]dockerrun.Image{"img:1": {ID: fakeID}},
	}
	var sent []byte
	d.load = func(r io.Reader) ([]string, error) {
		var err error
		sent, err = io.ReadAll(r)
		if err != nil {
			return nil, err
		}
		d.byID[fakeID] = dockerrun.Image{ID: fakeID}
		return []string{fakeID}, nil
	}
	res, err := load(t, p, t.TempDir(), d, false)
	if err != nil {
		t.Fatal(err)
	}
	if !res.ImagesLoaded || d.images["img:1"].ID != fakeID || d.images["victim:tag"].ID != victimID {
		t.Errorf("loaded %v, tags %v", res.ImagesLoaded, d.images)
	}
	files := map[string]string{}
	tr := tar.NewReader(bytes.NewReader(sent))
	for {
		hdr, err := tr.Next()
		if err != nil {
			if err != io.EOF {
				t.Fatal(err)
			}
			break
		}
		b, _ := io.ReadAll(tr)
		files[hdr.Name] = string(b)
	}
	if len(files) != 3 || files[blob.hdr.Name] != blob.body {
		t.Errorf("Docker received %v", keys(files))
	}
	if m := files["manifest.json"]; m != `[{"Config":"blobs/sha256/`+strings.Repeat("a", 64)+`","Layers":[]}]` {
		t.Errorf("manifest.json sent: %s", m)
	}
	if m := files["index.json"]; m != `{"schemaVersion":2,"manifests":[{"digest":"sha256:`+strings.Repeat("a", 64)+`","annotations":{"other":"kept"}}]}` {
		t.Errorf("index.json sent: %s", m)
	}
}

// A load that fails after Docker could have read the export leaves Docker
// as it was.
func TestLoadFailureLeavesDocker(t *testing.T) {
	exp := export(t, blob, goodMeta)
	t.Run("extra entry after images.tar", func(t *testing.T) {
		d := victimEngine()
		_, err := load(t, imageBundle(t, exp, reg("models/demo/more", "y")), t.TempDir(), d, false)
		if !errors.Is(err, ErrDamaged) || !strings.Contains(err.Error(), "entries its manifest does not list") {
			t.Fatalf("err = %v", err)
		}
		if len(d.loaded) != 0 {
			t.Errorf("Docker loaded %d export(s)", len(d.loaded))
		}
		unchanged(t, d)
	})
	t.Run("tagging fails", func(t *testing.T) {
		d := victimEngine()
		d.tag = func(source, target string) error { return errors.New("tag: engine gone") }
		_, err := load(t, imageBundle(t, exp), t.TempDir(), d, false)
		if err == nil || !strings.Contains(err.Error(), "engine gone") {
			t.Fatalf("err = %v", err)
		}
		if len(d.loaded) != 1 {
			t.Errorf("Docker loaded %d export(s)", len(d.loaded))
		}
		unchanged(t, d)
	})
	t.Run("the check after tagging fails", func(t *testing.T) {
		d := victimEngine()
		calls := 0
		d.inspect = func(ref string) (dockerrun.Image, error) {
			d.mu.Lock()
			defer d.mu.Unlock()
			if ref == "img:1" {
				calls++
				if calls > 2 { // after tagging
					return dockerrun.Image{ID: victimID}, nil
				}
			}
			return d.lookup(ref)
		}
		_, err := load(t, imageBundle(t, exp), t.TempDir(), d, false)
		if err == nil || !strings.Contains(err.Error(), "after loading, the bundle says") {
			t.Fatalf("err = %v", err)
		}
		unchanged(t, d)
	})
	t.Run("Docker fails", func(t *testing.T) {
		d := victimEngine()
		d.load = func(r io.Reader) ([]string, error) {
			io.Copy(io.Discard, r)
			d.mu.Lock()
			d.byID[fakeID] = dockerrun.Image{ID: fakeID} // half loaded
			d.mu.Unlock()
			return nil, errors.New("load images: no space left on device")
		}
		_, err := load(t, imageBundle(t, exp), t.TempDir(), d, false)
		if err == nil || !strings.Contains(err.Error(), "no space left") {
			t.Fatalf("err = %v", err)
		}
		unchanged(t, d)
	})
}

func TestManifestImages(t *testing.T) {
	exp := export(t, blob, goodMeta)
	for _, tc := range []struct {
		name string
		edit func(m map[string]any)
		msg  string
	}{
		{"not a model's image", func(m map[string]any) { m["images"].([]any)[0].(map[string]any)["ref"] = "victim:tag" }, `image "victim:tag" is not the image of a listed model`},
		{"invalid ID", func(m map[string]any) { m["images"].([]any)[0].(map[string]any)["id"] = "victim:tag" }, `has an invalid ID "victim:tag"`},
		{"invalid name", func(m map[string]any) {
			m["images"].([]any)[0].(map[string]any)["ref"] = "Bad Name"
			m["models"].([]any)[0].(map[string]any)["docker_id"] = "Bad Name"
		}, `image "Bad Name" is not a valid image name`},
		{"listed twice", func(m map[string]any) {
			im := m["images"].([]any)[0]
			m["images"] = []any{im, im}
		}, "is listed twice"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := imageBundle(t, exp)
			b, _ := os.ReadFile(p)
			tr := tar.NewReader(bytes.NewReader(b))
			tr.Next()
			data, _ := io.ReadAll(tr)
			var m map[string]any
			json.Unmarshal(data, &m)
			tc.edit(m)
			p = craft(t, m)
			_, err := Read(p)
			if !errors.Is(err, ErrUnsafe) || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("err = %v, want %q", err, tc.msg)
			}
		})
	}
}
