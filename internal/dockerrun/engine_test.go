package dockerrun_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelhub-ai/modelhub/internal/dockerrun"
	"github.com/modelhub-ai/modelhub/internal/testutil"
)

// removeAfter removes the container when the test ends, whatever happened.
func removeAfter(t *testing.T, c *dockerrun.Client, id string) {
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = c.Remove(ctx, id)
	})
}

func apiSpec(t *testing.T, image, contrib string, port int) dockerrun.Spec {
	name := testutil.UniqueName("modelhub-test")
	return dockerrun.Spec{
		Name: name, Image: image, Model: name, Mode: dockerrun.ModeAPI,
		ContribSrc: contrib, HostIP: "127.0.0.1",
		Ports:  []dockerrun.Port{{Container: 80, Host: port}},
		APIURL: fmt.Sprintf("http://127.0.0.1:%d", port),
	}
}

func TestEngine_lifecycle(t *testing.T) {
	c := testutil.Docker(t)
	ctx := t.Context()
	img := testutil.DemoImage(t, c)
	port := testutil.FreePort(t)
	spec := apiSpec(t, img, filepath.Join(testutil.DemoModelDir(t), "contrib_src"), port)
	id, err := c.Create(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	removeAfter(t, c, id)
	if err := c.Start(ctx, id); err != nil {
		t.Fatal(err)
	}
	testutil.WaitHTTP(t, spec.APIURL+"/api/get_config", 30*time.Second)

	resp, err := http.Get(spec.APIURL + "/api/predict_sample?filename=bright.png")
	if err != nil {
		t.Fatal(err)
	}
	var pred struct {
		Output []struct {
			Prediction []struct{ Label string } `json:"prediction"`
		} `json:"output"`
	}
	json.NewDecoder(resp.Body).Decode(&pred)
	resp.Body.Close()
	if len(pred.Output) != 1 || pred.Output[0].Prediction[0].Label != "bright" {
		t.Errorf("predict_sample = %+v", pred)
	}

	list, err := c.List(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	var found *dockerrun.Container
	for i := range list {
		if list[i].ID == id {
			found = &list[i]
		}
	}
	if found == nil {
		t.Fatalf("List does not show %s: %+v", spec.Name, list)
	}
	if found.Name != spec.Name || found.Model != spec.Model || found.Mode != "api" || found.APIURL != spec.APIURL ||
		!found.Running || found.Image != img || found.HostIP != "127.0.0.1" || found.StartedAt.IsZero() || found.Created.IsZero() || found.StartedAt.Before(found.Created) || found.ContribSrc != spec.ContribSrc {
		t.Errorf("listed container = %+v", *found)
	}

	var stdout, stderr bytes.Buffer
	if err := c.Logs(ctx, id, dockerrun.LogsOptions{Tail: "all"}, &stdout, &stderr); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stdout.String(), "GET /api/predict_sample?filename=bright.png") {
		t.Errorf("logs stdout = %q", stdout.String())
	}

	// Follow ends when the container stops.
	followed := make(chan string, 1)
	go func() {
		var out bytes.Buffer
		c.Logs(ctx, id, dockerrun.LogsOptions{Follow: true, Tail: "1"}, &out, io.Discard)
		followed <- out.String()
	}()
	if err := c.Stop(ctx, id, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	if ct, err := c.Inspect(ctx, id); err != nil || ct.Running {
		t.Errorf("after stop: %+v, %v", ct, err)
	}
	select {
	case <-followed:
	case <-time.After(30 * time.Second):
		t.Error("following logs did not end when the container stopped")
	}
	if err := c.Remove(ctx, id); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Inspect(ctx, id); !errors.Is(err, dockerrun.ErrContainerNotFound) {
		t.Errorf("after remove: %v", err)
	}
	if err := c.Stop(ctx, id, time.Second); !errors.Is(err, dockerrun.ErrContainerNotFound) {
		t.Errorf("stop of removed container: %v", err)
	}
}

func TestEngine_crashBeforeReady(t *testing.T) {
	c := testutil.Docker(t)
	ctx := t.Context()
	img := testutil.DemoImage(t, c)
	contrib := t.TempDir()
	os.WriteFile(filepath.Join(contrib, "demo_engine.json"), []byte(`{"exit_code": 3, "crash_message": "CUDA out of memory"}`), 0o644)
	id, err := c.Create(ctx, apiSpec(t, img, contrib, testutil.FreePort(t)))
	if err != nil {
		t.Fatal(err)
	}
	removeAfter(t, c, id)
	if err := c.Start(ctx, id); err != nil {
		t.Fatal(err)
	}
	code, err := c.Wait(ctx, id)
	if err != nil || code != 3 {
		t.Fatalf("Wait = %d, %v; want 3", code, err)
	}
	var stdout, stderr bytes.Buffer
	c.Logs(ctx, id, dockerrun.LogsOptions{Tail: "30"}, &stdout, &stderr)
	if !strings.Contains(stderr.String(), "CUDA out of memory") || !strings.Contains(stdout.String(), "loading model") {
		t.Errorf("logs: stdout %q stderr %q", stdout.String(), stderr.String())
	}
	ct, err := c.Inspect(ctx, id)
	if err != nil || ct.Running || ct.ExitCode != 3 {
		t.Errorf("inspect = %+v, %v", ct, err)
	}
}

func TestEngine_portBusy(t *testing.T) {
	c := testutil.Docker(t)
	ctx := t.Context()
	img := testutil.DemoImage(t, c)
	// Hold the port on 127.0.0.1 ourselves.
	port := testutil.FreePort(t)
	srv := &http.Server{Addr: fmt.Sprintf("127.0.0.1:%d", port)}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); srv.ListenAndServe() }()
	defer func() { srv.Close(); wg.Wait() }()
	time.Sleep(50 * time.Millisecond)
	id, err := c.Create(ctx, apiSpec(t, img, filepath.Join(testutil.DemoModelDir(t), "contrib_src"), port))
	if err != nil {
		t.Fatal(err)
	}
	removeAfter(t, c, id)
	if err := c.Start(ctx, id); !errors.Is(err, dockerrun.ErrPortBusy) {
		t.Errorf("start on a busy port: %v, want ErrPortBusy", err)
	}
}

func TestEngine_attachBash(t *testing.T) {
	c := testutil.Docker(t)
	ctx := t.Context()
	img := testutil.DemoImage(t, c)
	name := testutil.UniqueName("modelhub-test")
	id, err := c.Create(ctx, dockerrun.Spec{
		Name: name, Image: img, Model: name, Mode: dockerrun.ModeBash, Cmd: []string{"/bin/bash"}, TTY: true,
		ContribSrc: filepath.Join(testutil.DemoModelDir(t), "contrib_src"),
	})
	if err != nil {
		t.Fatal(err)
	}
	removeAfter(t, c, id)
	att, err := c.Attach(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	defer att.Close()
	if err := c.Start(ctx, id); err != nil {
		t.Fatal(err)
	}
	if err := c.Resize(ctx, id, 33, 101); err != nil {
		t.Fatal(err)
	}
	out := make(chan string, 1)
	go func() { b, _ := io.ReadAll(att); out <- string(b) }()
	io.WriteString(att, "echo hello from bash\nsize\npwd\nexit 5\n")
	code, err := c.Wait(ctx, id)
	if err != nil || code != 5 {
		t.Fatalf("Wait = %d, %v; want 5", code, err)
	}
	var got string
	select {
	case got = <-out:
	case <-time.After(10 * time.Second):
		t.Fatal("attach stream did not end")
	}
	for _, want := range []string{"demo$ ", "hello from bash\r\n", "33 101\r\n", "/contrib_src\r\n"} {
		if !strings.Contains(got, want) {
			t.Errorf("bash output %q lacks %q", got, want)
		}
	}
}

func TestEngine_pullFromRegistry(t *testing.T) {
	c := testutil.Docker(t)
	ctx := t.Context()
	img := testutil.UniqueDemoImage(t, c)
	remote := testutil.PushToRegistry(t, c, img, testutil.Registry(t))
	if _, err := c.ImageInspect(ctx, remote); !errors.Is(err, dockerrun.ErrImageNotFound) {
		t.Fatalf("image still present after removal: %v", err)
	}
	var events []dockerrun.PullProgress
	info, err := c.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	err = c.ImagePull(ctx, remote, dockerrun.PullOptions{Platform: info.Platform(), Progress: func(p dockerrun.PullProgress) {
		events = append(events, p)
	}})
	if err != nil {
		t.Fatal(err)
	}
	if len(events) < 3 {
		t.Fatalf("only %d progress events: %+v", len(events), events)
	}
	last := events[len(events)-1]
	if last.Layers == 0 || last.LayersDone != last.Layers || last.Total == 0 || last.Current != last.Total || !strings.Contains(last.Status, "Downloaded newer image") {
		t.Errorf("last progress event = %+v", last)
	}
	sawPartial := false
	for _, e := range events {
		if e.Layers > 0 && e.LayersDone < e.Layers {
			sawPartial = true
		}
	}
	if !sawPartial {
		t.Errorf("no event before the layers completed: %+v", events)
	}
	im, err := c.ImageInspect(ctx, remote)
	if err != nil || im.Platform() != info.Platform() {
		t.Errorf("pulled image = %+v, %v", im, err)
	}

	// A tag the registry lacks: a PullError naming the image and the reason.
	missing := strings.TrimSuffix(remote, ":1") + ":missing"
	err = c.ImagePull(ctx, missing, dockerrun.PullOptions{})
	var pe *dockerrun.PullError
	if !errors.As(err, &pe) || pe.Image != missing || !strings.Contains(pe.Error(), "not found") && !strings.Contains(pe.Error(), "unknown") {
		t.Errorf("pull of a missing tag: %v", err)
	}
}

func TestEngine_imageRemoveInUse(t *testing.T) {
	c := testutil.Docker(t)
	ctx := t.Context()
	img := testutil.DemoImage(t, c)
	// A second, unique image ID, so the tag is its only name.
	only := testutil.UniqueName("modelhub-test-only") + ":1"
	var ctxTar bytes.Buffer
	writeTar(t, &ctxTar, "FROM "+img+"\nLABEL unique="+only+"\n")
	if err := c.ImageBuild(ctx, only, &ctxTar, nil); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { testutil.RemoveImage(c, only) })
	spec := apiSpec(t, only, t.TempDir(), testutil.FreePort(t))
	id, err := c.Create(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.ImageRemove(ctx, only); !errors.Is(err, dockerrun.ErrImageInUse) {
		t.Errorf("remove of an image in use: %v", err)
	}
	c.Remove(ctx, id)
	if err := c.ImageRemove(ctx, only); err != nil {
		t.Errorf("remove of an unused image: %v", err)
	}
	if err := c.ImageRemove(ctx, only); !errors.Is(err, dockerrun.ErrImageNotFound) {
		t.Errorf("remove of a missing image: %v", err)
	}
}

func TestEngine_volumes(t *testing.T) {
	c := testutil.Docker(t)
	ctx := t.Context()
	name := testutil.UniqueName("modelhub-test-vol")
	v, err := c.VolumeCreate(ctx, name, map[string]string{"ai.modelhub.test": "1"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.VolumeRemove(context.Background(), name) })
	if v.Name != name || !strings.HasPrefix(v.Mountpoint, "/") {
		t.Errorf("volume %+v", v)
	}
	img := testutil.DemoImage(t, c)
	id, err := c.CreateContainer(ctx, dockerrun.ContainerSpec{
		Name: testutil.UniqueName("modelhub-test-generic"), Image: img, Cmd: []string{"python3", "run.py"},
		Env: []string{"A=1"}, User: "65532:65532", HostIP: "127.0.0.1", Ports: []dockerrun.Port{{Container: 80, Host: testutil.FreePort(t)}},
		Mounts: []dockerrun.Mount{{Volume: name, Target: "/models"}, {HostPath: v.Mountpoint, Target: "/contrib_src", ReadOnly: true}},
	})
	if err != nil {
		t.Fatal(err)
	}
	removeAfter(t, c, id)
	ct, err := c.Inspect(ctx, id)
	if err != nil || ct.ContribSrc != v.Mountpoint || len(ct.Ports) != 1 {
		t.Errorf("inspect %+v %v", ct, err)
	}
	// once the container is gone the volume can be removed, and removing it again is no error
	if err := c.Remove(ctx, id); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := c.VolumeRemove(ctx, name); err != nil {
			t.Errorf("remove volume: %v", err)
		}
	}
}

func TestEngine_exec(t *testing.T) {
	c := testutil.Docker(t)
	ctx := t.Context()
	img := testutil.DemoImage(t, c)
	id, err := c.CreateContainer(ctx, dockerrun.ContainerSpec{Name: testutil.UniqueName("modelhub-test-exec"), Image: img,
		Mounts: []dockerrun.Mount{{HostPath: filepath.Join(testutil.DemoModelDir(t), "contrib_src"), Target: "/contrib_src", ReadOnly: true}}})
	if err != nil {
		t.Fatal(err)
	}
	removeAfter(t, c, id)
	if err := c.Start(ctx, id); err != nil {
		t.Fatal(err)
	}
	code, out, err := c.Exec(ctx, id, []string{"bash", "-c", "echo hello from exec"})
	if err != nil || code != 0 || out != "hello from exec\n" {
		t.Errorf("exec echo: %d %q %v", code, out, err)
	}
	code, _, err = c.Exec(ctx, id, []string{"bash", "-c", "exit 3"})
	if err != nil || code != 3 {
		t.Errorf("exec exit 3: %d %v", code, err)
	}
}
