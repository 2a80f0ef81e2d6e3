package cli

import (
	"bytes"
	"fmt"
	"image"
	"image/png"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/modelhub-ai/modelhub/internal/testutil"
)

// benchJobs is the concurrency of the predict benchmarks: $MODELHUB_BENCH_JOBS,
// else predict's default.
func benchJobs() int {
	if n, err := strconv.Atoi(os.Getenv("MODELHUB_BENCH_JOBS")); err == nil && n > 0 {
		return n
	}
	return defaultPredictJobs
}

// writeImages writes n noise PNGs of size x size pixels into dir.
func writeImages(b *testing.B, dir string, n, size int, enc png.Encoder) {
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range n {
		img := image.NewGray(image.Rect(0, 0, size, size))
		for j := range img.Pix {
			img.Pix[j] = uint8(rng.IntN(256))
		}
		var buf bytes.Buffer
		if err := enc.Encode(&buf, img); err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("img%04d.png", i)), buf.Bytes(), 0o644); err != nil {
			b.Fatal(err)
		}
	}
}

// runningDemo starts the demo model with `modelhub run -d` (predict reuses
// it) and returns the model, the environment and the API's base URL.
func runningDemo(b *testing.B) (string, []string, string) {
	c := testutil.Docker(b)
	bin := builtBinary(b)
	model, env := e2eModel(b, testutil.DemoImage(b, c))
	port := testutil.FreePort(b)
	b.Cleanup(func() { removeModelContainers(c, model) })
	cmd := exec.Command(bin, "run", "-d", "--api-port", strconv.Itoa(port), model)
	cmd.Env = env
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("run -d: %v: %s", err, out)
	}
	return model, env, fmt.Sprintf("http://127.0.0.1:%d", port)
}

// timedRun runs cmd and returns its wall time and, when measured (see
// measured), the peak RSS the wrapping /usr/bin/time reports.
func timedRun(b *testing.B, cmd *exec.Cmd) (time.Duration, int64) {
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	t0 := time.Now()
	if err := cmd.Run(); err != nil {
		b.Fatalf("%s: %v: %s", strings.Join(cmd.Args, " "), err, stderr.Bytes())
	}
	d := time.Since(t0)
	var rss int64
	if i := bytes.LastIndex(stderr.Bytes(), []byte("maxrss=")); i >= 0 {
		kib, _ := strconv.ParseInt(strings.TrimSpace(string(stderr.Bytes()[i+len("maxrss="):])), 10, 64)
		rss = kib * 1024
	}
	return d, rss
}

// measured runs bin under /usr/bin/time, which forks it from its own small
// process: the rusage of a child the Go test process starts directly counts
// the test process's own memory (a vfork child shares it until exec, and
// Linux carries that high-water mark over exec).
func measured(b *testing.B, bin string, args ...string) *exec.Cmd {
	if _, err := os.Stat("/usr/bin/time"); err != nil {
		b.Skip("/usr/bin/time is not installed: cannot measure the peak RSS of modelhub alone")
	}
	return exec.Command("/usr/bin/time", append([]string{"-f", "maxrss=%M", bin}, args...)...)
}

// BenchmarkPredict1000 is `modelhub predict -o DIR` on 1,000 small images
// (64x64 PNGs) with the model already running, against curl uploading the
// same files at the same concurrency, alternating the two. The curl side is
// one process (`curl --parallel --parallel-max JOBS -F file=@… URL --next …`),
// curl at its fastest: a shell loop starting one curl per file
// (`xargs -P JOBS curl -F file=@…`) spends most of its time starting
// processes (about 80 s here). Targets: ratio (predict / curl) at most 1.1;
// peak RSS under 64 MiB.
func BenchmarkPredict1000(b *testing.B) {
	if _, err := exec.LookPath("curl"); err != nil {
		b.Skip("curl is not installed: nothing to compare with")
	}
	model, env, api := runningDemo(b)
	bin := builtBinary(b)
	in := b.TempDir()
	writeImages(b, in, 1000, 64, png.Encoder{})
	jobs := benchJobs()
	var predictT, curlParT time.Duration
	var peak int64
	for b.Loop() {
		out := filepath.Join(b.TempDir(), "out")
		cmd := measured(b, bin, "predict", model, in, "-o", out, "-j", strconv.Itoa(jobs), "--json", "-q")
		cmd.Env = env
		d, rss := timedRun(b, cmd)
		predictT += d
		peak = max(peak, rss)
		b.StopTimer()
		d, _ = timedRun(b, exec.Command("curl", parallelArgs(in, api, jobs)...))
		curlParT += d
		b.StartTimer()
	}
	n := float64(b.N)
	b.ReportMetric(float64(predictT.Milliseconds())/n, "ms-predict")
	b.ReportMetric(float64(curlParT.Milliseconds())/n, "ms-curl-parallel")
	b.ReportMetric(float64(predictT)/float64(curlParT), "ratio")
	b.ReportMetric(float64(peak)/(1<<20), "MiB-peak-rss")
	b.ReportMetric(float64(jobs), "jobs")
}

// BenchmarkPredictLargeInputs is predict's peak RSS on a few large inputs
// (uncompressed 4096x4096 PNGs, 16 MiB each, with -j 4): uploads stream
// from disk, so it stays near the small-input figure. Target: under 64 MiB.
func BenchmarkPredictLargeInputs(b *testing.B) {
	model, env, _ := runningDemo(b)
	bin := builtBinary(b)
	in := b.TempDir()
	writeImages(b, in, 4, 4096, png.Encoder{CompressionLevel: png.NoCompression})
	var peak int64
	for b.Loop() {
		cmd := measured(b, bin, "predict", model, in, "-j", "4", "--json", "-q")
		cmd.Env = env
		_, rss := timedRun(b, cmd)
		peak = max(peak, rss)
	}
	b.ReportMetric(float64(peak)/(1<<20), "MiB-peak-rss")
}

// parallelArgs is one curl command uploading every file of dir.
func parallelArgs(dir, api string, jobs int) []string {
	args := []string{"-sS", "--parallel", "--parallel-max", strconv.Itoa(jobs)}
	names, _ := filepath.Glob(filepath.Join(dir, "*.png"))
	for i, n := range names {
		if i > 0 {
			args = append(args, "--next")
		}
		args = append(args, "-o", "/dev/null", "-F", "file=@"+n, api+"/api/predict")
	}
	return args
}

// BenchmarkPredict10000 is predict's peak RSS on a cohort of 10,000 small
// inputs (16x16 PNGs) with `-o DIR` (results.jsonl, results.csv, report.html
// with a preview per input, provenance and runs/), then again on the same
// folder, where every input is done before (hashing the inputs against
// results.jsonl, rewriting the CSV and the report). Each run is one process
// under /usr/bin/time (see measured). Target: under 64 MiB for both.
func BenchmarkPredict10000(b *testing.B) {
	model, env, _ := runningDemo(b)
	bin := builtBinary(b)
	in := b.TempDir()
	writeImages(b, in, 10000, 16, png.Encoder{})
	var first, resume time.Duration
	var peak, peakResume int64
	for b.Loop() {
		out := filepath.Join(b.TempDir(), "out")
		cmd := measured(b, bin, "predict", model, in, "-o", out, "--json", "-q")
		cmd.Env = env
		cmd.Stdout = io.Discard
		d, rss := timedRun(b, cmd)
		first += d
		peak = max(peak, rss)
		cmd = measured(b, bin, "predict", model, in, "-o", out, "--json", "-q")
		cmd.Env = env
		d, rss = timedRun(b, cmd)
		resume += d
		peakResume = max(peakResume, rss)
		b.StopTimer()
		if err := os.RemoveAll(out); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	n := float64(b.N)
	b.ReportMetric(first.Seconds()/n, "s-first-run")
	b.ReportMetric(resume.Seconds()/n, "s-resume")
	b.ReportMetric(float64(peak)/(1<<20), "MiB-peak-rss")
	b.ReportMetric(float64(peakResume)/(1<<20), "MiB-peak-rss-resume")
}
