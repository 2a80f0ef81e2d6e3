package kubeconformance

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
)

// A cohort on the cluster: `modelhub deploy MODEL --kube --job --shards 2` writes an
// Indexed Job whose two pods (each the model as a sidecar plus `modelhub predict
// --engine http://127.0.0.1:80 --shard I/2`) predict the cohort of a claim into
// results/NAME/shard-I on it. A shard's pod deleted in the middle of its work is
// replaced by the Job and the replacement skips what was done; the merged results
// equal a local `modelhub predict` of the same cohort, every input exactly once; the
// Job applied again redoes nothing.
func TestJob_ShardedCohortEqualsLocalRun(t *testing.T) {
	// Each prediction takes a second, so a pod can be deleted in the middle of its shard.
	e := newEnv(t, `{"predict_delay": "1s"}`)
	dir, err := os.MkdirTemp("", "modelhub-kube-cohort-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	cohort := filepath.Join(dir, "cohort")
	levels := []uint8{0, 30, 70, 110, 128, 150, 200, 240, 255}
	for i, v := range levels {
		writePNG(t, filepath.Join(cohort, fmt.Sprintf("case-%02d.png", i)), v)
	}
	results := filepath.Join(dir, "results")
	for _, d := range []string{dir, results} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		// predict runs as the modelhub image's user; a hostPath volume ignores fsGroup.
		if err := os.Chown(d, 65532, 65532); err != nil {
			t.Fatal(err)
		}
	}

	// The local run, on Docker, as the reference.
	local := filepath.Join(t.TempDir(), "local")
	e.must(nil, "modelhub", "predict", e.Model, cohort, "-o", local)

	pv := "mh-pv-" + randomHex(5)
	e.must([]byte(fmt.Sprintf(`apiVersion: v1
kind: PersistentVolume
metadata: {name: %s}
spec:
  capacity: {storage: 1Gi}
  accessModes: [ReadWriteOnce]
  persistentVolumeReclaimPolicy: Retain
  claimRef: {namespace: %s, name: cohort}
  hostPath: {path: %s, type: Directory}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: cohort, namespace: %s}
spec:
  accessModes: [ReadWriteOnce]
  volumeName: %s
  storageClassName: ""
  resources: {requests: {storage: 1Gi}}
`, pv, e.NS, dir, e.NS, pv)), "kubectl", "apply", "-f", "-")
	t.Cleanup(func() { _ = exec.Command("kubectl", "delete", "pv", pv, "--wait=false").Run() })

	manifest := e.deploy("--job", "--shards", "2", "--data-pvc", "cohort")
	e.must(manifest, "kubectl", "apply", "--dry-run=server", "--validate=strict", "-f", "-")
	e.must(manifest, "kubectl", "apply", "-f", "-")

	// Delete shard 0's pod once it has answered an input.
	shard0 := filepath.Join(results, e.Model, "shard-0", "results.jsonl")
	deadline := time.Now().Add(waitTimeout)
	for countLines(shard0) < 1 {
		if time.Now().After(deadline) {
			t.Fatalf("shard 0 answered nothing within %s", waitTimeout)
		}
		time.Sleep(300 * time.Millisecond)
	}
	victim := strings.TrimSpace(e.kubectl("get", "pods", "-l", "batch.kubernetes.io/job-completion-index=0,app.kubernetes.io/name="+e.Model,
		"-o", "jsonpath={.items[0].metadata.name}"))
	e.kubectl("delete", "pod", victim, "--wait=false")
	t.Logf("deleted %s after %d answer(s) of shard 0", victim, countLines(shard0))

	e.kubectl("wait", "--for=condition=Complete", "job/"+e.Model, kubeTimeout())
	want := predictions(t, filepath.Join(local, "results.jsonl"))
	if len(want) != len(levels) {
		t.Fatalf("the local run answered %d inputs, want %d", len(want), len(levels))
	}
	got := map[string]string{}
	for i := 0; i < 2; i++ {
		sd := filepath.Join(results, e.Model, fmt.Sprintf("shard-%d", i))
		for in, p := range predictions(t, filepath.Join(sd, "results.jsonl")) {
			if _, dup := got[in]; dup {
				t.Errorf("%s answered by two shards", in)
			}
			got[in] = p
		}
		var prov struct {
			Shard, Engine, Image string
			GitCommit            string `json:"git_commit"`
		}
		data, err := os.ReadFile(filepath.Join(sd, "provenance.json"))
		if err != nil || json.Unmarshal(data, &prov) != nil {
			t.Fatalf("shard %d provenance: %v\n%s", i, err, data)
		}
		if prov.Shard != fmt.Sprintf("%d/2", i) || prov.Engine != "http://127.0.0.1:80" || prov.Image != e.DemoImage || prov.GitCommit != e.Repo.Head() {
			t.Errorf("shard %d provenance %+v", i, prov)
		}
	}
	compare(t, got, want)
	done0 := strings.TrimSpace(e.kubectl("get", "pods", "-l", "batch.kubernetes.io/job-completion-index=0,app.kubernetes.io/name="+e.Model,
		"--field-selector=status.phase=Succeeded", "-o", "jsonpath={.items[*].metadata.name}"))
	if done0 == "" || done0 == victim {
		t.Errorf("shard 0 was completed by %q, want a replacement of the deleted %s", done0, victim)
	}

	// Applied again (a new Job, same results folder): every input is done already.
	lines := []int{countLines(shard0), countLines(filepath.Join(results, e.Model, "shard-1", "results.jsonl"))}
	e.kubectl("delete", "job", e.Model, "--cascade=foreground", "--wait=true", kubeTimeout())
	e.must(manifest, "kubectl", "apply", "-f", "-")
	e.kubectl("wait", "--for=condition=Complete", "job/"+e.Model, kubeTimeout())
	logs := e.kubectl("logs", "-l", "app.kubernetes.io/name="+e.Model, "-c", "predict", "--prefix")
	if strings.Count(logs, "already done") != 2 {
		t.Errorf("the rerun's predict logs do not show both shards skipping their inputs:\n%s", logs)
	}
	again := []int{countLines(shard0), countLines(filepath.Join(results, e.Model, "shard-1", "results.jsonl"))}
	if fmt.Sprint(again) != fmt.Sprint(lines) {
		t.Errorf("the rerun added results: lines %v, were %v", again, lines)
	}
}

func writePNG(t *testing.T, path string, v uint8) {
	t.Helper()
	img := image.NewGray(image.Rect(0, 0, 16, 16))
	for i := range img.Pix {
		img.Pix[i] = v
	}
	img.Set(0, 0, color.Gray{Y: v ^ 1}) // no two files alike
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

func countLines(path string) int {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	return bytes.Count(data, []byte("\n"))
}

// predictions maps each input with an "ok" line of a results.jsonl to its
// predictions (the engine answer's "output"; its timestamp and processing time
// differ between runs). An input with two "ok" lines is an error.
func predictions(t *testing.T, path string) map[string]string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 16<<20)
	for sc.Scan() {
		var r struct {
			Input, Status string
			Output        struct {
				Output json.RawMessage `json:"output"`
			} `json:"output"`
		}
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if r.Status != "ok" {
			continue
		}
		if _, dup := out[r.Input]; dup {
			t.Errorf("%s: %s answered twice", path, r.Input)
		}
		var b bytes.Buffer
		if err := json.Compact(&b, r.Output.Output); err != nil || b.Len() == 0 {
			t.Fatalf("%s: %s has no predictions", path, r.Input)
		}
		out[r.Input] = b.String()
	}
	return out
}

func compare(t *testing.T, got, want map[string]string) {
	t.Helper()
	var names []string
	for in := range want {
		names = append(names, in)
	}
	sort.Strings(names)
	for _, in := range names {
		if got[in] != want[in] {
			t.Errorf("%s: the cluster answered %s, the local run %s", in, got[in], want[in])
		}
	}
	if len(got) != len(want) {
		t.Errorf("the cluster answered %d inputs, the local run %d", len(got), len(want))
	}
}
