package predict

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/modelhub-ai/modelhub/internal/engine"
)

// replica is an engine that counts its predictions and dies (its
// connections cut, as a killed container's) after `after` of them.
func replica(t *testing.T, after int64) (*httptest.Server, *atomic.Int64) {
	var n atomic.Int64
	var srv *httptest.Server
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if after > 0 && n.Add(1) > after {
			// the container is gone: no answer, the connection is cut
			hj, _ := w.(http.Hijacker)
			if c, _, err := hj.Hijack(); err == nil {
				c.Close()
			}
			return
		}
		if after <= 0 {
			n.Add(1)
		}
		fmt.Fprint(w, `{"output": [{"prediction": [{"label": "cat", "probability": 0.9}], "shape": [1], "type": "label_list", "name": "p"}]}`)
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

func engineAt(url string) Engine {
	return Engine{Client: &engine.Client{Base: url, HTTP: engine.NewHTTP(1)}}
}

// Two replicas share one queue; one dies mid-batch and is dropped: every
// input is answered once (by the other), none is lost or doubled.
func TestRunner_replicaDropped(t *testing.T) {
	dir := t.TempDir()
	var names []string
	for i := range 20 {
		names = append(names, fmt.Sprintf("in%02d.png", i))
	}
	items := fileItems(t, dir, names...)
	good, goodN := replica(t, 0)
	dying, _ := replica(t, 3)
	out := filepath.Join(dir, "out")
	var mu sync.Mutex
	var downs []int
	r := &Runner{Engines: []Engine{engineAt(dying.URL), engineAt(good.URL)}, Options: Options{Jobs: 1, OutDir: out},
		Down: func(ctx context.Context, slot int, err error) Recovery {
			mu.Lock()
			defer mu.Unlock()
			downs = append(downs, slot)
			return Recovery{} // dropped
		}}
	p, err := Prepare(context.Background(), items, r.Options)
	if err != nil {
		t.Fatal(err)
	}
	sum, err := r.Run(context.Background(), p)
	if err != nil || sum.OK != 20 || sum.Failed != 0 {
		t.Fatalf("Run = %+v, %v", sum, err)
	}
	if len(downs) != 1 || downs[0] != 0 {
		t.Errorf("Down called for %v, want once for slot 0", downs)
	}
	lines := readLines(t, filepath.Join(out, ResultsFile))
	seen := map[string]int{}
	for _, l := range lines {
		seen[l.Input]++
	}
	if len(lines) != 20 || len(seen) != 20 {
		t.Errorf("%d lines for %d inputs: %v", len(lines), len(seen), seen)
	}
	if goodN.Load() < 17 {
		t.Errorf("the good replica answered %d", goodN.Load())
	}
}

// A replica that dies is restarted (Down gives its successor) and the input
// it lost is answered; an engine's own refusal is not retried.
func TestRunner_replicaRestarted(t *testing.T) {
	dir := t.TempDir()
	items := fileItems(t, dir, "a.png", "b.png", "c.png", "d.png", "bad.png")
	dying, _ := replica(t, 1)
	fresh, freshN := replica(t, 0)
	eng, srv := newFakeEngine(t)
	_ = eng
	r := &Runner{Engines: []Engine{engineAt(dying.URL)}, Options: Options{Jobs: 1},
		Down: func(ctx context.Context, slot int, err error) Recovery {
			n := engineAt(fresh.URL)
			return Recovery{Next: &n}
		}}
	// bad.png goes to an engine that refuses it: a failure, no retry
	r2 := &Runner{Engines: []Engine{engineAt(srv.URL)}, Options: Options{Jobs: 1},
		Down: func(context.Context, int, error) Recovery {
			t.Error("Down asked about a refusal")
			return Recovery{Up: true}
		}}
	p, _ := Prepare(context.Background(), items[:4], r.Options)
	sum, err := r.Run(context.Background(), p)
	if err != nil || sum.OK != 4 || freshN.Load() != 3 {
		t.Errorf("restart: %+v, %v, the new replica answered %d", sum, err, freshN.Load())
	}
	p, _ = Prepare(context.Background(), items[4:], r2.Options)
	sum, err = r2.Run(context.Background(), p)
	if err != nil || sum.Failed != 1 {
		t.Errorf("refusal: %+v, %v", sum, err)
	}
}

// Every replica dropped: the inputs left fail with ErrNoEngine, after
// MaxAttempts at most; the batch ends.
func TestRunner_allReplicasDropped(t *testing.T) {
	dir := t.TempDir()
	items := fileItems(t, dir, "a.png", "b.png", "c.png")
	d1, _ := replica(t, 1)
	d2, _ := replica(t, 1)
	var calls atomic.Int32
	r := &Runner{Engines: []Engine{engineAt(d1.URL), engineAt(d2.URL)}, Options: Options{Jobs: 1},
		Down: func(context.Context, int, error) Recovery { calls.Add(1); return Recovery{} }}
	var res []*Result
	r.OnResult = func(x *Result, _ Summary) { res = append(res, x) }
	p, _ := Prepare(context.Background(), items, r.Options)
	sum, err := r.Run(context.Background(), p)
	if err != nil || sum.OK != 2 || sum.Failed != 1 || calls.Load() != 2 {
		t.Fatalf("Run = %+v, %v, %d downs", sum, err, calls.Load())
	}
	for _, x := range res {
		if x.Status == StatusFailed && !strings.Contains(x.Error, "no replica of the model is left") {
			t.Errorf("failed with %q", x.Error)
		}
	}
}
