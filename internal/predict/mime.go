package predict

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// Type names used by the modelhub engine for medical formats (its own
// additions to Python's mimetypes; see the engine's _modify_mime_types).
const (
	TypeNII      = "application/nii"
	TypeNIIGzip  = "application/nii-gzip"
	TypeNRRD     = "application/nrrd"
	TypeDICOM    = "application/dicom"
	TypeNumpy    = "application/octet-stream" // .npy, as the engine names it
	TypeGzip     = "application/gzip"
	TypeUnknown  = "application/octet-stream"
	sniffLen     = 512
	dicomMagicAt = 128
)

// byExtension maps file name endings to types, longest first where it matters
// (.nii.gz before .gz). It is the engine's table for the types models declare.
var byExtension = []struct{ ext, typ string }{
	{".nii.gz", TypeNIIGzip},
	{".nii", TypeNII},
	{".nrrd", TypeNRRD},
	{".nhdr", TypeNRRD},
	{".dcm", TypeDICOM},
	{".npy", TypeNumpy},
	{".json", TypeJSON},
	{".png", "image/png"},
	{".jpg", "image/jpeg"},
	{".jpeg", "image/jpeg"},
	{".gif", "image/gif"},
	{".bmp", "image/bmp"},
	{".tif", "image/tiff"},
	{".tiff", "image/tiff"},
	{".webp", "image/webp"},
	{".gz", TypeGzip},
	{".txt", "text/plain"},
	{".csv", "text/csv"},
}

// extType is the type a file name's ending implies, "" if none.
func extType(name string) string {
	lower := strings.ToLower(name)
	for _, e := range byExtension {
		if strings.HasSuffix(lower, e.ext) {
			return e.typ
		}
	}
	return ""
}

// Stem is a file name without its type's extension: t1.nii.gz -> t1, a.png -> a.
func Stem(name string) string {
	base := filepath.Base(name)
	lower := strings.ToLower(base)
	for _, e := range byExtension {
		if strings.HasSuffix(lower, e.ext) {
			return base[:len(base)-len(e.ext)]
		}
	}
	return strings.TrimSuffix(base, filepath.Ext(base))
}

// sniff names the type of content, "" when the bytes say nothing certain.
func sniff(head []byte) string {
	switch {
	case bytes.HasPrefix(head, []byte("\x89PNG\r\n\x1a\n")):
		return "image/png"
	case bytes.HasPrefix(head, []byte{0xff, 0xd8, 0xff}):
		return "image/jpeg"
	case bytes.HasPrefix(head, []byte("GIF87a")), bytes.HasPrefix(head, []byte("GIF89a")):
		return "image/gif"
	case bytes.HasPrefix(head, []byte("BM")) && len(head) > 14:
		return "image/bmp"
	case bytes.HasPrefix(head, []byte("II*\x00")), bytes.HasPrefix(head, []byte("MM\x00*")):
		return "image/tiff"
	case len(head) >= 12 && bytes.Equal(head[:4], []byte("RIFF")) && bytes.Equal(head[8:12], []byte("WEBP")):
		return "image/webp"
	case bytes.HasPrefix(head, []byte{0x1f, 0x8b}):
		return TypeGzip
	case bytes.HasPrefix(head, []byte("\x93NUMPY")):
		return TypeNumpy
	case bytes.HasPrefix(head, []byte("NRRD")):
		return TypeNRRD
	case len(head) >= dicomMagicAt+4 && bytes.Equal(head[dicomMagicAt:dicomMagicAt+4], []byte("DICM")):
		return TypeDICOM
	case len(head) >= 348 && (bytes.Equal(head[344:348], []byte("n+1\x00")) || bytes.Equal(head[344:348], []byte("ni1\x00"))):
		return TypeNII
	}
	t := bytes.TrimLeft(head, " \t\r\n\ufeff")
	if len(t) > 0 && (t[0] == '{' || t[0] == '[') {
		return TypeJSON
	}
	return ""
}

// DetectType names the type of the file at path from its first bytes and its
// name, as the engine does: content first (a PNG named .jpg is a PNG), the
// name when the content is not conclusive or is a container whose meaning
// the name gives (gzip + .nii.gz = application/nii-gzip).
func DetectType(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	head := make([]byte, 352)
	n, err := io.ReadFull(f, head)
	if err != nil && err != io.ErrUnexpectedEOF && err != io.EOF {
		return "", err
	}
	return typeOf(head[:n], filepath.Base(path)), nil
}

func typeOf(head []byte, name string) string {
	byName := extType(name)
	got := sniff(head)
	switch {
	case got == "":
		if byName == TypeJSON { // not JSON content: trust the bytes, not the name
			return TypeUnknown
		}
		if byName == "" {
			return TypeUnknown
		}
		return byName
	case got == TypeGzip && byName == TypeNIIGzip:
		return TypeNIIGzip
	case got == TypeNII && byName == TypeNII, got == TypeNRRD, got == TypeDICOM:
		return got
	case got == TypeJSON && byName != TypeJSON:
		// text that merely starts with a brace: only a .json name makes it JSON
		if byName == "" {
			return TypeUnknown
		}
		return byName
	}
	return got
}

// aliases are spellings of the same type in model configs.
var aliases = map[string]string{
	"image/jpg":              "image/jpeg",
	"image/pjpeg":            "image/jpeg",
	"application/x-nii-gzip": TypeNIIGzip,
	"application/x-nifti":    TypeNII,
	"application/x-gzip":     TypeGzip,
	"application/x-npy":      TypeNumpy,
	"application/dicom+json": TypeDICOM,
}

func canonical(t string) string {
	t = strings.ToLower(strings.TrimSpace(t))
	if a, ok := aliases[t]; ok {
		return a
	}
	return t
}

// Accepts reports whether typ is one of formats (aliases such as image/jpg
// and image/jpeg are the same type).
func Accepts(formats []string, typ string) bool {
	c := canonical(typ)
	for _, f := range formats {
		if canonical(f) == c {
			return true
		}
	}
	return false
}
