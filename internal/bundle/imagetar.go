package bundle

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"regexp"
	"sort"
	"strings"

	"github.com/distribution/reference"
)

// An image export (images.tar, what `docker save` writes) names the images
// it holds in three places, and `docker load` tags whatever they say:
// manifest.json's RepoTags (the classic engine), the annotations of
// index.json's manifests (the containerd image store), and the legacy
// repositories file. A bundle may tag only the images its own manifest
// lists. So load checks every name in those files against the manifest,
// refusing the bundle on one it does not list, and sends Docker the export
// with no names at all (repositories dropped, the others rewritten without
// them, written last); it tags the listed images itself once the load
// succeeded. What Docker receives is what was checked: the files are
// re-encoded from what was parsed, not passed through.

// maxImageMeta bounds one metadata file of an export (held in memory).
const maxImageMeta = 16 << 20

// Metadata files of an export, at its root.
const (
	exportManifest = "manifest.json"
	exportIndex    = "index.json"
	exportRepos    = "repositories"
)

// Annotations of index.json that name an image.
const (
	annotationImageName = "io.containerd.image.name"
	annotationRefName   = "org.opencontainers.image.ref.name"
)

// errExport is an export that is not what `docker save` writes, or names
// an image the bundle does not list.
var errExport = fmt.Errorf("%w: %s", ErrUnsafe, ImagesName)

// refKey is the form of an image reference names are compared in: fully
// qualified, with a tag (docker.io/library/img:latest).
func refKey(ref string) (string, error) {
	n, err := reference.ParseNormalizedNamed(ref)
	if err != nil {
		return "", err
	}
	return reference.TagNameOnly(n).String(), nil
}

// allowedNames are the names an export may give: the bundle's images.
type allowedNames struct {
	refs map[string]bool // refKey
	tags map[string]bool // the tags alone (index.json's ref.name)
}

func newAllowed(images []Image) allowedNames {
	a := allowedNames{refs: map[string]bool{}, tags: map[string]bool{}}
	for _, im := range images {
		k, err := refKey(im.Ref)
		if err != nil {
			continue // Manifest.check refuses it
		}
		a.refs[k] = true
		if i := strings.LastIndexByte(k, ':'); i > strings.LastIndexByte(k, '/') {
			a.tags[k[i+1:]] = true
		}
	}
	return a
}

var tagRE = regexp.MustCompile(`^[\w][\w.-]{0,127}$`)

// ref checks one name of an export: a reference the bundle lists.
func (a allowedNames) ref(where, name string) error {
	k, err := refKey(name)
	if err != nil || !a.refs[k] {
		return nameErr(where, name)
	}
	return nil
}

// refName checks index.json's org.opencontainers.image.ref.name: a tag of
// a listed image, or a listed reference.
func (a allowedNames) refName(where, name string) error {
	if tagRE.MatchString(name) {
		if a.tags[name] {
			return nil
		}
		return nameErr(where, name)
	}
	return a.ref(where, name)
}

func nameErr(where, name string) error {
	return fmt.Errorf("%w tags %q (in its %s), an image the bundle does not list; the bundle was altered after it was saved, nothing was loaded", errExport, name, where)
}

// member is one key and value of a JSON object, in order.
type member struct {
	key string
	val json.RawMessage
}

// parseObject reads a JSON object keeping its members in order. A key
// given twice is refused: Go's decoder (Docker's) matches keys ignoring
// case and merges repeated objects, so a repeat could hide a name; foldCase
// says whether keys that differ only in case count as the same.
func parseObject(data []byte, foldCase bool) ([]member, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, errors.New("not a JSON object")
	}
	var ms []member
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		key, ok := tok.(string)
		if !ok {
			return nil, errors.New("not a JSON object")
		}
		for _, m := range ms {
			if m.key == key || (foldCase && strings.EqualFold(m.key, key)) {
				return nil, fmt.Errorf("key %q appears twice", key)
			}
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, err
		}
		ms = append(ms, member{key, raw})
	}
	if _, err := dec.Token(); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("data after the JSON value")
	}
	return ms, nil
}

// parseArray reads a JSON array (null is an empty one).
func parseArray(data []byte) ([]json.RawMessage, error) {
	if string(bytes.TrimSpace(data)) == "null" {
		return nil, nil
	}
	var arr []json.RawMessage
	if err := json.Unmarshal(data, &arr); err != nil {
		return nil, errors.New("not a JSON array")
	}
	if arr == nil {
		return nil, errors.New("not a JSON array")
	}
	return arr, nil
}

// writeObject encodes members as a JSON object.
func writeObject(ms []member) json.RawMessage {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, m := range ms {
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(m.key)
		b.Write(k)
		b.WriteByte(':')
		b.Write(m.val)
	}
	b.WriteByte('}')
	return b.Bytes()
}

func writeArray(vals []json.RawMessage) json.RawMessage {
	if vals == nil {
		vals = []json.RawMessage{}
	}
	b, _ := json.Marshal(vals)
	return b
}

// blobID turns a blob path of an export ("blobs/sha256/HEX", or "HEX.json"
// in older exports) into an image ID, or "".
func blobID(p string) string {
	p = strings.TrimSuffix(strings.TrimPrefix(p, "blobs/sha256/"), ".json")
	if hexRE.MatchString(p) {
		return "sha256:" + p
	}
	return ""
}

var hexRE = regexp.MustCompile(`^[0-9a-f]{64}$`)

// exportMeta is the checked metadata of an export.
type exportMeta struct {
	// files are the metadata files to send Docker, without names, by name.
	files map[string][]byte
	// ids are the image IDs the metadata mentions (configurations,
	// manifests): what a load may add.
	ids []string
}

// checkMeta checks one metadata file of an export (name is its path in
// the export) against the names allowed and returns it without names (nil:
// drop it). Errors wrap errExport.
func checkMeta(name string, data []byte, allowed allowedNames) (clean []byte, ids []string, err error) {
	switch name {
	case exportManifest:
		return checkExportManifest(name, data, allowed)
	case exportIndex:
		return checkExportIndex(name, data, allowed)
	case exportRepos:
		return nil, nil, checkExportRepos(name, data, allowed)
	}
	return data, nil, nil
}

// badMeta is the error of the metadata file name of an export.
func badMeta(name, format string, args ...any) error {
	return fmt.Errorf("%w is not a valid image export: its %s %s", errExport, name, fmt.Sprintf(format, args...))
}

// checkExportManifest checks manifest.json (Docker's list of images): every
// RepoTags name must be allowed; RepoTags are dropped, the configurations'
// IDs returned.
func checkExportManifest(name string, data []byte, allowed allowedNames) (clean []byte, ids []string, err error) {
	items, err := parseArray(data)
	if err != nil {
		return nil, nil, badMeta(name, "is %v", err)
	}
	out := make([]json.RawMessage, 0, len(items))
	for i, it := range items {
		ms, err := parseObject(it, true)
		if err != nil {
			return nil, nil, badMeta(name, "item %d: %v", i+1, err)
		}
		var keep []member
		for _, m := range ms {
			switch {
			case strings.EqualFold(m.key, "RepoTags"):
				tags, err := parseArray(m.val)
				if err != nil {
					return nil, nil, badMeta(name, "item %d: RepoTags is %v", i+1, err)
				}
				for _, t := range tags {
					var s string
					if err := json.Unmarshal(t, &s); err != nil {
						return nil, nil, badMeta(name, "item %d: RepoTags holds a value that is not a string", i+1)
					}
					if err := allowed.ref(name, s); err != nil {
						return nil, nil, err
					}
				}
				continue
			case strings.EqualFold(m.key, "Config"):
				var s string
				if json.Unmarshal(m.val, &s) == nil {
					if id := blobID(s); id != "" {
						ids = append(ids, id)
					}
				}
			}
			keep = append(keep, m)
		}
		out = append(out, writeObject(keep))
	}
	return writeArray(out), ids, nil
}

// checkExportIndex checks index.json (the OCI index): every image name in
// the manifests' annotations must be allowed; those annotations are
// dropped, the manifests' digests returned.
func checkExportIndex(name string, data []byte, allowed allowedNames) (clean []byte, ids []string, err error) {
	ms, err := parseObject(data, true)
	if err != nil {
		return nil, nil, badMeta(name, "is %v", err)
	}
	for mi, m := range ms {
		if !strings.EqualFold(m.key, "manifests") {
			continue
		}
		descs, err := parseArray(m.val)
		if err != nil {
			return nil, nil, badMeta(name, "manifests is %v", err)
		}
		for di, d := range descs {
			dms, err := parseObject(d, true)
			if err != nil {
				return nil, nil, badMeta(name, "manifest %d: %v", di+1, err)
			}
			for ai, a := range dms {
				switch {
				case strings.EqualFold(a.key, "digest"):
					var s string
					if json.Unmarshal(a.val, &s) == nil && strings.HasPrefix(s, "sha256:") && hexRE.MatchString(s[7:]) {
						ids = append(ids, s)
					}
				case strings.EqualFold(a.key, "annotations"):
					if string(bytes.TrimSpace(a.val)) == "null" {
						continue
					}
					kept, err := checkAnnotations(name, di, a.val, allowed)
					if err != nil {
						return nil, nil, err
					}
					dms[ai].val = kept
				}
			}
			descs[di] = writeObject(dms)
		}
		ms[mi].val = writeArray(descs)
	}
	return writeObject(ms), ids, nil
}

// checkAnnotations checks the annotations of the index's manifest di: an
// image name (annotationImageName, annotationRefName) must be allowed and is
// dropped; the others are kept.
func checkAnnotations(name string, di int, val json.RawMessage, allowed allowedNames) (json.RawMessage, error) {
	ams, err := parseObject(val, false)
	if err != nil {
		return nil, badMeta(name, "manifest %d: annotations: %v", di+1, err)
	}
	var keep []member
	for _, am := range ams {
		if am.key != annotationImageName && am.key != annotationRefName {
			keep = append(keep, am)
			continue
		}
		var s string
		if err := json.Unmarshal(am.val, &s); err != nil {
			return nil, badMeta(name, "manifest %d: annotation %s is not a string", di+1, am.key)
		}
		check := allowed.ref
		if am.key == annotationRefName {
			check = allowed.refName
		}
		if err := check(name, s); err != nil {
			return nil, err
		}
	}
	return writeObject(keep), nil
}

// checkExportRepos checks repositories (the legacy name → tag → ID map):
// every name:tag must be allowed. The file itself is dropped.
func checkExportRepos(name string, data []byte, allowed allowedNames) error {
	ms, err := parseObject(data, false)
	if err != nil {
		return badMeta(name, "is %v", err)
	}
	for _, m := range ms {
		tags, err := parseObject(m.val, false)
		if err != nil {
			return badMeta(name, "%s: %v", m.key, err)
		}
		for _, t := range tags {
			if err := allowed.ref(name, m.key+":"+t.key); err != nil {
				return err
			}
		}
	}
	return nil
}

// cleanName is the path an extracting loader writes an export entry to,
// relative to the export's root.
func cleanName(name string) string {
	return strings.TrimPrefix(path.Clean("/"+name), "/")
}

// filterExport copies the image export read from r to tw, an entry at a
// time, except its metadata files: those it checks against allowed and
// returns, without names, for the caller to write last. An entry that goes
// through a link, or metadata that is not a plain file, is refused. Errors
// wrap errExport, or are r's (a failed read) or tw's (a failed write, a
// pipeErr) as they are.
func filterExport(tw *tar.Writer, r io.Reader, allowed allowedNames, buf []byte) (*exportMeta, error) {
	tr := tar.NewReader(r)
	meta := &exportMeta{files: map[string][]byte{}}
	links := map[string]bool{}
	seen := map[string]bool{}
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			if errors.Is(err, tar.ErrHeader) || errors.Is(err, tar.ErrFieldTooLong) || errors.Is(err, tar.ErrInsecurePath) {
				return nil, fmt.Errorf("%w is not a valid image export: %v", errExport, err)
			}
			return nil, err
		}
		name := cleanName(hdr.Name)
		for dir := path.Dir(name); dir != "." && dir != "/"; dir = path.Dir(dir) {
			if links[dir] {
				return nil, fmt.Errorf("%w holds entry %q inside the link %q", errExport, hdr.Name, dir)
			}
		}
		switch hdr.Typeflag {
		case tar.TypeSymlink, tar.TypeLink:
			links[name] = true
		}
		switch low := strings.ToLower(name); low {
		case exportManifest, exportIndex, exportRepos:
			if name != low {
				// A case-insensitive file system would take it for the real one.
				return nil, fmt.Errorf("%w holds %q", errExport, hdr.Name)
			}
			if hdr.Typeflag != tar.TypeReg {
				return nil, fmt.Errorf("%w is not a valid image export: its %s is not a plain file", errExport, name)
			}
			if seen[name] {
				return nil, fmt.Errorf("%w holds %s twice", errExport, name)
			}
			seen[name] = true
			if hdr.Size > maxImageMeta {
				return nil, fmt.Errorf("%w is not a valid image export: its %s is %d bytes, more than the %d allowed", errExport, name, hdr.Size, maxImageMeta)
			}
			data, err := io.ReadAll(tr)
			if err != nil {
				return nil, err
			}
			clean, ids, err := checkMeta(name, data, allowed)
			if err != nil {
				return nil, err
			}
			if clean != nil {
				meta.files[name] = clean
			}
			meta.ids = append(meta.ids, ids...)
			continue
		}
		if err := tw.WriteHeader(hdr); err != nil {
			if isPipeErr(err) {
				return nil, err
			}
			return nil, fmt.Errorf("%w is not a valid image export: entry %q: %v", errExport, hdr.Name, err)
		}
		if _, err := io.CopyBuffer(tw, tr, buf); err != nil {
			return nil, err
		}
	}
	if meta.files[exportManifest] == nil {
		return nil, fmt.Errorf("%w is not a valid image export: it has no %s (docker save writes one)", errExport, exportManifest)
	}
	sort.Strings(meta.ids)
	return meta, nil
}

// writeMeta writes the checked metadata files into tw and closes it: the
// export is complete.
func (m *exportMeta) write(tw *tar.Writer) error {
	for _, name := range []string{exportManifest, exportIndex} {
		data, ok := m.files[name]
		if !ok {
			continue
		}
		if err := tw.WriteHeader(&tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(data))}); err != nil {
			return err
		}
		if _, err := tw.Write(data); err != nil {
			return err
		}
	}
	return tw.Close()
}

func isPipeErr(err error) bool {
	var pe pipeErr
	return errors.As(err, &pe)
}
