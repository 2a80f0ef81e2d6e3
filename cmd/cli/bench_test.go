package cli

import (
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

var (
	benchBinOnce sync.Once
	benchBin     string
	benchBinErr  error
)

// builtBinary builds the real modelhub binary once for the benchmarks, as `make build` does.
func builtBinary(b *testing.B) string {
	benchBinOnce.Do(func() {
		dir, err := os.MkdirTemp("", "modelhub-bench")
		if err != nil {
			benchBinErr = err
			return
		}
		benchBin = filepath.Join(dir, "modelhub")
		cmd := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w", "-o", benchBin, "../modelhub")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			benchBinErr = err
			b.Logf("%s", out)
		}
	})
	if benchBinErr != nil {
		b.Fatal(benchBinErr)
	}
	return benchBin
}

func runBench(b *testing.B, env []string, args ...string) {
	bin := builtBinary(b)
	b.ResetTimer()
	for b.Loop() {
		cmd := exec.Command(bin, args...)
		cmd.Env = env
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("%v: %s", err, out)
		}
	}
}

// BenchmarkListWarmCache is `modelhub list` with a fresh cached index (target: < 20 ms).
func BenchmarkListWarmCache(b *testing.B) {
	data, err := os.ReadFile("../../internal/registry/testdata/seed-basic.json")
	if err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(data) }))
	defer srv.Close()
	dir := b.TempDir()
	env := append(os.Environ(), "MODELHUB_INDEX="+srv.URL+"/models.json", "MODELHUB_CACHE="+filepath.Join(dir, "cache"), "MODELHUB_HOME="+filepath.Join(dir, "home"))
	warm := exec.Command(builtBinary(b), "list")
	warm.Env = env
	if out, err := warm.CombinedOutput(); err != nil {
		b.Fatalf("%v: %s", err, out)
	}
	runBench(b, env, "list")
}

// BenchmarkHelp is `modelhub --help` (target: < 20 ms).
func BenchmarkHelp(b *testing.B) {
	runBench(b, os.Environ(), "--help")
}
