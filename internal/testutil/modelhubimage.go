package testutil

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"

	"github.com/modelhub-ai/modelhub/internal/dockerrun"
	"github.com/modelhub-ai/modelhub/internal/selfimage"
)

var modelhubImage struct {
	sync.Mutex
	ref string
	c   *dockerrun.Client
}

// ModelhubImage builds the modelhub image (internal/selfimage) from the
// source under test, once per process: a static linux binary of
// cmd/modelhub for the engine's architecture, the host's CA bundle (or a
// placeholder where there is none). RemoveModelhubImage removes it.
func ModelhubImage(ctx context.Context, c *dockerrun.Client) (string, error) {
	modelhubImage.Lock()
	defer modelhubImage.Unlock()
	if modelhubImage.ref != "" {
		return modelhubImage.ref, nil
	}
	arch, err := engineArch(ctx, c)
	if err != nil {
		return "", err
	}
	dir, err := os.MkdirTemp("", "modelhub-image-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(dir)
	bin := filepath.Join(dir, "modelhub")
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags=-s -w", "-o", bin, "github.com/modelhub-ai/modelhub/cmd/modelhub")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+arch)
	if msg, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build modelhub for the image: %v: %s", err, msg)
	}
	data, err := os.ReadFile(bin)
	if err != nil {
		return "", err
	}
	certs, err := os.ReadFile("/etc/ssl/certs/ca-certificates.crt")
	if err != nil {
		certs = []byte("# no CA bundle on the test host; the tests reach only 127.0.0.1\n")
	}
	tar, err := selfimage.Context(data, certs, "test")
	if err != nil {
		return "", err
	}
	ref := UniqueName("modelhub-test-self") + ":test"
	var log bytes.Buffer
	if err := c.ImageBuild(ctx, ref, bytes.NewReader(tar), &log); err != nil {
		return "", fmt.Errorf("%v\n%s", err, log.String())
	}
	modelhubImage.ref = ref
	modelhubImage.c, _ = dockerrun.New()
	return ref, nil
}

// RemoveModelhubImage removes the image ModelhubImage built; call it from
// TestMain after m.Run.
func RemoveModelhubImage() {
	modelhubImage.Lock()
	defer modelhubImage.Unlock()
	if modelhubImage.ref != "" {
		RemoveImage(modelhubImage.c, modelhubImage.ref)
		modelhubImage.c.Close()
		modelhubImage.ref = ""
	}
}
