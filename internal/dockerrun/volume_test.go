package dockerrun_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/modelhub-ai/modelhub/internal/dockerrun"
	"github.com/modelhub-ai/modelhub/internal/testutil"
)

// copyDir copies the demo model's contrib_src so the test may change it.
func copyDir(t *testing.T, src string) string {
	t.Helper()
	dst := t.TempDir()
	if err := os.CopyFS(dst, os.DirFS(src)); err != nil {
		t.Fatal(err)
	}
	return dst
}

// A remote engine cannot see this machine's folders: the model's files go
// into a volume through the API, once; the container mounts the volume.
func TestSyncVolume(t *testing.T) {
	c := testutil.Docker(t)
	ctx := t.Context()
	img := testutil.DemoImage(t, c)
	src := copyDir(t, filepath.Join(testutil.DemoModelDir(t), "contrib_src"))
	model := testutil.UniqueName("voltest")
	name := dockerrun.VolumeName(model, "0123456789abcdef")
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		names, _ := c.ModelVolumes(ctx, model)
		for _, n := range names {
			_ = c.RemoveVolume(ctx, n)
		}
	})
	if !strings.HasPrefix(name, "modelhub-voltest-") || !strings.HasSuffix(name, "-0123456789ab") {
		t.Fatalf("VolumeName = %q", name)
	}
	v := dockerrun.VolumeSync{Name: name, Model: model, Key: "0123456789abcdef", Image: img, Source: src}
	res, err := c.SyncVolume(ctx, v)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Created || res.Uploaded == 0 {
		t.Fatalf("first sync: %+v, want a created, filled volume", res)
	}
	again, err := c.SyncVolume(ctx, v)
	if err != nil {
		t.Fatal(err)
	}
	if again.Created || again.Uploaded != 0 {
		t.Fatalf("second sync: %+v, want the volume reused with nothing sent", again)
	}
	names, err := c.ModelVolumes(ctx, model)
	if err != nil || len(names) != 1 || names[0] != name {
		t.Fatalf("ModelVolumes = %v, %v", names, err)
	}

	// The model runs from the volume, with no bind mount at all, on a port
	// the engine picked.
	spec := dockerrun.Spec{
		Name: testutil.UniqueName("modelhub-voltest"), Image: img, Model: model, Mode: dockerrun.ModeAPI,
		ContribVolume: name, HostIP: "127.0.0.1", Ports: []dockerrun.Port{{Container: 80}},
	}
	id, err := c.Create(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	removeAfter(t, c, id)
	if err := c.Start(ctx, id); err != nil {
		t.Fatal(err)
	}
	ct, err := c.Inspect(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if ct.ContribSrc != "" || ct.ContribVolume != name {
		t.Fatalf("mounts: bind %q volume %q, want only the volume", ct.ContribSrc, ct.ContribVolume)
	}
	if len(ct.Ports) != 1 || ct.Ports[0].Host == 0 {
		t.Fatalf("ports %+v: want the engine's pick", ct.Ports)
	}
	url := fmt.Sprintf("http://127.0.0.1:%d/api/get_config", ct.Ports[0].Host)
	testutil.WaitHTTP(t, url, 30*time.Second)
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	want, err := os.ReadFile(filepath.Join(src, "model", "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(body), firstName(t, want)) {
		t.Errorf("get_config from the volume = %.200s, want the model's config", body)
	}
	// In use: the engine refuses to remove it.
	if err := c.RemoveVolume(ctx, name); err == nil {
		t.Error("removing a volume in use succeeded")
	}
}

func firstName(t *testing.T, config []byte) string {
	t.Helper()
	i := strings.Index(string(config), `"name"`)
	if i < 0 {
		t.Fatalf("config has no name: %s", config)
	}
	rest := string(config[i+len(`"name"`):])
	rest = rest[strings.Index(rest, `"`)+1:]
	return rest[:strings.Index(rest, `"`)]
}
