package dicom_test

import (
	"fmt"
	"math/rand"
	"testing"

	"github.com/modelhub-ai/modelhub/internal/dicom"
	"github.com/modelhub-ai/modelhub/internal/dicom/dicomtest"
)

// BenchmarkDecodeLossless512 decodes one 512x512 12-bit JPEG Lossless frame (a
// smooth image with noise) per predictor 1 and 7, reusing the output buffer as
// a series conversion does; MB/s counts the decoded samples' bytes.
func BenchmarkDecodeLossless512(b *testing.B) {
	const w, h, prec = 512, 512, 12
	r := rand.New(rand.NewSource(1))
	s := make([]uint16, w*h)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			s[y*w+x] = uint16((1000 + x + 2*y + r.Intn(24)) % (1 << prec))
		}
	}
	for _, pred := range []int{1, 7} {
		enc := dicomtest.EncodeLossless(s, w, h, prec, pred, false)
		b.Run(fmt.Sprintf("pred%d", pred), func(b *testing.B) {
			buf := make([]uint16, w*h)
			b.SetBytes(w * h * 2)
			for n := 0; n < b.N; n++ {
				if _, _, _, _, _, err := dicom.DecodeLosslessBuf(enc, buf); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
