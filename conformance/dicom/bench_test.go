package dicom

import (
	"context"
	"fmt"
	"math"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"sync"
	"testing"
	"time"

	mhdicom "github.com/modelhub-ai/modelhub/internal/dicom"
	"github.com/modelhub-ai/modelhub/internal/dicom/dicomtest"
)

// The speed and memory goals of DICOM conversion (issue 23), measured against
// dcm2niix on the same files, both writing .nii.gz:
//
//	BenchmarkConvertCT300/plain   300 slices 512x512 (explicit VR LE)
//	BenchmarkConvertCT300/jpegll  the same, JPEG Lossless (dcmcjpeg +e1 when
//	                              dcmtk is installed, else modelhub's own encoder)
//
// each reporting modelhub's and dcm2niix's seconds, their ratio (goal <= 1.0
// plain, <= 1.5 JPEG Lossless) and modelhub's peak RSS against the volume's size
// (goal < 2x). The series is written once per process, in the system's temporary
// folder (modelhub-bench-ct-*, about 320 MB with its JPEG Lossless copy), and
// removed by TestMain. BenchmarkGroup10000 reports the header bytes grouping reads.

var ctOnce struct {
	sync.Once
	dir string
	err error
}

// phantom is a CT-like slice: air, a body ellipse with lungs and a spine, noise.
func phantom(k int, r *rand.Rand) func(i, j, kk int) int {
	return func(i, j, _ int) int {
		x, y := float64(i-256)/230, float64(j-256)/170
		hu := -1000.0
		switch {
		case x*x+y*y > 1:
		case math.Pow((x+0.45)/0.3, 2)+math.Pow(y/0.55, 2) < 1, math.Pow((x-0.45)/0.3, 2)+math.Pow(y/0.55, 2) < 1:
			hu = -820
		case math.Pow(x/0.1, 2)+math.Pow((y-0.6)/0.15, 2) < 1:
			hu = 700 + float64(k%7)*3
		default:
			hu = 40
		}
		return int(hu+1024) + r.Intn(24) - 12
	}
}

func ctSeries(b *testing.B) string {
	ctOnce.Do(func() {
		dir, err := os.MkdirTemp("", "modelhub-bench-ct-")
		if err != nil {
			ctOnce.err = err
			return
		}
		ctOnce.dir = dir
		r := rand.New(rand.NewSource(1))
		s := dicomtest.Series{StudyUID: "1.2.826.0.1.7", SeriesUID: "1.2.826.0.1.7.1", Description: "Bench CT", Rows: 512, Columns: 512,
			Slices: 300, SliceSpacing: 1.25, PixelSpacing: [2]float64{0.7, 0.7}, Origin: [3]float64{-180, -180, -300},
			RescaleSlope: 1, RescaleIntercept: -1024}
		// one slice at a time: the benchmark process stays small, so the peak RSS
		// measured for a command it starts is the command's own (a child's
		// ru_maxrss counts the parent's pages at fork)
		s.Slices = 1
		for k := 0; k < 300; k++ {
			s.Origin[2] = -300 + 1.25*float64(k)
			im := s.Images()[0]
			im.Instance = k + 1
			im.SOPInstanceUID = fmt.Sprintf("%s.%d", s.SeriesUID, k+1)
			f := phantom(k, r)
			for j := 0; j < 512; j++ {
				for i := 0; i < 512; i++ {
					im.Pixels[j*512+i] = f(i, j, k)
				}
			}
			if err := dicomtest.WriteFile(filepath.Join(dir, "plain", fmt.Sprintf("IM%04d", k)), im); err != nil {
				ctOnce.err = err
				return
			}
		}
	})
	if ctOnce.err != nil {
		b.Fatal(ctOnce.err)
	}
	return ctOnce.dir
}

// timed runs a command and returns its wall time and peak RSS (bytes).
func timed(b *testing.B, name string, args ...string) (time.Duration, int64) {
	cmd := exec.Command(name, args...)
	start := time.Now()
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("%s: %v\n%s", name, err, out)
	}
	d := time.Since(start)
	return d, peakRSS(cmd.ProcessState)
}

func BenchmarkConvertCT300(b *testing.B) {
	if _, err := exec.LookPath("dcm2niix"); err != nil {
		b.Skip("dcm2niix is not installed: the comparison needs it (apt-get install dcm2niix)")
	}
	root := ctSeries(b)
	volume := float64(300 * 512 * 512 * 2)
	jdir := filepath.Join(root, "jpegll")
	_, haveDcmtk := exec.LookPath("dcmcjpeg")
	if _, err := os.Stat(jdir); err != nil && haveDcmtk == nil {
		os.MkdirAll(jdir, 0o755)
		files, _ := filepath.Glob(filepath.Join(root, "plain", "*"))
		for _, f := range files {
			if out, err := exec.Command("dcmcjpeg", "+e1", f, filepath.Join(jdir, filepath.Base(f))).CombinedOutput(); err != nil {
				b.Fatalf("dcmcjpeg: %v %s", err, out)
			}
		}
	}
	for _, c := range []string{"plain", "jpegll"} {
		b.Run(c, func(b *testing.B) {
			if c == "jpegll" && haveDcmtk != nil {
				b.Skip("dcmcjpeg (dcmtk) is not installed: no JPEG Lossless copy")
			}
			in := filepath.Join(root, c)
			debug.FreeOSMemory()
			var ours, ref time.Duration
			var rss int64
			for n := 0; n < b.N; n++ {
				o1, o2 := b.TempDir(), b.TempDir()
				d, r := timed(b, binPath, "convert", in, "-o", o1, "-q")
				ours += d
				rss = max(rss, r)
				d, _ = timed(b, "dcm2niix", "-z", "y", "-f", "%j", "-o", o2, in)
				ref += d
			}
			b.ReportMetric(ours.Seconds()/float64(b.N), "modelhub-s")
			b.ReportMetric(ref.Seconds()/float64(b.N), "dcm2niix-s")
			b.ReportMetric(ours.Seconds()/ref.Seconds(), "ratio")
			b.ReportMetric(float64(rss)/(1<<20), "peak-RSS-MiB")
			b.ReportMetric(float64(rss)/volume, "RSS/volume")
		})
	}
}

// BenchmarkGroup10000 groups a folder of 10,000 DICOM files of 512x512 (sparse
// files: real headers and sizes, holes for the pixel data) and reports how many
// bytes grouping reads from them.
func BenchmarkGroup10000(b *testing.B) {
	dir := b.TempDir()
	im := dicomtest.Image{StudyUID: "1.2.826.0.1.8", Rows: 512, Columns: 512, Orientation: [6]float64{1, 0, 0, 0, 1, 0},
		Pixels: make([]int, 512*512), RescaleSlope: 1, RescaleIntercept: -1024, Description: "Bench group"}
	var total int64
	for n := 0; n < 10000; n++ {
		im.SeriesUID = fmt.Sprintf("1.2.826.0.1.8.%d", n/200)
		im.Instance = n%200 + 1
		im.Position = [3]float64{0, 0, float64(n % 200)}
		data, err := dicomtest.Encode(im)
		if err != nil {
			b.Fatal(err)
		}
		head := len(data) - 512*512*2
		f, err := os.Create(filepath.Join(dir, fmt.Sprintf("f%05d", n)))
		if err != nil {
			b.Fatal(err)
		}
		f.Write(data[:head])
		f.Truncate(int64(len(data)))
		f.Close()
		total += int64(len(data))
	}
	b.ResetTimer()
	var res *mhdicom.ScanResult
	for n := 0; n < b.N; n++ {
		var err error
		if res, err = mhdicom.Scan(context.Background(), []string{dir}); err != nil {
			b.Fatal(err)
		}
	}
	if len(res.Series) != 50 || res.DICOM != 10000 {
		b.Fatalf("%d series, %d images", len(res.Series), res.DICOM)
	}
	b.ReportMetric(float64(res.BytesRead)/10000, "header-B/file")
	b.ReportMetric(float64(res.BytesRead)/float64(total)*100, "%-of-bytes")
}
