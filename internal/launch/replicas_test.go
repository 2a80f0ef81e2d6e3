package launch_test

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/modelhub-ai/modelhub/internal/dockerrun"
	"github.com/modelhub-ai/modelhub/internal/launch"
	"github.com/modelhub-ai/modelhub/internal/testutil"
)

func TestAutoReplicas(t *testing.T) {
	tests := []struct {
		info    dockerrun.EngineInfo
		gpus    string
		want    int
		wantErr string
	}{
		{info: dockerrun.EngineInfo{CPUs: 8, Memory: 64 << 30}, want: 8},
		{info: dockerrun.EngineInfo{CPUs: 8, Memory: 5 << 30}, want: 2},
		{info: dockerrun.EngineInfo{CPUs: 2, Memory: 1 << 30}, want: 1},
		{info: dockerrun.EngineInfo{}, want: 1},
		{info: dockerrun.EngineInfo{CPUs: 8, GPUs: 4}, gpus: "all", want: 4},
		{info: dockerrun.EngineInfo{CPUs: 8}, gpus: "2", want: 2},
		{info: dockerrun.EngineInfo{CPUs: 8}, gpus: "device=0,2,3", want: 3},
		{info: dockerrun.EngineInfo{CPUs: 8}, gpus: "all", wantErr: "does not list its GPUs"},
	}
	for _, tt := range tests {
		n, why, err := launch.AutoReplicas(tt.info, tt.gpus)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("%+v %q: %v, want %q", tt.info, tt.gpus, err, tt.wantErr)
			}
			continue
		}
		if err != nil || n != tt.want || why == "" {
			t.Errorf("%+v %q: %d (%s), %v, want %d", tt.info, tt.gpus, n, why, err, tt.want)
		}
	}
}

func TestReplicaGPUs(t *testing.T) {
	tests := []struct {
		gpus  string
		n, of int
		want  []string
	}{
		{"", 3, 0, []string{"", "", ""}},
		{"all", 1, 4, []string{"all"}},
		{"all", 3, 4, []string{"device=0", "device=1", "device=2"}},
		{"all", 2, 0, []string{"all", "all"}},
		{"2", 3, 0, []string{"device=0", "device=1", "device=0"}},
		{"device=3,5", 2, 8, []string{"device=3", "device=5"}},
	}
	for _, tt := range tests {
		got, err := launch.ReplicaGPUs(tt.gpus, tt.n, tt.of)
		if err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%q x%d of %d: %v, %v, want %v", tt.gpus, tt.n, tt.of, got, err, tt.want)
		}
	}
}

// StartReplicas starts n containers, each its own; Restart replaces one and
// drops it after MaxRestarts; Release removes them all. A replica that
// fails to start removes the ones started.
func TestStartReplicas(t *testing.T) {
	s, _ := modelDir(t, false)
	d := &testutil.FakeDocker{InfoFunc: info(dockerrun.EngineInfo{OS: "linux", Arch: "amd64", NVIDIA: true})}
	d.Images(map[string]dockerrun.Image{"img:1": {OS: "linux", Arch: "amd64"}})
	serveOnCreate(t, d)
	var ids atomic.Int32
	create := d.CreateFunc
	d.CreateFunc = func(ctx context.Context, spec dockerrun.Spec) (string, error) {
		if _, err := create(ctx, spec); err != nil {
			return "", err
		}
		return "c" + string(rune('0'+ids.Add(1))), nil
	}
	o := launch.SessionOptions{Options: launch.Options{Resolved: resolved(t, s, "m")}, Purpose: "predict", Reuse: true, Keep: true}
	// each replica its own GPU (what ReplicaGPUs gives for --gpus device=2,0)
	r, err := launch.StartReplicas(context.Background(), deps(s, d), o, 3, []string{"device=2", "device=0", "device=2"}, launch.Events{})
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	gpus := map[string]int{}
	for _, sp := range d.Specs() {
		names[sp.Name] = true
		gpus[sp.GPUs]++
		if !strings.HasPrefix(sp.Name, "modelhub-m-predict-") {
			t.Errorf("replica named %s", sp.Name)
		}
		if !sp.GPU {
			t.Errorf("replica %s requests no GPU", sp.Name)
		}
	}
	if len(names) != 3 || len(r.Sessions()) != 3 {
		t.Fatalf("specs %v", d.Specs())
	}
	if d.Specs()[0].GPUs != "device=2" || gpus["device=2"] != 2 || gpus["device=0"] != 1 {
		t.Errorf("replicas' GPUs %v (first %q), want device=2 twice (the first) and device=0", gpus, d.Specs()[0].GPUs)
	}
	old := r.Sessions()[1].ID
	for range launch.MaxRestarts {
		if _, err := r.Restart(context.Background(), 1); err != nil {
			t.Fatal(err)
		}
		// a restarted replica keeps its GPU
		if sp := d.Specs(); sp[len(sp)-1].GPUs != "device=0" {
			t.Errorf("replica 1 restarted with --gpus %q, want device=0", sp[len(sp)-1].GPUs)
		}
	}
	if !d.Called("remove " + old) {
		t.Errorf("the restarted replica %s was not removed: %v", old, d.Calls())
	}
	if _, err := r.Restart(context.Background(), 1); err == nil || r.Sessions()[1] != nil {
		t.Errorf("restart beyond MaxRestarts: %v", err)
	}
	if cs := r.Containers(); len(cs) != 3+launch.MaxRestarts {
		t.Errorf("Containers = %v", cs)
	}
	d.ResetCalls()
	if err := r.Release(context.Background()); err != nil {
		t.Fatal(err)
	}
	removed := 0
	for _, c := range d.Calls() {
		if strings.HasPrefix(c, "remove ") {
			removed++
		}
	}
	if removed != 2 {
		t.Errorf("Release removed %d, want the 2 left: %v", removed, d.Calls())
	}

	// the third replica does not start: the two started are removed
	d.ResetCalls()
	n := 0
	d.CreateFunc = func(ctx context.Context, spec dockerrun.Spec) (string, error) {
		n++
		if n == 3 {
			return "", errors.New("no room")
		}
		if _, err := create(ctx, spec); err != nil {
			return "", err
		}
		return "x" + string(rune('0'+n)), nil
	}
	if _, err := launch.StartReplicas(context.Background(), deps(s, d), o, 3, nil, launch.Events{}); err == nil || !strings.Contains(err.Error(), "no room") {
		t.Fatalf("err = %v", err)
	}
	for _, id := range []string{"x1", "x2"} {
		if !d.Called("remove " + id) {
			t.Errorf("%s left: %v", id, d.Calls())
		}
	}
}
