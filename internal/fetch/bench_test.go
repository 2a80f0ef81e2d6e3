package fetch

// Benchmarks for the speed targets of issue 3. Run them with
//
//	go test -run '^$' -bench . -benchtime 1x ./internal/fetch/
//
// All data is generated on the fly and served from 127.0.0.1.

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/modelhub-ai/modelhub/internal/testutil"
)

const (
	childURLEnv  = "MODELHUB_FETCH_BENCH_URL"
	childDestEnv = "MODELHUB_FETCH_BENCH_DEST"
	childSyncEnv = "MODELHUB_FETCH_BENCH_NOSYNC"
)

// TestBenchChildDownload is the subprocess of BenchmarkDownload1GiB: it
// downloads one file so that the parent can read its peak RSS from the
// kernel's accounting (getrusage ru_maxrss of the waited-for child).
func TestBenchChildDownload(t *testing.T) {
	url, dest := os.Getenv(childURLEnv), os.Getenv(childDestEnv)
	if url == "" {
		t.Skip("only run as the benchmark's subprocess")
	}
	syncFiles = os.Getenv(childSyncEnv) == ""
	if _, err := (&Downloader{}).Fetch(context.Background(), File{URL: url, Dest: dest}); err != nil {
		t.Fatal(err)
	}
}

// runTimed runs cmd and returns its wall time.
func runTimed(b *testing.B, cmd *exec.Cmd) time.Duration {
	b.Helper()
	start := time.Now()
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("%s: %v\n%s", cmd, err, out)
	}
	return time.Since(start)
}

// BenchmarkDownload1GiB downloads 1 GiB from a loopback server with our
// downloader (in a subprocess, sha256 computed, fsync'd and renamed) and with
// `curl -o` from the same server, each a separate process. Metrics: MB/s of
// each, the ratios (target >= 0.9) and the downloader process's peak RSS
// (target < 64 MiB). curl does not fsync; the "nofsync" run shows our
// throughput without the final fsync, i.e. what the fsync costs on this disk.
func BenchmarkDownload1GiB(b *testing.B) {
	const size = 1 << 30
	srv := testutil.NewFileServer(b)
	url := srv.Add("/big.bin", testutil.NewPattern(size, 42))
	dir := b.TempDir()
	dest := filepath.Join(dir, "big.bin")
	curlPath, _ := exec.LookPath("curl")

	var ours, nosync, curl time.Duration
	var rss int64
	child := func(env ...string) time.Duration {
		cmd := exec.Command(os.Args[0], "-test.run=^TestBenchChildDownload$", "-test.count=1")
		cmd.Env = append(append(os.Environ(), childURLEnv+"="+url, childDestEnv+"="+dest), env...)
		el := runTimed(b, cmd)
		if r, ok := testutil.MaxRSS(cmd.ProcessState); ok {
			rss = max(rss, r)
		}
		fi, err := os.Stat(dest)
		if err != nil || fi.Size() != size {
			b.Fatalf("downloaded file: %v %v", fi, err)
		}
		os.Remove(dest)
		return el
	}
	b.SetBytes(size)
	b.ResetTimer()
	for range b.N {
		ours += child()
		b.StopTimer()
		nosync += child(childSyncEnv + "=1")
		if curlPath != "" {
			curl += runTimed(b, exec.Command(curlPath, "-sS", "-o", dest, url))
			os.Remove(dest)
		}
		b.StartTimer()
	}
	mbps := func(d time.Duration) float64 { return float64(size) * float64(b.N) / d.Seconds() / 1e6 }
	b.ReportMetric(mbps(ours), "MB/s-modelhub")
	b.ReportMetric(mbps(nosync), "MB/s-modelhub-nofsync")
	if rss > 0 {
		b.ReportMetric(float64(rss)/(1<<20), "peak-RSS-MiB")
	}
	if curlPath != "" {
		b.ReportMetric(mbps(curl), "MB/s-curl")
		b.ReportMetric(mbps(ours)/mbps(curl), "x-curl")
		b.ReportMetric(mbps(nosync)/mbps(curl), "x-curl-nofsync")
	}
}

// BenchmarkDownload8x64MiB fetches 8 files of 64 MiB from a server that
// limits each connection to 25 MiB/s, with 4 parallel jobs and one after
// another. Metric "speedup" is sequential time / parallel time (target >= 3.5).
func BenchmarkDownload8x64MiB(b *testing.B) {
	const n, size, rate = 8, 64 << 20, 25 << 20
	srv := testutil.NewFileServer(b)
	var files []File
	dir := b.TempDir()
	for i := range n {
		p := "/f" + strconv.Itoa(i)
		srv.Add(p, testutil.NewPattern(size, uint64(i)))
		srv.SetFault(p, testutil.Fault{RateLimit: rate})
		files = append(files, File{URL: srv.URL + p, Dest: filepath.Join(dir, p[1:])})
	}
	run := func(jobs int) time.Duration {
		start := time.Now()
		if _, err := (&Downloader{Jobs: jobs}).Download(context.Background(), files); err != nil {
			b.Fatal(err)
		}
		el := time.Since(start)
		for _, f := range files {
			os.Remove(f.Dest)
		}
		return el
	}
	var par, seq time.Duration
	b.ResetTimer()
	for range b.N {
		par += run(4)
		seq += run(1)
	}
	b.ReportMetric(par.Seconds()/float64(b.N), "s-parallel")
	b.ReportMetric(seq.Seconds()/float64(b.N), "s-sequential")
	b.ReportMetric(seq.Seconds()/par.Seconds(), "speedup")
}

// BenchmarkClone300Files shallow-clones a 300-file / 20 MiB repository over
// `git http-backend` with Clone and with `git clone --depth 1`. Metric
// "x-git" is our time / git's (target <= 1.3).
func BenchmarkClone300Files(b *testing.B) {
	gs := testutil.NewGitServer(b)
	repo := gs.NewRepo(b, "bench", "master")
	files := map[string]string{}
	const total = 20 << 20
	for i := range 300 {
		// sizes vary from ~7 KiB to ~130 KiB and sum to 20 MiB
		sz := total / 300 * (i%10 + 1) * 2 / 11
		files[fmt.Sprintf("contrib_src/d%02d/f%03d.bin", i%17, i)] = string(mustRead(testutil.NewPattern(int64(sz), uint64(i))))
	}
	repo.WriteFiles(files)
	repo.Commit("bench")
	dir := b.TempDir()

	var ours, gitT time.Duration
	b.ResetTimer()
	for i := range b.N {
		d := filepath.Join(dir, "ours"+strconv.Itoa(i))
		start := time.Now()
		if _, err := Clone(context.Background(), CloneOptions{URL: repo.URL, Branch: "master", Dir: d}); err != nil {
			b.Fatal(err)
		}
		ours += time.Since(start)
		os.RemoveAll(d)
		b.StopTimer()
		g := filepath.Join(dir, "git"+strconv.Itoa(i))
		gitT += runTimed(b, exec.Command("git", "clone", "-q", "--depth", "1", "--single-branch", "-b", "master", repo.URL, g))
		os.RemoveAll(g)
		b.StartTimer()
	}
	b.ReportMetric(ours.Seconds()/float64(b.N), "s-modelhub")
	b.ReportMetric(gitT.Seconds()/float64(b.N), "s-git")
	b.ReportMetric(ours.Seconds()/gitT.Seconds(), "x-git")
}

func mustRead(p *testutil.Pattern) []byte {
	buf := make([]byte, p.Size())
	p.ReadAt(buf, 0)
	return buf
}

const childCloneEnv = "MODELHUB_FETCH_BENCH_CLONE"

// TestBenchChildClone is the subprocess of BenchmarkCloneLargeFile: it
// clones one repository so that its peak RSS can be read.
func TestBenchChildClone(t *testing.T) {
	url, dest := os.Getenv(childCloneEnv), os.Getenv(childDestEnv)
	if url == "" {
		t.Skip("only run as the benchmark's subprocess")
	}
	if _, err := Clone(context.Background(), CloneOptions{URL: url, Branch: "master", Dir: dest}); err != nil {
		t.Fatal(err)
	}
}

// BenchmarkCloneLargeFile shallow-clones a repository holding one 400 MB
// file, with Clone (in a subprocess) and with `git clone --depth 1`, each run
// under /usr/bin/time so that the peak RSS is the process's own (a child
// started straight from this test would be charged this process's memory).
// Metrics: peak RSS of each in MiB.
func BenchmarkCloneLargeFile(b *testing.B) {
	if _, err := os.Stat("/usr/bin/time"); err != nil {
		b.Skip("needs /usr/bin/time (apt-get install time)")
	}
	gs := testutil.NewGitServer(b)
	repo := gs.NewRepo(b, "large", "master")
	repo.WriteFiles(map[string]string{"contrib_src/model/weights.bin": string(mustRead(testutil.NewPattern(400<<20, 7)))})
	repo.Commit("one large file")
	dir := b.TempDir()
	rss := func(cmd *exec.Cmd) float64 {
		out, err := exec.Command("/usr/bin/time", append([]string{"-f", "RSS %M"}, cmd.Args...)...).CombinedOutput()
		if err != nil {
			b.Fatalf("%s: %v\n%s", cmd, err, out)
		}
		var kb float64
		for _, line := range strings.Split(string(out), "\n") {
			if strings.HasPrefix(line, "RSS ") {
				fmt.Sscan(strings.TrimPrefix(line, "RSS "), &kb)
			}
		}
		return kb / 1024
	}
	self, err := os.Executable()
	if err != nil {
		b.Fatal(err)
	}
	var ours, git float64
	for i := range b.N {
		d := filepath.Join(dir, "ours"+strconv.Itoa(i))
		os.Setenv(childCloneEnv, repo.URL)
		os.Setenv(childDestEnv, d)
		ours = max(ours, rss(exec.Command(self, "-test.run", "^TestBenchChildClone$")))
		os.Unsetenv(childCloneEnv)
		os.Unsetenv(childDestEnv)
		os.RemoveAll(d)
		g := filepath.Join(dir, "git"+strconv.Itoa(i))
		git = max(git, rss(exec.Command("git", "clone", "-q", "--depth", "1", "--single-branch", "-b", "master", repo.URL, g)))
		os.RemoveAll(g)
	}
	b.ReportMetric(ours, "peak-RSS-MiB-modelhub")
	b.ReportMetric(git, "peak-RSS-MiB-git")
}
