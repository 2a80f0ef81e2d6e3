package dicomseg

import (
	"bufio"
	"fmt"
	"github.com/modelhub-ai/modelhub/internal/testutil"
	"os"
	"path/filepath"
	"testing"
)

// benchMask is a 300-slice 512x512 label volume: a blob of label 1 over 200
// slices with a label 2 core, as an organ and lesion mask.
func benchMask() (*Source, []byte) {
	const nx, ny, nz = 512, 512, 300
	src := &Source{StudyInstanceUID: "1.2.3", SeriesInstanceUID: "1.2.3.4", Rows: ny, Columns: nx,
		Orientation: [6]float64{1, 0, 0, 0, 1, 0}, PixelSpacing: [2]float64{0.7, 0.7}, SliceThickness: 1,
		Copied: Dataset{Str(tagFrameOfReferenceUID, "UI", "1.2.3.5")}}
	for k := 0; k < nz; k++ {
		src.Slices = append(src.Slices, Slice{SOPClassUID: "1.2.840.10008.5.1.4.1.1.2", SOPInstanceUID: fmt.Sprintf("1.2.3.4.%d", k+1),
			Position: [3]float64{-180, -180, float64(k)}})
	}
	mask := make([]byte, nx*ny*nz)
	for k := 50; k < 250; k++ {
		for j := 0; j < ny; j++ {
			for i := 0; i < nx; i++ {
				dx, dy, dz := float64(i-256), float64(j-256), float64(k-150)
				switch r := dx*dx + dy*dy + 4*dz*dz; {
				case r < 40*40:
					mask[(k*ny+j)*nx+i] = 2
				case r < 180*180:
					mask[(k*ny+j)*nx+i] = 1
				}
			}
		}
	}
	return src, mask
}

// A 300-slice 512x512 mask to a DICOM SEG file (target: under 2 s).
func BenchmarkSEG300x512(b *testing.B) {
	src, mask := benchMask()
	out := filepath.Join(b.TempDir(), "mask.seg.dcm")
	b.SetBytes(int64(len(mask)))
	b.ResetTimer()
	cpu0 := testutil.CPUTime()
	for b.Loop() {
		f, err := os.Create(out)
		if err != nil {
			b.Fatal(err)
		}
		w := bufio.NewWriterSize(f, 1<<20)
		info, err := Write(w, src, Mask{Data: mask}, nil, Options{Algorithm: "bench", Version: "bench"})
		if err != nil {
			b.Fatal(err)
		}
		if err := w.Flush(); err != nil {
			b.Fatal(err)
		}
		f.Close()
		b.ReportMetric(float64(info.Frames), "frames")
	}
	b.ReportMetric((testutil.CPUTime()-cpu0).Seconds()/float64(b.N), "cpu-s/op")
}
