package testutil

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/registry"

	"github.com/modelhub-ai/modelhub/demo/demoimage"
	"github.com/modelhub-ai/modelhub/internal/dockerrun"
)

// Docker returns a client of the local engine, or skips the test loudly when
// no daemon answers (the only reason a Docker test may skip).
func Docker(t testing.TB) *dockerrun.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := dockerrun.Connect(ctx)
	if errors.Is(err, dockerrun.ErrUnreachable) {
		msg := "SKIP (no Docker daemon answers, this Docker test did not run): " + err.Error()
		fmt.Fprintln(os.Stderr, msg)
		t.Skip(msg)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// UniqueName returns prefix-<random hex>, for images and containers.
func UniqueName(prefix string) string {
	b := make([]byte, 5)
	_, _ = rand.Read(b)
	return prefix + "-" + hex.EncodeToString(b)
}

var demoBase struct {
	sync.Mutex
	ref string
	bin []byte
	c   *dockerrun.Client
}

// DemoBaseImage builds the demo image once per process under a unique base
// tag and returns it; RemoveDemoImages removes it. Tests that can use a
// testing.TB prefer DemoImage.
func DemoBaseImage(ctx context.Context, c *dockerrun.Client) (string, error) {
	return buildDemoBase(ctx, c)
}

func buildDemoBase(ctx context.Context, c *dockerrun.Client) (string, error) {
	demoBase.Lock()
	defer demoBase.Unlock()
	if demoBase.ref != "" {
		return demoBase.ref, nil
	}
	arch, err := engineArch(ctx, c)
	if err != nil {
		return "", err
	}
	bin, err := demoimage.BuildEngine(ctx, arch)
	if err != nil {
		return "", err
	}
	ref := UniqueName("modelhub-test-engine-base") + ":1"
	if err := buildDemo(ctx, c, bin, ref, nil); err != nil {
		return "", err
	}
	demoBase.ref, demoBase.bin = ref, bin
	demoBase.c, _ = dockerrun.New()
	return ref, nil
}

func buildDemo(ctx context.Context, c *dockerrun.Client, bin []byte, ref string, extra map[string]string) error {
	tar, err := demoimage.Context(bin, extra)
	if err != nil {
		return err
	}
	var buildLog bytes.Buffer
	if err := c.ImageBuild(ctx, ref, bytes.NewReader(tar), &buildLog); err != nil {
		return fmt.Errorf("%v\n%s", err, buildLog.String())
	}
	return nil
}

// UniqueDemoImage builds a demo engine image whose layer no other image
// shares (it holds a unique marker file), so pulling it downloads every
// byte. The tag is removed when the test ends.
func UniqueDemoImage(t testing.TB, c *dockerrun.Client) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	ref, err := BuildUniqueDemoImage(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { RemoveImage(c, ref) })
	return ref
}

// BuildUniqueDemoImage is UniqueDemoImage for callers without a testing.TB;
// they remove the image themselves.
func BuildUniqueDemoImage(ctx context.Context, c *dockerrun.Client) (string, error) {
	if _, err := buildDemoBase(ctx, c); err != nil {
		return "", err
	}
	ref := UniqueName("modelhub-test-engine-unique") + ":1"
	if err := buildDemo(ctx, c, demoBase.bin, ref, map[string]string{"/tmp/marker": ref}); err != nil {
		return "", err
	}
	return ref, nil
}

// RemoveDemoImages removes the base demo image this process built; call it
// from TestMain after m.Run.
func RemoveDemoImages() {
	demoBase.Lock()
	defer demoBase.Unlock()
	if demoBase.ref != "" {
		RemoveImage(demoBase.c, demoBase.ref)
		demoBase.c.Close()
		demoBase.ref = ""
	}
}

// DemoImage returns a unique tag (modelhub-test-engine-XXXX:1) of the demo
// engine image, built through the API, and removes the tag when the test ends.
// The image itself is built once per process: call RemoveDemoImages from
// TestMain.
func DemoImage(t testing.TB, c *dockerrun.Client) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	base, err := buildDemoBase(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	ref := UniqueName("modelhub-test-engine") + ":1"
	if err := c.ImageTag(ctx, base, ref); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { RemoveImage(c, ref) })
	return ref
}

// RemoveImage removes ref, ignoring a missing image.
func RemoveImage(c *dockerrun.Client, ref string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_ = c.ImageRemove(ctx, ref)
}

// Registry serves an in-process, in-memory image registry on 127.0.0.1
// (the engine treats 127.0.0.0/8 as insecure, so plain HTTP works) and
// returns its host:port.
func Registry(t testing.TB) string {
	t.Helper()
	host, stop := StartRegistry()
	t.Cleanup(stop)
	return host
}

// StartRegistry is Registry for callers without a testing.TB.
func StartRegistry() (host string, stop func()) {
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	return strings.TrimPrefix(srv.URL, "http://"), srv.Close
}

// PushToRegistry tags the local image ref as host/repo:tag, pushes it and
// removes both local names, so a later run must pull it. It returns the
// registry reference.
func PushToRegistry(t testing.TB, c *dockerrun.Client, ref, host string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	remote, err := MoveToRegistry(ctx, c, ref, host)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { RemoveImage(c, remote) })
	return remote
}

// MoveToRegistry is PushToRegistry for callers without a testing.TB; they
// remove the pulled image themselves.
func MoveToRegistry(ctx context.Context, c *dockerrun.Client, ref, host string) (string, error) {
	remote := host + "/" + UniqueName("modelhub/engine") + ":1"
	if err := c.ImageTag(ctx, ref, remote); err != nil {
		return "", err
	}
	if err := c.ImagePush(ctx, remote); err != nil {
		return "", err
	}
	for _, r := range []string{remote, ref} {
		if err := c.ImageRemove(ctx, r); err != nil {
			return "", err
		}
	}
	return remote, nil
}

// FreePort returns a TCP port free on 127.0.0.1 right now.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// DemoModelDir returns the absolute path of demo/model in the source tree.
func DemoModelDir(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return filepath.Join(dir, "demo", "model")
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("go.mod not found above the test directory")
		}
		dir = parent
	}
}

// WaitHTTP polls url until it answers 200 or the timeout passes.
func WaitHTTP(t testing.TB, url string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not answer 200 within %s (last error %v)", url, timeout, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// engineArch is the engine's CPU architecture (this machine's when the
// engine does not say), for the static binaries test images carry.
func engineArch(ctx context.Context, c *dockerrun.Client) (string, error) {
	info, err := c.Info(ctx)
	if err != nil {
		return "", err
	}
	if info.Arch == "" {
		return runtime.GOARCH, nil
	}
	return info.Arch, nil
}
