package cli

import (
	"archive/tar"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/modelhub-ai/modelhub/internal/dockerrun"
	"github.com/modelhub-ai/modelhub/internal/store"
	"github.com/modelhub-ai/modelhub/internal/testutil"
)

// BenchmarkBundle1GiB saves and loads a bundle of 1 GiB (a model of three
// 256 MiB weight files and an image with a 256 MiB layer, all random
// bytes) with the built binary, against `docker save` + `tar -c` and
// `docker load` + `tar -x` of the same image and folder. Every command is
// a separate process; the image is removed before each load. Use
// -benchtime 4x or more: the order of the two sides alternates. Metrics: the
// seconds of each, the ratios (target <= 1.15) and the peak RSS of the
// modelhub processes (target < 64 MiB).
func BenchmarkBundle1GiB(b *testing.B) {
	const fileSize, files, layer = 256 << 20, 3, 256 << 20
	c := testutil.Docker(b)
	dockerCLI, err := exec.LookPath("docker")
	if err != nil {
		b.Skip("the docker command is needed for the reference")
	}
	bin := builtBinary(b)
	dir := b.TempDir()
	home := filepath.Join(dir, "home")
	model := testutil.UniqueName("bench")
	image := bigImage(b, c, layer)
	mdir := store.Dir(home, model)
	for i := range files {
		writeRandom(b, filepath.Join(mdir, "contrib_src", "model", fmt.Sprintf("w%d.bin", i)), fileSize, uint64(i))
	}
	initJSON, _ := json.Marshal(map[string]any{"docker_id": image, "external_contrib_files": []any{}})
	os.MkdirAll(filepath.Join(mdir, "init"), 0o755)
	os.WriteFile(filepath.Join(mdir, "init", "init.json"), initJSON, 0o644)
	if err := store.WriteManifest(mdir, &store.Manifest{Commit: "bench", DockerID: image, Complete: true}); err != nil {
		b.Fatal(err)
	}
	env := append(os.Environ(), "MODELHUB_HOME="+home, "MODELHUB_INDEX=http://127.0.0.1:1/models.json")
	bundle, imgTar, modelTar := filepath.Join(dir, "b.mhb"), filepath.Join(dir, "img.tar"), filepath.Join(dir, "model.tar")

	var rss int64
	run := func(track bool, name string, args ...string) time.Duration {
		cmd := exec.Command(name, args...)
		cmd.Env = env
		el := runTimed(b, cmd)
		if r, ok := testutil.MaxRSS(cmd.ProcessState); ok && track {
			rss = max(rss, r)
		}
		return el
	}
	reset := func() {
		os.RemoveAll(mdir)
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := c.ImageRemove(ctx, image); err != nil {
			b.Fatal(err)
		}
	}
	var saveOurs, saveRef, loadOurs, loadRef time.Duration
	var size int64
	saveOursRun := func() {
		os.Remove(bundle)
		syncDisk()
		saveOurs += run(true, bin, "save", "-q", model, "-o", bundle)
	}
	saveRefRun := func() {
		os.Remove(imgTar)
		os.Remove(modelTar)
		syncDisk()
		saveRef += run(false, dockerCLI, "save", "-o", imgTar, image) +
			run(false, "tar", "-cf", modelTar, "-C", store.Dir(home, ""), model)
	}
	loadOursRun := func() {
		reset()
		syncDisk()
		loadOurs += run(true, bin, "load", "-q", bundle)
	}
	loadRefRun := func() {
		reset()
		syncDisk()
		loadRef += run(false, dockerCLI, "load", "-q", "-i", imgTar) +
			run(false, "tar", "-xf", modelTar, "-C", store.Dir(home, ""))
	}
	b.ResetTimer()
	for i := range b.N {
		// Each command starts with the disk idle (sync), and the order
		// alternates so neither side always meets the other's write-back.
		if i%2 == 0 {
			saveRefRun()
			saveOursRun()
			loadOursRun()
			loadRefRun()
		} else {
			saveOursRun()
			saveRefRun()
			loadRefRun()
			loadOursRun()
		}
		if fi, err := os.Stat(bundle); err == nil {
			size = fi.Size()
		}
	}
	b.StopTimer()
	n := float64(b.N)
	b.ReportMetric(float64(size)/(1<<20), "bundle-MiB")
	b.ReportMetric(saveOurs.Seconds()/n, "s-save")
	b.ReportMetric(saveRef.Seconds()/n, "s-docker-save+tar")
	b.ReportMetric(saveOurs.Seconds()/saveRef.Seconds(), "x-save")
	b.ReportMetric(loadOurs.Seconds()/n, "s-load")
	b.ReportMetric(loadRef.Seconds()/n, "s-docker-load+untar")
	b.ReportMetric(loadOurs.Seconds()/loadRef.Seconds(), "x-load")
	if rss > 0 {
		b.ReportMetric(float64(rss)/(1<<20), "peak-RSS-MiB")
	}
}

func runTimed(b *testing.B, cmd *exec.Cmd) time.Duration {
	b.Helper()
	start := time.Now()
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("%s: %v\n%s", cmd, err, out)
	}
	return time.Since(start)
}

// writeRandom writes size incompressible bytes to path.
func writeRandom(b *testing.B, path string, size int64, seed uint64) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		b.Fatal(err)
	}
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	if _, err := io.CopyN(f, rand.NewChaCha8([32]byte{byte(seed)}), size); err != nil {
		b.Fatal(err)
	}
}

// bigImage builds, from the demo image, an image with one more layer of
// size random bytes; it is removed when the benchmark ends.
func bigImage(b *testing.B, c *dockerrun.Client, size int64) string {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	base, err := testutil.DemoBaseImage(ctx, c)
	if err != nil {
		b.Fatal(err)
	}
	ref := testutil.UniqueName("modelhub-bench-big") + ":1"
	pr, pw := io.Pipe()
	go func() {
		tw := tar.NewWriter(pw)
		df := []byte("FROM " + base + "\nCOPY big.bin /big.bin\n")
		tw.WriteHeader(&tar.Header{Name: "Dockerfile", Size: int64(len(df)), Mode: 0o644})
		tw.Write(df)
		tw.WriteHeader(&tar.Header{Name: "big.bin", Size: size, Mode: 0o644})
		_, err := io.CopyN(tw, rand.NewChaCha8([32]byte{42}), size)
		if err == nil {
			err = tw.Close()
		}
		pw.CloseWithError(err)
	}()
	if err := c.ImageBuild(ctx, ref, pr, nil); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { testutil.RemoveImage(c, ref) })
	return ref
}

// syncDisk flushes every dirty page, so the next timed command does not pay
// for the previous one's writes.
func syncDisk() {
	if sync, err := exec.LookPath("sync"); err == nil {
		_ = exec.Command(sync).Run()
	}
}
