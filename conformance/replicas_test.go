package conformance

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/modelhub-ai/modelhub/internal/dockerrun"
	"github.com/modelhub-ai/modelhub/internal/engine"
	"github.com/modelhub-ai/modelhub/internal/launch"
	"github.com/modelhub-ai/modelhub/internal/predict"
	"github.com/modelhub-ai/modelhub/internal/store"
	"github.com/modelhub-ai/modelhub/internal/testutil"
)

// cohort writes n small PNGs of different grey levels into a new folder.
func cohort(t testing.TB, n int) string {
	dir := t.TempDir()
	for i := range n {
		p := filepath.Join(dir, fmt.Sprintf("case%03d.png", i))
		if err := os.WriteFile(p, pngBytes(t, 16, 16, uint8(i*7)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// modelContainers are the containers (running or not) of the model named name.
func modelContainers(t testing.TB, c *dockerrun.Client, name string) []dockerrun.Container {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cs, err := c.List(ctx, true)
	if err != nil {
		t.Fatal(err)
	}
	var out []dockerrun.Container
	for _, ct := range cs {
		if strings.EqualFold(ct.Model, name) {
			out = append(out, ct)
		}
	}
	return out
}

// predict --replicas 2 on the real engine, with a model spending 100 ms of
// CPU a prediction: one replica is killed (docker kill) mid-run; the input it
// held is answered by the other while it is restarted; every input is
// answered exactly once; no container is left. A rerun with one replica
// resumes (nothing to redo), and Ctrl-C on replicas leaves nothing.
func TestRealEngine_PredictReplicas(t *testing.T) {
	e := newEnv(t)
	model := e.localModel(t, "cpumodel", "-cpu")
	name := filepath.Base(model)
	in := cohort(t, 24)
	out := filepath.Join(t.TempDir(), "out")
	p := e.start("predict", model, in, "-o", out, "--replicas", "2")
	// kill the replica that answered first, once both have answered
	deadline := time.Now().Add(3 * time.Minute)
	var victim string
	for victim == "" && time.Now().Before(deadline) {
		data, _ := os.ReadFile(filepath.Join(out, predict.ResultsFile))
		if strings.Count(string(data), "\n") >= 4 {
			for _, c := range modelContainers(t, e.Docker, name) {
				if c.Running {
					victim = c.ID
					break
				}
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	if victim == "" {
		p.cancel()
		t.Fatalf("no replica answered within 3 minutes\n%s", p.Stderr)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := e.Docker.Kill(ctx, victim); err != nil {
		t.Fatal(err)
	}
	if code := p.Wait(t, 5*time.Minute); code != 0 {
		t.Fatalf("exit %d\n--- stdout\n%s--- stderr\n%s", code, p.Stdout, p.Stderr)
	}
	stderr := p.Stderr.String()
	mustMatch(t, "stderr", `starting 2 replica\(s\) of `, stderr)
	mustMatch(t, "stderr", `replica \d \(container \S+\) stopped answering`, stderr)
	mustMatch(t, "stderr", `(?m)^24 done now, 0 done before, 0 failed, 0 unsupported$`, stderr)
	data, err := os.ReadFile(filepath.Join(out, predict.ResultsFile))
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for _, l := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		if !strings.Contains(l, `"status":"ok"`) {
			t.Errorf("line not ok: %s", l)
		}
		i := strings.Index(l, `"input":"`)
		seen[strings.SplitN(l[i+9:], `"`, 2)[0]]++
	}
	if len(seen) != 24 {
		t.Errorf("%d inputs answered: %v", len(seen), seen)
	}
	for k, n := range seen {
		if n != 1 {
			t.Errorf("%s answered %d times", k, n)
		}
	}
	if cs := modelContainers(t, e.Docker, name); len(cs) != 0 {
		t.Errorf("containers left: %+v", cs)
	}

	// another number of replicas resumes
	r := e.must("predict", model, in, "-o", out, "--replicas", "1")
	mustMatch(t, "stderr", `(?m)^0 done now, 24 done before, 0 failed, 0 unsupported$`, r.Stderr)

	// Ctrl-C while both replicas work
	p = e.start("predict", model, in, "-o", filepath.Join(t.TempDir(), "out2"), "--replicas", "2")
	waitFor(t, p.Stderr, regexpMust(`\[\d+/24\]|case\d+\.png: ok`), 3*time.Minute)
	if err := p.Cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	if code := p.Wait(t, time.Minute); code != 130 {
		t.Errorf("exit %d after Ctrl-C, want 130\n%s", code, p.Stderr)
	}
	if cs := modelContainers(t, e.Docker, name); len(cs) != 0 {
		t.Errorf("containers left after Ctrl-C: %+v", cs)
	}
}

// BenchmarkRealEngine_Replicas: 200 inputs to a model spending ~100 ms of
// CPU a prediction on the real engine, fed to 1 replica and to 2 (started
// beforehand: the batch alone is timed), in alternating order. Reported:
// seconds of each and their ratio (target <= 0.6 on 2 cores); with a local
// Docker engine whose cgroups are readable, also the CPU the replicas'
// containers used per prediction (ms-cpu/prediction: the model's 100 ms and
// the engine's own work) and the cores they got on average during each batch
// (cores-1replica, cores-2replicas: when the second replica adds no core, the
// machine had none to give), and the load average at the end. Run it with
// -benchtime 1x (each iteration is 400 predictions).
func BenchmarkRealEngine_Replicas(b *testing.B) {
	engineImage(b)
	c := testutil.Docker(b)
	image := sharedModelImage(b, c)
	dir := filepath.Join(b.TempDir(), testutil.UniqueName("cpumodel"))
	if err := os.CopyFS(dir, os.DirFS(filepath.Join("testdata", "cpumodel"))); err != nil {
		b.Fatal(err)
	}
	initJSON := fmt.Sprintf(`{"docker_id": %q, "external_contrib_files": []}`, image)
	if err := os.WriteFile(filepath.Join(dir, "init", "init.json"), []byte(initJSON), 0o644); err != nil {
		b.Fatal(err)
	}
	m := &store.Model{Name: filepath.Base(dir), Dir: dir, Local: true}
	deps := launch.Deps{Docker: func(context.Context) (dockerrun.API, error) { return c, nil }}
	items := fileItems(b, cohort(b, 200))
	ctx := context.Background()
	start := func(n int) *launch.Replicas {
		r, err := launch.StartReplicas(ctx, deps, launch.SessionOptions{Options: launch.Options{Resolved: m, Timeout: 5 * time.Minute}, Purpose: "bench"}, n, nil, launch.Events{})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { r.Release(context.Background()) })
		return r
	}
	one, two := start(1), start(2)
	var cpu1, cpu2 time.Duration
	cpuOK := true
	cpuOf := func(r *launch.Replicas) time.Duration {
		var sum time.Duration
		for _, s := range r.Sessions() {
			d, ok := containerCPU(s.ID)
			cpuOK = cpuOK && ok
			sum += d
		}
		return sum
	}
	batch := func(r *launch.Replicas, items []predict.Item) time.Duration {
		run := &predict.Runner{Options: predict.Options{Jobs: 1}}
		for _, s := range r.Sessions() {
			run.Engines = append(run.Engines, predict.Engine{Client: &engine.Client{Base: s.URL, HTTP: engine.NewHTTP(1)}})
		}
		p, err := predict.Prepare(ctx, items, run.Options)
		if err != nil {
			b.Fatal(err)
		}
		c0, t0 := cpuOf(r), time.Now()
		sum, err := run.Run(ctx, p)
		if err != nil || sum.OK != len(items) {
			b.Fatalf("batch: %+v, %v", sum, err)
		}
		d := time.Since(t0)
		if c := cpuOf(r) - c0; r == one {
			cpu1 += c
		} else {
			cpu2 += c
		}
		return d
	}
	batch(one, items[:4]) // warm every replica up (its first prediction loads numpy and PIL)
	batch(two, items[:8])
	cpu1, cpu2 = 0, 0
	var t1, t2 time.Duration
	b.ResetTimer()
	for i := range b.N {
		if i%2 == 0 {
			t1 += batch(one, items)
			t2 += batch(two, items)
		} else {
			t2 += batch(two, items)
			t1 += batch(one, items)
		}
	}
	b.StopTimer()
	b.ReportMetric(t1.Seconds()/float64(b.N), "s/1replica")
	b.ReportMetric(t2.Seconds()/float64(b.N), "s/2replicas")
	b.ReportMetric(t2.Seconds()/t1.Seconds(), "ratio")
	if cpuOK {
		b.ReportMetric(float64((cpu1+cpu2).Milliseconds())/float64(2*len(items)*b.N), "ms-cpu/prediction")
		b.ReportMetric(cpu1.Seconds()/t1.Seconds(), "cores-1replica")
		b.ReportMetric(cpu2.Seconds()/t2.Seconds(), "cores-2replicas")
	}
	if data, err := os.ReadFile("/proc/loadavg"); err == nil {
		var l1 float64
		if _, err := fmt.Sscan(string(data), &l1); err == nil {
			b.ReportMetric(l1, "load1")
		}
	}
}

// containerCPU is the CPU time a local container has used, from its cgroup
// (cgroup v1 with Docker's cgroupfs driver, or v2 with either driver);
// false when it cannot be read (a remote engine, another layout).
func containerCPU(id string) (time.Duration, bool) {
	if data, err := os.ReadFile("/sys/fs/cgroup/cpuacct/docker/" + id + "/cpuacct.usage"); err == nil {
		var ns int64
		if _, err := fmt.Sscan(string(data), &ns); err == nil {
			return time.Duration(ns), true
		}
	}
	for _, p := range []string{"/sys/fs/cgroup/system.slice/docker-" + id + ".scope/cpu.stat", "/sys/fs/cgroup/docker/" + id + "/cpu.stat"} {
		data, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		for _, l := range strings.Split(string(data), "\n") {
			var us int64
			if _, err := fmt.Sscanf(l, "usage_usec %d", &us); err == nil {
				return time.Duration(us) * time.Microsecond, true
			}
		}
	}
	return 0, false
}

// fileItems are the PNGs of dir as predict collects them.
func fileItems(b testing.TB, dir string) []predict.Item {
	coll, err := predict.Collect(&predict.Spec{Formats: []string{"image/png"}}, predict.Request{Args: []string{dir}})
	if err != nil {
		b.Fatal(err)
	}
	return coll.Items
}

func regexpMust(s string) *regexp.Regexp { return regexp.MustCompile(s) }
