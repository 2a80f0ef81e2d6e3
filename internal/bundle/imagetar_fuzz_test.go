package bundle

import (
	"strings"
	"testing"
)

// FuzzCheckMeta: checkMeta never panics, and what it passes on names no
// image at all (checked again with nothing allowed, it passes unchanged).
func FuzzCheckMeta(f *testing.F) {
	h := strings.Repeat("a", 64)
	for _, s := range []struct {
		file uint8
		data string
	}{
		{0, `[{"Config":"blobs/sha256/` + h + `","RepoTags":["img:1"],"Layers":["blobs/sha256/` + h + `"]}]`},
		{0, `[{"Config":"` + h + `.json","RepoTags":null,"Layers":[]}]`},
		{0, `[{"repotags":["victim:tag"]}]`},
		{0, `[{"RepoTags":["img:1"],"RepoTag\u017f":["victim"]}]`},
		{0, `[{"RepoTags":["img:1"]}] junk`},
		{0, `null`},
		{1, `{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:` + h + `","size":1,"annotations":{"io.containerd.image.name":"docker.io/library/img:1","org.opencontainers.image.ref.name":"1"}}]}`},
		{1, `{"manifests":[{"annotations":{"org.opencontainers.image.ref.name":"victim:tag"}}],"Manifests":[]}`},
		{1, `{"manifests":[{"annotations":null}]}`},
		{2, `{"img":{"1":"` + h + `"}}`},
		{2, `{"victim":{"tag":"x"}}`},
	} {
		f.Add(s.file, []byte(s.data))
	}
	names := []string{exportManifest, exportIndex, exportRepos}
	allowed := newAllowed([]Image{{Ref: "img:1", ID: fakeID}})
	none := newAllowed(nil)
	f.Fuzz(func(t *testing.T, file uint8, data []byte) {
		name := names[int(file)%len(names)]
		clean, _, err := checkMeta(name, data, allowed)
		if err != nil || clean == nil {
			return
		}
		again, _, err := checkMeta(name, clean, none)
		if err != nil {
			t.Fatalf("%s %q passed as %q, which names an image: %v", name, data, clean, err)
		}
		if string(again) != string(clean) {
			t.Fatalf("%s: not stable: %q then %q", name, clean, again)
		}
	})
}
