package predict

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/modelhub-ai/modelhub/internal/engine"
	"github.com/modelhub-ai/modelhub/internal/testutil"
)

// bigEngine answers every prediction with a label-free JSON answer of size
// bytes (a vector of zeros), written in 64 KiB pieces so the engine itself
// holds little; announced (Content-Length) or not. It counts what it sent.
func bigEngine(t testing.TB, size int64, announce bool) (*httptest.Server, *atomic.Int64) {
	var sent atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		head, tail := `{"output": [{"name": "v", "type": "vector", "shape": [1], "prediction": [0`, `]}]}`
		w.Header().Set("Content-Type", "application/json")
		if announce {
			w.Header().Set("Content-Length", strconv.FormatInt(size, 10))
		}
		n, _ := io.WriteString(w, head)
		left := size - int64(n) - int64(len(tail))
		chunk := []byte(strings.Repeat(",0", 32<<10))
		for left > 0 {
			c := chunk
			if int64(len(c)) > left {
				c = c[:left]
				if len(c)%2 == 1 { // keep the JSON valid: ",0" pairs, one space
					c[len(c)-1] = ' '
				}
			}
			m, err := w.Write(c)
			sent.Add(int64(m))
			if err != nil {
				return
			}
			left -= int64(m)
		}
		_, _ = io.WriteString(w, tail)
	}))
	t.Cleanup(srv.Close)
	return srv, &sent
}

// An answer over engine.MaxAnswer is refused with an error naming the limit: an
// announced one before it is read, an unannounced one as soon as it passes
// the limit; memory stays far below the answer's size.
func TestClient_largeAnswerRefused(t *testing.T) {
	for _, announce := range []bool{true, false} {
		srv, sent := bigEngine(t, 1<<30, announce) // 1 GiB
		c := &engine.Client{Base: srv.URL, HTTP: engine.NewHTTP(1)}
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		_, err := c.PredictReader(t.Context(), strings.NewReader("x"), 1, "x.png", "image/png")
		runtime.ReadMemStats(&after)
		if !errors.Is(err, engine.ErrAnswerTooLarge) || !strings.Contains(err.Error(), "larger than 16 MiB") {
			t.Errorf("announce=%v: err %v, want engine.ErrAnswerTooLarge naming 16 MiB", announce, err)
		}
		if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 3*engine.MaxAnswer {
			t.Errorf("announce=%v: refusing a 1 GiB answer allocated %d MiB", announce, alloc>>20)
		}
		srv.CloseClientConnections()
		if s := sent.Load(); s > 2*engine.MaxAnswer+(8<<20) {
			t.Errorf("announce=%v: the client read on: the engine sent %d MiB", announce, s>>20)
		}
	}
	// an answer just under the limit is taken whole
	srv, _ := bigEngine(t, engine.MaxAnswer-10, true)
	c := &engine.Client{Base: srv.URL, HTTP: engine.NewHTTP(1)}
	raw, err := c.PredictReader(t.Context(), strings.NewReader("x"), 1, "x.png", "image/png")
	if err != nil || len(raw) != engine.MaxAnswer-10 {
		t.Fatalf("an answer under the limit: %d bytes, %v", len(raw), err)
	}
	if _, err := engine.ParseAnswer(raw); err != nil {
		t.Fatal(err)
	}
}

// runBig predicts one input against an engine answering size bytes, with
// results.jsonl in a fresh folder, and returns the result.
func runBig(t testing.TB, size int64) *Result {
	srv, _ := bigEngine(t, size, true)
	dir := t.TempDir()
	in := filepath.Join(dir, "in.png")
	if err := os.WriteFile(in, []byte("png"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	if err := os.Mkdir(out, 0o755); err != nil {
		t.Fatal(err)
	}
	var got *Result
	r := &Runner{Client: &engine.Client{Base: srv.URL, HTTP: engine.NewHTTP(1)}, Options: Options{Jobs: 1, OutDir: out},
		OnResult: func(res *Result, _ Summary) { got = res }}
	plan, err := Prepare(t.Context(), []Item{FileItem("in.png", in, "image/png")}, r.Options)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Run(t.Context(), plan); err != nil {
		t.Fatal(err)
	}
	return got
}

// BenchmarkRunner_largeAnswer: one input whose answer is just under
// engine.MaxAnswer, through the whole batch (read, parse, results.jsonl). B/op is
// what one answer in flight costs; peak-heap-MiB the heap at its highest.
func BenchmarkRunner_largeAnswer(b *testing.B) {
	var peak uint64
	for b.Loop() {
		done := make(chan struct{})
		stopped := make(chan struct{})
		go func() {
			defer close(stopped)
			var m runtime.MemStats
			for {
				select {
				case <-done:
					return
				default:
				}
				runtime.ReadMemStats(&m)
				peak = max(peak, m.HeapAlloc)
			}
		}()
		res := runBig(b, engine.MaxAnswer-10)
		close(done)
		<-stopped
		if res == nil || res.Status != StatusOK {
			b.Fatalf("result %+v", res)
		}
	}
	b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MiB")
}

// The peak RSS of a process predicting one answer of engine.MaxAnswer bytes (and
// refusing one of 32 MiB, then 250 MiB) stays under 64 MiB: measured in a
// child process, so nothing else of the test binary counts.
func TestRunner_largeAnswerRSS(t *testing.T) {
	if raceEnabled {
		t.Skip("SKIP: the race detector's shadow memory makes RSS meaningless (make test runs this test again without -race)")
	}
	if os.Getenv("MODELHUB_PREDICT_RSS_CHILD") == "1" {
		res := runBig(t, engine.MaxAnswer-10)
		if res.Status != StatusOK {
			t.Fatalf("the answer under the limit failed: %s", res.Error)
		}
		for _, size := range []int64{32 << 20, 250 << 20} {
			res = runBig(t, size)
			if res.Status != StatusFailed || !strings.Contains(res.Error, "larger than 16 MiB") {
				t.Fatalf("a %d MiB answer: %s %s", size>>20, res.Status, res.Error)
			}
		}
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestRunner_largeAnswerRSS$", "-test.count=1")
	cmd.Env = append(os.Environ(), "MODELHUB_PREDICT_RSS_CHILD=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	rss, ok := testutil.MaxRSS(cmd.ProcessState)
	if !ok {
		t.Skip("SKIP: this system does not report the peak RSS of a child")
	}
	t.Logf("peak RSS predicting a %d MiB answer and refusing 32 and 250 MiB ones: %.1f MiB", engine.MaxAnswer>>20, float64(rss)/(1<<20))
	if rss > 64<<20 {
		t.Errorf("peak RSS %d MiB, want under 64 MiB for one answer in flight", rss>>20)
	}
}

// JSONLine is json.Marshal's line (keys in Result's order), the answer
// compacted, on one line.
func TestJSONLine_sameAsMarshal(t *testing.T) {
	for _, r := range []*Result{
		{Input: `a","saved":x,"time":"y.png`, Status: StatusOK, Output: []byte("{\n  \"output\": [{\"name\": \"<b>\", \"prediction\": \"http://e/api/output/x.h5\"}]\n}"),
			Saved: []SavedFile{{Output: "o", URL: "u", Path: "p"}}, Files: map[string]string{`k","time":`: "v"}},
		{Input: "b", Status: StatusOK, Output: []byte(`{"output": []}`)},
		{Input: "c", Status: StatusFailed, Error: "e"},
	} {
		got, err := JSONLine(r)
		if err != nil {
			t.Fatal(err)
		}
		want, _ := json.Marshal(r)
		var gv, wv any
		if json.Unmarshal(got, &gv) != nil || json.Unmarshal(want, &wv) != nil || !reflect.DeepEqual(gv, wv) {
			t.Errorf("JSONLine\n%s\nwant the value of\n%s", got, want)
		}
		if bytes.Count(got, []byte("\n")) != 1 || got[len(got)-1] != '\n' {
			t.Errorf("not one line: %q", got)
		}
		// the keys in the same order
		keys := func(b []byte) string {
			d := json.NewDecoder(bytes.NewReader(b))
			var ks []string
			depth := 0
			for {
				tok, err := d.Token()
				if err != nil {
					break
				}
				switch v := tok.(type) {
				case json.Delim:
					if v == '{' || v == '[' {
						depth++
					} else {
						depth--
					}
				case string:
					if depth == 1 && d.More() {
						ks = append(ks, v)
						var skip json.RawMessage
						_ = d.Decode(&skip)
					}
				}
			}
			return strings.Join(ks, ",")
		}
		if keys(got) != keys(want) {
			t.Errorf("keys %s, want %s", keys(got), keys(want))
		}
	}
}
