package cli

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/modelhub-ai/modelhub/internal/dockerrun"
	"github.com/modelhub-ai/modelhub/internal/launch"
	"github.com/modelhub-ai/modelhub/internal/testutil"
)

// BenchmarkRunDetach is `modelhub run -d` with everything local (model
// downloaded, image present) until it exits after printing the URLs. Target:
// under 300 ms plus the model's own start; BenchmarkContainerStart measures
// that start alone (create, start, first answer of the demo engine) through
// the API, without modelhub.
func BenchmarkRunDetach(b *testing.B) {
	c := testutil.Docker(b)
	bin := builtBinary(b)
	image := testutil.DemoImage(b, c)
	model, env := e2eModel(b, image)
	port := testutil.FreePort(b)
	ctx := context.Background()
	b.Cleanup(func() { removeModelContainers(c, model) })
	var before, docker, after time.Duration
	b.ResetTimer()
	for b.Loop() {
		cmd := exec.Command(bin, "run", "-d", "--api-port", fmt.Sprint(port), model)
		cmd.Env = env
		t0 := time.Now()
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("%v: %s", err, out)
		}
		t1 := time.Now()
		b.StopTimer()
		ct, err := c.Inspect(ctx, launch.ContainerName(model))
		if err != nil {
			b.Fatal(err)
		}
		// Split at the engine's timestamps: until the container is created
		// it is modelhub's own work (start-up, model lookup, Docker checks,
		// ports); from created to started the engine's (create, mounts,
		// network, start); then the model's start, readiness and printing.
		before += ct.Created.Sub(t0)
		docker += ct.StartedAt.Sub(ct.Created)
		after += t1.Sub(ct.StartedAt)
		if err := c.Remove(ctx, ct.ID); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	n := float64(b.N)
	b.ReportMetric(float64(before.Milliseconds())/n, "ms-to-create")
	b.ReportMetric(float64(docker.Milliseconds())/n, "ms-create-to-start")
	b.ReportMetric(float64(after.Milliseconds())/n, "ms-container-start-to-urls")
}

// BenchmarkContainerStart is the model's own start, for comparison with
// BenchmarkRunDetach: create and start the demo container through the API
// and poll until its REST API answers.
func BenchmarkContainerStart(b *testing.B) {
	c := testutil.Docker(b)
	image := testutil.DemoImage(b, c)
	port := testutil.FreePort(b)
	contrib := filepath.Join(testutil.DemoModelDir(b), "contrib_src")
	ctx := context.Background()
	name := testutil.UniqueName("modelhub-bench")
	url := fmt.Sprintf("http://127.0.0.1:%d/api/get_config", port)
	b.ResetTimer()
	for b.Loop() {
		id, err := c.Create(ctx, dockerrun.Spec{Name: name, Image: image, Model: name, Mode: dockerrun.ModeAPI,
			ContribSrc: contrib, HostIP: "127.0.0.1", Ports: []dockerrun.Port{{Container: 80, Host: port}}})
		if err != nil {
			b.Fatal(err)
		}
		if err := c.Start(ctx, id); err != nil {
			b.Fatal(err)
		}
		if err := (launch.Poller{}).Wait(ctx, url, time.Minute, nil); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		if err := c.Remove(ctx, id); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
}

// BenchmarkReadinessNotice measures how long after the API starts answering
// run notices it (target: within 100 ms): the server turns ready a random
// moment after polling began; the metric is the delay from that moment.
func BenchmarkReadinessNotice(b *testing.B) {
	var readyAt atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		at := readyAt.Load()
		if at == 0 || time.Now().UnixNano() < at {
			// like a container whose port is published but not yet served
			w.WriteHeader(http.StatusBadGateway)
			return
		}
		w.Write([]byte("{}"))
	}))
	defer srv.Close()
	var total, worst time.Duration
	n := 0
	for b.Loop() {
		// ready 10-110 ms from now, spread over the poll interval
		delay := 10*time.Millisecond + time.Duration(n*37%100)*time.Millisecond
		at := time.Now().Add(delay)
		readyAt.Store(at.UnixNano())
		if err := (launch.Poller{}).Wait(context.Background(), srv.URL, time.Minute, nil); err != nil {
			b.Fatal(err)
		}
		late := time.Since(at)
		total += late
		worst = max(worst, late)
		n++
	}
	b.ReportMetric(float64(total.Milliseconds())/float64(n), "ms-late-avg")
	b.ReportMetric(float64(worst.Milliseconds()), "ms-late-max")
}
