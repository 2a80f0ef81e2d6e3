package bundle

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

// Compression is how a whole bundle is compressed.
type Compression string

// The compressions. None is the default: model weights and image layers
// are mostly incompressible and compressing costs more time than the few
// percent it saves (README, Performance).
const (
	None Compression = "none"
	Gzip Compression = "gzip"
	Zstd Compression = "zstd"
)

// ParseCompression parses a --compress value.
func ParseCompression(s string) (Compression, error) {
	switch c := Compression(strings.ToLower(s)); c {
	case None, Gzip, Zstd:
		return c, nil
	case "gz":
		return Gzip, nil
	case "zst":
		return Zstd, nil
	}
	return "", fmt.Errorf("unknown compression %q: want none, zstd or gzip", s)
}

// CompressionFor is the compression a file name asks for: .zst or .zstd
// zstd, .gz or .tgz gzip, anything else none.
func CompressionFor(name string) Compression {
	n := strings.ToLower(name)
	switch {
	case strings.HasSuffix(n, ".zst"), strings.HasSuffix(n, ".zstd"):
		return Zstd
	case strings.HasSuffix(n, ".gz"), strings.HasSuffix(n, ".tgz"):
		return Gzip
	}
	return None
}

var (
	gzipMagic = []byte{0x1f, 0x8b}
	zstdMagic = []byte{0x28, 0xb5, 0x2f, 0xfd}
)

// decompress returns a reader of the tar inside r, sniffing the
// compression from its first bytes, and a function that releases it.
func decompress(r *bufio.Reader) (io.Reader, Compression, func(), error) {
	head, _ := r.Peek(4)
	switch {
	case bytes.HasPrefix(head, zstdMagic):
		d, err := zstd.NewReader(r, zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true), zstd.WithDecoderMaxWindow(64<<20))
		if err != nil {
			return nil, "", nil, err
		}
		return d, Zstd, d.Close, nil
	case bytes.HasPrefix(head, gzipMagic):
		g, err := gzip.NewReader(r)
		if err != nil {
			return nil, "", nil, fmt.Errorf("%w: %v", ErrNotBundle, err)
		}
		return g, Gzip, func() { g.Close() }, nil
	}
	return r, None, func() {}, nil
}

// compressor wraps w in c's writer (nil for None).
func compressor(w io.Writer, c Compression) (io.WriteCloser, error) {
	switch c {
	case Zstd:
		return zstd.NewWriter(w, zstd.WithEncoderConcurrency(2), zstd.WithWindowSize(8<<20))
	case Gzip:
		return gzip.NewWriterLevel(w, gzip.DefaultCompression)
	}
	return nil, fmt.Errorf("no compressor for %q", c)
}

// Sniff returns the compression of the bundle at path ("" when unreadable).
func Sniff(path string) Compression {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	head := make([]byte, 4)
	n, _ := io.ReadFull(f, head)
	switch head = head[:n]; {
	case bytes.HasPrefix(head, zstdMagic):
		return Zstd
	case bytes.HasPrefix(head, gzipMagic):
		return Gzip
	}
	return None
}
