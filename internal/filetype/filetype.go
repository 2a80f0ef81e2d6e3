// Package filetype is modelhub's one table of file types: each type's media
// type (as the modelhub engine names it), its extensions, the words the web
// UI shows and its kind; and the one place that tells a file's type from its
// name and first bytes (DICOM by its magic, with or without a .dcm name).
// predict, the web UI and the DICOM code read it.
//
// The package is a leaf: it imports nothing of modelhub, so the leaf
// packages (webui) may import it.
package filetype

import (
	"bytes"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// Media types the modelhub engine uses for medical formats (its own
// additions to Python's mimetypes; see the engine's _modify_mime_types), and
// the others modelhub names.
const (
	NII     = "application/nii"
	NIIGzip = "application/nii-gzip"
	NRRD    = "application/nrrd"
	DICOM   = "application/dicom"
	Numpy   = "application/octet-stream" // .npy, as the engine names it
	Gzip    = "application/gzip"
	JSON    = "application/json"
	PNG     = "image/png"
	JPEG    = "image/jpeg"
	Unknown = "application/octet-stream"
)

// Kind is what a type holds.
type Kind string

const (
	KindImage   Kind = "image"   // a 2-d picture a browser can show (PNG, JPEG, …)
	KindVolume  Kind = "volume"  // a medical volume (NIfTI, NRRD)
	KindDICOM   Kind = "dicom"   // a DICOM file (one slice, or a multi-frame object)
	KindArray   Kind = "array"   // an n-d array (.npy)
	KindJSON    Kind = "json"    // JSON (a multi-input case names one file per input)
	KindArchive Kind = "archive" // compressed bytes whose meaning the name gives
	KindText    Kind = "text"
)

// Type is one row of the table.
type Type struct {
	// Media is the media type the engine uses.
	Media string
	// Exts are the file name endings, lower case, the usual one first.
	Exts []string
	// Name is what the web UI calls a file of this type.
	Name string
	Kind Kind
}

// table is every type modelhub knows, the engine's table for the types models
// declare. Extensions are matched longest first (.nii.gz before .gz).
var table = []Type{
	{NIIGzip, []string{".nii.gz"}, "compressed NIfTI volume (.nii.gz)", KindVolume},
	{NII, []string{".nii"}, "NIfTI volume (.nii)", KindVolume},
	{NRRD, []string{".nrrd", ".nhdr"}, "NRRD volume (.nrrd)", KindVolume},
	{DICOM, []string{".dcm"}, "DICOM file", KindDICOM},
	{Numpy, []string{".npy"}, "NumPy array or other binary file (.npy)", KindArray},
	{JSON, []string{".json"}, "JSON file naming one file per input", KindJSON},
	{PNG, []string{".png"}, "PNG image", KindImage},
	{JPEG, []string{".jpg", ".jpeg"}, "JPEG image", KindImage},
	{"image/gif", []string{".gif"}, "GIF image", KindImage},
	{"image/bmp", []string{".bmp"}, "BMP image", KindImage},
	{"image/tiff", []string{".tif", ".tiff"}, "TIFF image", KindImage},
	{"image/webp", []string{".webp"}, "WebP image", KindImage},
	{Gzip, []string{".gz"}, "gzip-compressed file", KindArchive},
	{"text/plain", []string{".txt"}, "text file", KindText},
	{"text/csv", []string{".csv"}, "CSV table", KindText},
}

// byExt is every (extension, type) of table, longest extension first.
var byExt = func() []struct {
	ext string
	t   *Type
} {
	var out []struct {
		ext string
		t   *Type
	}
	for i := range table {
		for _, e := range table[i].Exts {
			out = append(out, struct {
				ext string
				t   *Type
			}{e, &table[i]})
		}
	}
	// stable by length, longest first: .nii.gz before .gz, .jpeg before .jpg's peers
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && len(out[j].ext) > len(out[j-1].ext); j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}()

// ByName is the type a file name's ending implies.
func ByName(name string) (Type, bool) {
	lower := strings.ToLower(name)
	for _, e := range byExt {
		if strings.HasSuffix(lower, e.ext) {
			return *e.t, true
		}
	}
	return Type{}, false
}

// MediaOfName is the media type a file name's ending implies, "" if none.
func MediaOfName(name string) string {
	t, _ := ByName(name)
	return t.Media
}

// ByMedia is the row of a media type (aliases such as image/jpg included).
// Numpy and Unknown share application/octet-stream: its row is .npy's.
func ByMedia(media string) (Type, bool) {
	c := Canonical(media)
	for _, t := range table {
		if t.Media == c {
			return t, true
		}
	}
	return Type{}, false
}

// DisplayName is the web UI's words for a media type: its table name, the
// media type itself when unknown.
func DisplayName(media string) string {
	if t, ok := ByMedia(media); ok {
		return t.Name
	}
	return media
}

// Exts are the file name endings of a media type, for a file chooser's
// accept list; a gzip-compressed NIfTI is also offered .gz.
func Exts(media string) []string {
	c := Canonical(media)
	t, ok := ByMedia(c)
	if !ok {
		return nil
	}
	if c == NIIGzip {
		return append(append([]string(nil), t.Exts...), ".gz")
	}
	return t.Exts
}

// Browsable reports whether a browser shows a file of this name as an image.
func Browsable(name string) bool {
	t, ok := ByName(name)
	return ok && t.Kind == KindImage && t.Media != "image/tiff"
}

// Ext is the extension of a file name or URL path, as written: the last
// one, or a two-part one (.nii.gz, .tar.gz) whole.
func Ext(name string) string {
	base := path.Base(filepath.ToSlash(name))
	lower := strings.ToLower(base)
	for _, e := range []string{".nii.gz", ".tar.gz"} {
		if strings.HasSuffix(lower, e) {
			return base[len(base)-len(e):]
		}
	}
	return path.Ext(base)
}

// Stem is a file name without its type's extension: t1.nii.gz -> t1, a.png -> a.
func Stem(name string) string {
	base := filepath.Base(name)
	lower := strings.ToLower(base)
	for _, e := range byExt {
		if strings.HasSuffix(lower, e.ext) {
			return base[:len(base)-len(e.ext)]
		}
	}
	return strings.TrimSuffix(base, filepath.Ext(base))
}

// aliases are spellings of the same type in model configs.
var aliases = map[string]string{
	"image/jpg":              JPEG,
	"image/pjpeg":            JPEG,
	"application/x-nii-gzip": NIIGzip,
	"application/x-nifti":    NII,
	"application/x-gzip":     Gzip,
	"application/x-npy":      Numpy,
	"application/dicom+json": DICOM,
}

// Canonical is a media type in lower case with its alias resolved.
func Canonical(t string) string {
	t = strings.ToLower(strings.TrimSpace(t))
	if a, ok := aliases[t]; ok {
		return a
	}
	return t
}

// Accepts reports whether media is one of formats (aliases such as image/jpg
// and image/jpeg are the same type).
func Accepts(formats []string, media string) bool {
	c := Canonical(media)
	for _, f := range formats {
		if Canonical(f) == c {
			return true
		}
	}
	return false
}

// HeadLen is how many first bytes Sniff and Of look at.
const HeadLen = 352

// dicomMagicAt is where a DICOM file (Part 10) says "DICM", after its preamble.
const dicomMagicAt = 128

// IsDICOM reports whether a file's first bytes are a DICOM file's (Part 10:
// "DICM" after the 128-byte preamble), whatever its name.
func IsDICOM(head []byte) bool {
	return len(head) >= dicomMagicAt+4 && bytes.Equal(head[dicomMagicAt:dicomMagicAt+4], []byte("DICM"))
}

// Sniff names the media type of content, "" when the bytes say nothing certain.
func Sniff(head []byte) string {
	switch {
	case bytes.HasPrefix(head, []byte("\x89PNG\r\n\x1a\n")):
		return PNG
	case bytes.HasPrefix(head, []byte{0xff, 0xd8, 0xff}):
		return JPEG
	case bytes.HasPrefix(head, []byte("GIF87a")), bytes.HasPrefix(head, []byte("GIF89a")):
		return "image/gif"
	case bytes.HasPrefix(head, []byte("BM")) && len(head) > 14:
		return "image/bmp"
	case bytes.HasPrefix(head, []byte("II*\x00")), bytes.HasPrefix(head, []byte("MM\x00*")):
		return "image/tiff"
	case len(head) >= 12 && bytes.Equal(head[:4], []byte("RIFF")) && bytes.Equal(head[8:12], []byte("WEBP")):
		return "image/webp"
	case bytes.HasPrefix(head, []byte{0x1f, 0x8b}):
		return Gzip
	case bytes.HasPrefix(head, []byte("\x93NUMPY")):
		return Numpy
	case bytes.HasPrefix(head, []byte("NRRD")):
		return NRRD
	case IsDICOM(head):
		return DICOM
	case len(head) >= 348 && (bytes.Equal(head[344:348], []byte("n+1\x00")) || bytes.Equal(head[344:348], []byte("ni1\x00"))):
		return NII
	}
	t := bytes.TrimLeft(head, " \t\r\n\ufeff")
	if len(t) > 0 && (t[0] == '{' || t[0] == '[') {
		return JSON
	}
	return ""
}

// Detect names the media type of the file at path from its first bytes and
// its name, as the engine does (see Of).
func Detect(p string) (string, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	head, err := ReadHead(f)
	if err != nil {
		return "", err
	}
	return Of(head, filepath.Base(p)), nil
}

// ReadHead reads the first HeadLen bytes of r (fewer at its end).
func ReadHead(r io.Reader) ([]byte, error) {
	head := make([]byte, HeadLen)
	n, err := io.ReadFull(r, head)
	if err != nil && err != io.ErrUnexpectedEOF && err != io.EOF {
		return nil, err
	}
	return head[:n], nil
}

// Of names the media type of content whose first bytes are head and whose
// file name is name: content first (a PNG named .jpg is a PNG), the name when
// the content is not conclusive or is a container whose meaning the name
// gives (gzip + .nii.gz = application/nii-gzip).
func Of(head []byte, name string) string {
	byName := MediaOfName(name)
	got := Sniff(head)
	switch {
	case got == "":
		if byName == JSON { // not JSON content: trust the bytes, not the name
			return Unknown
		}
		if byName == "" {
			return Unknown
		}
		return byName
	case got == Gzip && byName == NIIGzip:
		return NIIGzip
	case got == NII && byName == NII, got == NRRD, got == DICOM:
		return got
	case got == JSON && byName != JSON:
		// text that merely starts with a brace: only a .json name makes it JSON
		if byName == "" {
			return Unknown
		}
		return byName
	}
	return got
}
