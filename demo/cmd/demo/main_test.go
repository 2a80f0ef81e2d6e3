package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/modelhub-ai/modelhub/internal/dockerrun"
	"github.com/modelhub-ai/modelhub/internal/testutil"
)

// The demo you can keep: after the demo (with -once, as `make demo` ended by
// Ctrl-C), the demo model stays installed and its image in Docker, the demo
// says how to run it again, and `modelhub run -d demo` works with no demo
// server and no index (an index URL where nothing answers).
func TestDemoKeepsTheModel(t *testing.T) {
	c := testutil.Docker(t)
	if testutil.GitBackend() == "" {
		t.Skip("SKIP: git http-backend not available: the demo serves its repository with it")
	}
	root, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	bin := filepath.Join(tmp, "modelhub")
	demoBin := filepath.Join(tmp, "modelhub-demo")
	for out, pkg := range map[string]string{bin: "./cmd/modelhub", demoBin: "./demo/cmd/demo"} {
		b := exec.Command("go", "build", "-o", out, pkg)
		b.Dir = root
		if msg, err := b.CombinedOutput(); err != nil {
			t.Fatalf("build %s: %v\n%s", pkg, err, msg)
		}
	}
	image := demoImage(root)
	// the image a user's `make demo` kept stays (rebuilt, same tag): only
	// an image this test made is removed
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	_, err = c.ImageInspect(ctx, image)
	cancel()
	if errors.Is(err, dockerrun.ErrImageNotFound) {
		t.Cleanup(func() { testutil.RemoveImage(c, image) })
	} else if err != nil {
		t.Fatalf("inspect %s: %v", image, err)
	}
	home := filepath.Join(tmp, "home")
	// the demo builds its engine with `go build`: the user's build cache, not
	// a cold one under the temporary XDG_CACHE_HOME (which cost minutes)
	env := append(os.Environ(), "XDG_CACHE_HOME="+filepath.Join(tmp, "cache"), "MODELHUB_CACHE=", "NO_COLOR=1", "GOCACHE="+testutil.GoCache())

	apiPort, uiPort := testutil.FreePort(t), testutil.FreePort(t)
	demo := exec.Command(demoBin, "-modelhub", bin, "-home", home, "-api-port", fmt.Sprint(apiPort), "-ui-port", fmt.Sprint(uiPort), "-once")
	demo.Dir = root
	demo.Env = env
	var stdout, stderr bytes.Buffer
	demo.Stdout, demo.Stderr = &stdout, &stderr
	if err := demo.Run(); err != nil {
		t.Fatalf("demo: %v\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
	}
	for _, want := range []string{
		fmt.Sprintf("REST API: http://127.0.0.1:%d/api/get_config", apiPort),
		fmt.Sprintf("Web UI: http://127.0.0.1:%d/", uiPort),
		`"label": "bright"`,
	} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("demo stdout lacks %q:\n%s", want, stdout.String())
		}
	}
	for _, want := range []string{"run it again:    " + bin + " --home " + home + " run demo", "stays installed", "docker rmi " + image} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("demo stderr lacks %q:\n%s", want, stderr.String())
		}
	}
	if _, err := os.Stat(filepath.Join(home, "models", "demo", "contrib_src", "model", "weights.bin")); err != nil {
		t.Fatalf("the demo model was not kept: %v", err)
	}

	// again, offline: no demo server, an index where nothing answers
	mh := func(args ...string) (string, error) {
		cmd := exec.Command(bin, append([]string{"--home", home, "--index", "http://127.0.0.1:9/none.json"}, args...)...)
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	if out, err := mh("--offline", "list"); err != nil || !strings.Contains(out, "demo") {
		t.Errorf("list offline: %v\n%s", err, out)
	}
	port := testutil.FreePort(t)
	out, err := mh("run", "-d", "--api-port", fmt.Sprint(port), "demo")
	t.Cleanup(func() { mh("stop", "demo") })
	if err != nil {
		t.Fatalf("run -d demo after the demo: %v\n%s", err, out)
	}
	testutil.WaitHTTP(t, fmt.Sprintf("http://127.0.0.1:%d/api/get_config", port), 30*time.Second)

	// and the rest of a user's next steps, still offline (issue 25, 1): predict
	// on the running demo, info, save a bundle, render a deployment
	mhb, pod := filepath.Join(tmp, "demo.mhb"), filepath.Join(tmp, "pod.yaml")
	for _, step := range []struct {
		args []string
		want string
	}{
		{[]string{"predict", "demo", filepath.Join(root, "demo", "model", "contrib_src", "sample_data", "bright.png")}, "bright"},
		{[]string{"info", "demo"}, "demo"},
		{[]string{"save", "demo", "-o", mhb}, ""},
		{[]string{"deploy", "demo", "--kube", "--modelhub-image", "reg/modelhub:t", "--cluster-index", "https://models.example.org/index.json", "-o", pod}, ""},
	} {
		if out, err := mh(step.args...); err != nil || !strings.Contains(out, step.want) {
			t.Errorf("%s after the demo: %v (want %q in its output)\n%s", strings.Join(step.args, " "), err, step.want, out)
		}
	}
	for _, f := range []string{mhb, pod} {
		if _, err := os.Stat(f); err != nil {
			t.Errorf("after the demo: %v", err)
		}
	}
	if out, err := mh("stop", "demo"); err != nil {
		t.Errorf("stop: %v\n%s", err, out)
	}
	if out, err := mh("validate", filepath.Join(root, "demo", "model")); err != nil {
		t.Errorf("the bundled example fails its own validator: %v\n%s", err, out)
	}
}
