// Package safezip unpacks a zip archive from an untrusted source (a series
// uploaded through the web UI) into one folder and nowhere else. It treats the
// archive as hostile: names that would leave the folder (absolute, "..",
// drive letters), links, special files, duplicate names, encrypted entries and
// nested depth are refused, and the number of entries and the bytes actually
// decompressed are bounded (a zip bomb stops at the limit, whatever its
// headers claim). Every file is written through an os.Root of the folder.
package safezip

import (
	"archive/zip"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"
)

// Limits bound what one archive may unpack to. Zero fields take the defaults.
type Limits struct {
	Entries   int   // files and folders (default 20,000)
	Total     int64 // bytes decompressed, all files (default 4 GiB)
	File      int64 // bytes decompressed, one file (default 1 GiB)
	Depth     int   // folder levels of a name (default 16)
	NameBytes int   // bytes of a name (default 512)
}

func (l Limits) withDefaults() Limits {
	if l.Entries <= 0 {
		l.Entries = 20000
	}
	if l.Total <= 0 {
		l.Total = 4 << 30
	}
	if l.File <= 0 {
		l.File = 1 << 30
	}
	if l.Depth <= 0 {
		l.Depth = 16
	}
	if l.NameBytes <= 0 {
		l.NameBytes = 512
	}
	return l
}

// ErrRefused is wrapped by every refusal of a hostile or oversized archive.
var ErrRefused = errors.New("zip refused")

func refuse(format string, a ...any) error {
	return fmt.Errorf("%w: %s", ErrRefused, fmt.Sprintf(format, a...))
}

// Result is what was unpacked.
type Result struct {
	Files int   // regular files written
	Bytes int64 // bytes written
}

// IsZip reports whether the file at p starts like a zip archive (a local file
// header, or the end record of an empty archive).
func IsZip(p string) bool {
	f, err := os.Open(p)
	if err != nil {
		return false
	}
	defer f.Close()
	var b [4]byte
	if _, err := io.ReadFull(f, b[:]); err != nil {
		return false
	}
	return string(b[:]) == "PK\x03\x04" || string(b[:]) == "PK\x05\x06"
}

// Extract unpacks the archive at src into dir (which must exist and should be
// empty). On an error, what was written stays in dir for the caller to remove.
func Extract(ctx context.Context, src, dir string, lim Limits) (Result, error) {
	lim = lim.withDefaults()
	var res Result
	zr, err := zip.OpenReader(src)
	if err != nil {
		return res, refuse("not a readable zip archive (%v)", err)
	}
	defer zr.Close()
	if len(zr.File) > lim.Entries {
		return res, refuse("it holds %d entries, more than %d", len(zr.File), lim.Entries)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return res, err
	}
	defer root.Close()
	seen := map[string]bool{}
	for _, f := range zr.File {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		name, isDir, err := checkName(f.Name, lim)
		if err != nil {
			return res, err
		}
		if name == "" { // "./" or "/" alone
			continue
		}
		key := strings.ToLower(name) // case-insensitive file systems would merge them
		if seen[key] && !isDir {
			return res, refuse("the name %q appears twice", safeName(f.Name))
		}
		seen[key] = true
		mode := f.Mode()
		switch {
		case mode&fs.ModeSymlink != 0:
			return res, refuse("%q is a symbolic link; zip the files themselves", safeName(f.Name))
		case isDir || mode.IsDir():
			if err := root.MkdirAll(name, 0o755); err != nil {
				return res, fmt.Errorf("unpack %q: %w", safeName(f.Name), err)
			}
			continue
		case !mode.IsRegular():
			return res, refuse("%q is not a regular file (%s)", safeName(f.Name), mode.Type())
		case f.Flags&0x1 != 0:
			return res, refuse("%q is encrypted; zip the series without a password", safeName(f.Name))
		case f.Method != zip.Store && f.Method != zip.Deflate:
			return res, refuse("%q uses compression method %d; zip with deflate or store", safeName(f.Name), f.Method)
		}
		if d := path.Dir(name); d != "." {
			if err := root.MkdirAll(d, 0o755); err != nil {
				return res, fmt.Errorf("unpack %q: %w", safeName(f.Name), err)
			}
		}
		n, err := extractFile(ctx, root, f, name, min(lim.File, lim.Total-res.Bytes))
		res.Bytes += n
		if err != nil {
			if errors.Is(err, errTooBig) {
				if res.Bytes >= lim.Total {
					return res, refuse("it unpacks to more than %s", mib(lim.Total))
				}
				return res, refuse("%q unpacks to more than %s", safeName(f.Name), mib(lim.File))
			}
			return res, err
		}
		res.Files++
	}
	return res, nil
}

var errTooBig = errors.New("too big")

// extractFile writes one entry, reading at most limit bytes of its
// decompressed data (one more byte means it is too big).
func extractFile(ctx context.Context, root *os.Root, f *zip.File, name string, limit int64) (int64, error) {
	rc, err := f.Open()
	if err != nil {
		return 0, refuse("%q cannot be read (%v)", safeName(f.Name), err)
	}
	defer rc.Close()
	// O_EXCL: never write through something already there (a link made by an
	// earlier entry cannot exist, but a case-folding file system may merge names)
	out, err := root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return 0, fmt.Errorf("unpack %q: %w", safeName(f.Name), err)
	}
	n, err := io.Copy(out, &ctxReader{ctx: ctx, r: io.LimitReader(rc, limit+1)})
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		if ctx.Err() != nil {
			return n, ctx.Err()
		}
		if errors.Is(err, zip.ErrChecksum) || errors.Is(err, zip.ErrFormat) || errors.Is(err, io.ErrUnexpectedEOF) {
			return n, refuse("%q is damaged (%v)", safeName(f.Name), err)
		}
		return n, fmt.Errorf("unpack %q: %w", safeName(f.Name), err)
	}
	if n > limit {
		return n, errTooBig
	}
	return n, nil
}

// checkName turns an entry's name into a clean relative slash path, refusing
// any that could leave the folder. isDir is true for a trailing slash.
func checkName(raw string, lim Limits) (name string, isDir bool, err error) {
	if len(raw) > lim.NameBytes {
		return "", false, refuse("an entry's name is %d bytes long, more than %d", len(raw), lim.NameBytes)
	}
	for _, c := range raw {
		if c < 0x20 || c == 0x7f {
			return "", false, refuse("the name %q holds a control character", safeName(raw))
		}
	}
	n := strings.ReplaceAll(raw, "\\", "/") // some Windows tools write backslashes
	isDir = strings.HasSuffix(n, "/")
	if strings.HasPrefix(n, "/") || (len(n) >= 2 && n[1] == ':') {
		return "", false, refuse("%q is an absolute path", safeName(raw))
	}
	parts := strings.Split(strings.Trim(n, "/"), "/")
	var keep []string
	for _, p := range parts {
		switch p {
		case "", ".":
			continue
		case "..":
			return "", false, refuse("%q leads out of the folder (..)", safeName(raw))
		}
		if strings.ContainsAny(p, ":") {
			return "", false, refuse("the name %q holds a colon", safeName(raw))
		}
		keep = append(keep, p)
	}
	if len(keep) > lim.Depth {
		return "", false, refuse("%q is %d folders deep, more than %d", safeName(raw), len(keep), lim.Depth)
	}
	return strings.Join(keep, "/"), isDir, nil
}

// safeName shortens a hostile name for an error message (the caller still
// sanitises it before a terminal shows it).
func safeName(s string) string {
	if len(s) > 80 {
		s = s[:77] + "…"
	}
	return s
}

// mib says a limit in MiB (the limits are large; tests use small ones).
func mib(n int64) string {
	if n < 1<<20 {
		return fmt.Sprintf("%d bytes", n)
	}
	return fmt.Sprintf("%d MiB", n>>20)
}

type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c *ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
