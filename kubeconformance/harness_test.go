package kubeconformance

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/modelhub-ai/modelhub/internal/dockerrun"
	"github.com/modelhub-ai/modelhub/internal/testutil"
)

// The environment `make kube-conformance` gives the tests (scripts/kube-cluster.sh up
// writes it).
const (
	EnvDir        = "MODELHUB_KUBE_DIR"        // the cluster's folder
	EnvContainerd = "MODELHUB_KUBE_CONTAINERD" // its containerd's socket
	EnvHostIP     = "MODELHUB_KUBE_HOST_IP"    // this machine's address on the pod bridge
	EnvRequire    = "MODELHUB_REQUIRE_KUBE"    // 1: fail instead of skipping without a cluster
)

// EnvWait is the seconds each wait on the cluster may take (default 300), shared with
// scripts/kube-cluster.sh: raise it on a loaded machine.
const EnvWait = "MODELHUB_KUBE_WAIT"

// waitTimeout bounds every wait on the cluster (a pod Ready, a Job complete, a port-forward
// started, an answer through it); cmdTimeout every command a test runs, a wait included.
var (
	waitTimeout = kubeWait()
	cmdTimeout  = waitTimeout + 2*time.Minute
)

func kubeWait() time.Duration {
	if v := os.Getenv(EnvWait); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			fmt.Fprintf(os.Stderr, "%s=%q is not a number of seconds; using 300\n", EnvWait, v)
		} else {
			return time.Duration(n) * time.Second
		}
	}
	return 300 * time.Second
}

// kubeTimeout is kubectl's --timeout flag for a wait: waitTimeout.
func kubeTimeout() string { return fmt.Sprintf("--timeout=%ds", int(waitTimeout.Seconds())) }

var (
	binPath string // the modelhub binary, built by TestMain
	setup   struct {
		sync.Once
		demo, modelhub string // image references, imported into the cluster
		err            error
	}
)

func TestMain(m *testing.M) {
	code := func() int {
		if os.Getenv(EnvDir) == "" {
			return m.Run() // every test skips (or fails under MODELHUB_REQUIRE_KUBE=1), saying why
		}
		dir, err := os.MkdirTemp("", "modelhub-kubeconformance-")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer os.RemoveAll(dir)
		binPath = filepath.Join(dir, "modelhub")
		build := exec.Command("go", "build", "-o", binPath, "../cmd/modelhub")
		if out, err := build.CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "build modelhub: %v\n%s", err, out)
			return 1
		}
		defer testutil.RemoveDemoImages()
		defer testutil.RemoveModelhubImage()
		// Interrupted (scripts/kube-conformance.sh sends SIGINT to the whole process group,
		// so commands the tests run get it too): remove the Docker images and the binary
		// before exiting; the cluster and everything in it go down with it.
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
		go func() {
			s := <-sig
			fmt.Fprintf(os.Stderr, "kubeconformance: %v: removing the test images and stopping\n", s)
			testutil.RemoveDemoImages()
			testutil.RemoveModelhubImage()
			os.RemoveAll(dir)
			os.Exit(130)
		}()
		return m.Run()
	}()
	os.Exit(code)
}

// cluster skips the test (or fails it under MODELHUB_REQUIRE_KUBE=1) when no cluster
// was started for the suite.
func cluster(t *testing.T) {
	t.Helper()
	if os.Getenv(EnvDir) != "" && os.Getenv(EnvContainerd) != "" && os.Getenv(EnvHostIP) != "" && os.Getenv("KUBECONFIG") != "" {
		return
	}
	msg := "no Kubernetes cluster for this suite (" + EnvDir + ", " + EnvContainerd + ", " + EnvHostIP + ", KUBECONFIG unset): run `make kube-conformance`"
	if os.Getenv(EnvRequire) == "1" {
		t.Fatal(msg)
	}
	fmt.Fprintln(os.Stderr, "SKIP:", msg)
	t.Skip(msg)
}

// images builds the demo engine image and the modelhub image once, and imports them
// into the cluster's containerd from `docker save` archives. The Docker tags are
// removed by TestMain.
func images(t *testing.T) (demo, modelhub string) {
	t.Helper()
	setup.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		defer cancel()
		c, err := dockerrun.New()
		if err != nil {
			setup.err = err
			return
		}
		defer c.Close()
		if setup.demo, err = testutil.DemoBaseImage(ctx, c); err != nil {
			setup.err = fmt.Errorf("build the demo engine image: %w", err)
			return
		}
		if setup.modelhub, err = testutil.ModelhubImage(ctx, c); err != nil {
			setup.err = fmt.Errorf("build the modelhub image: %w", err)
			return
		}
		setup.err = importImages(ctx, setup.demo, setup.modelhub)
	})
	if setup.err != nil {
		t.Fatal(setup.err)
	}
	return setup.demo, setup.modelhub
}

// importImages saves refs from Docker and imports them into the cluster's containerd
// (namespace k8s.io, where the kubelet's CRI looks).
func importImages(ctx context.Context, refs ...string) error {
	dir, err := os.MkdirTemp("", "modelhub-kube-images-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	for i, ref := range refs {
		tar := filepath.Join(dir, fmt.Sprintf("%d.tar", i))
		if out, err := exec.CommandContext(ctx, "docker", "save", "-o", tar, ref).CombinedOutput(); err != nil {
			return fmt.Errorf("docker save %s: %v: %s", ref, err, out)
		}
		if out, err := exec.CommandContext(ctx, "ctr", "-a", os.Getenv(EnvContainerd), "-n", "k8s.io", "images", "import", tar).CombinedOutput(); err != nil {
			return fmt.Errorf("ctr images import %s: %v: %s", ref, err, out)
		}
	}
	return nil
}

// Env is one test's setup: a namespace of its own and the demo model served to the pods.
type Env struct {
	t *testing.T
	// NS is the test's namespace, deleted when the test ends.
	NS string
	// Model is the model's unique name in the served index; Name its objects' name.
	Model string
	// DemoImage is the model's image, ModelhubImage the init container's.
	DemoImage, ModelhubImage string
	// Home is MODELHUB_HOME; Index the served models.json URL.
	Home, Index string
	Repo        *testutil.Repo
	Files       *testutil.FileServer
	// WeightsPath is the weight file's path on Files.
	WeightsPath string
}

// newEnv serves the demo model under a unique name (its index, git repository and
// weight file, on the pod bridge's gateway address) and creates a namespace. behaviour,
// when not "", is the demo engine's demo_engine.json (see demo/engine).
func newEnv(t *testing.T, behaviour string) *Env {
	t.Helper()
	cluster(t)
	demo, mh := images(t)
	host := os.Getenv(EnvHostIP)
	e := &Env{t: t, DemoImage: demo, ModelhubImage: mh, Home: t.TempDir()}
	e.Model = testutil.UniqueName("kubedemo")
	e.NS = testutil.UniqueName("mh")
	e.Files = testutil.NewFileServerOn(t, host)
	weights, err := os.ReadFile(filepath.Join("..", "demo", "files", "weights.bin"))
	if err != nil {
		t.Fatal(err)
	}
	e.WeightsPath = "/files/weights.bin"
	url := e.Files.AddBytes(e.WeightsPath, weights)
	git := testutil.NewGitServerOn(t, host)
	e.Repo = git.NewRepo(t, e.Model, "master")
	e.Repo.CopyDir(filepath.Join("..", "demo", "model"))
	initJSON, _ := json.MarshalIndent(map[string]any{"docker_id": demo, "external_contrib_files": []any{
		map[string]string{"src_url": url, "dest_file_path": "/contrib_src/model/weights.bin"},
	}}, "", "  ")
	files := map[string]string{"init/init.json": string(initJSON)}
	if behaviour != "" {
		files["contrib_src/demo_engine.json"] = behaviour
	}
	e.Repo.WriteFiles(files)
	e.Repo.Commit("demo model")
	index, _ := json.Marshal([]any{map[string]any{"id": "kube-1", "name": e.Model, "task_extended": "Bright or dark (kube conformance)",
		"github": e.Repo.URL, "github_branch": "master", "backend": []string{"demo"}}})
	idx := testutil.NewFileServerOn(t, host)
	e.Index = idx.AddBytes("/models.json", index)

	e.kubectl("create", "namespace", e.NS)
	t.Cleanup(func() {
		// Every image is imported: no pod may pull one (the machine is offline; a pull
		// would mean an image reference the suite did not import).
		out, _ := exec.Command("kubectl", "-n", e.NS, "get", "events", "--field-selector", "reason=Pulling",
			"-o", `jsonpath={range .items[*]}{.involvedObject.name}: {.message}{"\n"}{end}`).CombinedOutput()
		if s := strings.TrimSpace(string(out)); s != "" {
			t.Errorf("a pod pulled an image from a registry:\n%s", s)
		}
		if t.Failed() {
			e.dump()
		}
		ctx, cancel := context.WithTimeout(context.Background(), cmdTimeout)
		defer cancel()
		out, err := exec.CommandContext(ctx, "kubectl", "delete", "namespace", e.NS, "--wait=true", kubeTimeout()).CombinedOutput()
		if err != nil {
			t.Logf("delete namespace %s: %v: %s", e.NS, err, out)
		}
	})
	return e
}

// dump logs what the namespace holds, for a failed test.
func (e *Env) dump() {
	for _, args := range [][]string{
		{"get", "all,pvc,events", "-o", "wide"},
		{"describe", "pods"},
	} {
		out, _ := exec.Command("kubectl", append([]string{"-n", e.NS}, args...)...).CombinedOutput()
		e.t.Logf("kubectl %s:\n%s", strings.Join(args, " "), out)
	}
}

// environ is the modelhub commands' environment: the served index, the test's home.
func (e *Env) environ() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "MODELHUB_") {
			env = append(env, kv)
		}
	}
	return append(env, "MODELHUB_HOME="+e.Home, "MODELHUB_CACHE="+filepath.Join(e.Home, "cache"),
		"MODELHUB_INDEX="+e.Index, "NO_COLOR=1")
}

// run runs name with args and stdin, bounded by cmdTimeout; it returns stdout, stderr and
// the exit code (-1 when it did not run).
func (e *Env) run(stdin []byte, name string, args ...string) (stdout, stderr string, code int) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), cmdTimeout)
	defer cancel()
	if name == "modelhub" {
		name = binPath
	}
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = e.environ()
	cmd.Dir = e.t.TempDir()
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code = cmd.ProcessState.ExitCode()
	if err != nil && code < 0 {
		e.t.Fatalf("%s %s: %v", name, strings.Join(args, " "), err)
	}
	return out.String(), errb.String(), code
}

// must runs name and fails the test unless it exits 0; it returns stdout.
func (e *Env) must(stdin []byte, name string, args ...string) string {
	e.t.Helper()
	out, errs, code := e.run(stdin, name, args...)
	if code != 0 {
		e.t.Fatalf("%s %s: exit %d\n--- stdout\n%s--- stderr\n%s", filepath.Base(name), strings.Join(args, " "), code, out, errs)
	}
	return out
}

// kubectl runs kubectl in the test's namespace and returns its stdout.
func (e *Env) kubectl(args ...string) string {
	e.t.Helper()
	return e.must(nil, "kubectl", append([]string{"-n", e.NS}, args...)...)
}

// deploy runs `modelhub deploy MODEL --kube` with the built modelhub image and the
// test's namespace plus args, and returns the YAML.
func (e *Env) deploy(args ...string) []byte {
	e.t.Helper()
	base := []string{"deploy", e.Model, "--kube", "--modelhub-image", e.ModelhubImage, "--namespace", e.NS}
	return []byte(e.must(nil, "modelhub", append(base, args...)...))
}

// pods returns the pods of the objects named name.
func (e *Env) pods(name string) []Pod {
	e.t.Helper()
	var list struct{ Items []Pod }
	out := e.kubectl("get", "pods", "-l", "app.kubernetes.io/name="+name, "-o", "json")
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		e.t.Fatalf("pods: %v\n%s", err, out)
	}
	return list.Items
}

// Pod is what the tests read of a pod.
type Pod struct {
	Metadata struct {
		Name              string `json:"name"`
		UID               string `json:"uid"`
		DeletionTimestamp string `json:"deletionTimestamp"`
	} `json:"metadata"`
	Spec struct {
		TerminationGracePeriodSeconds int `json:"terminationGracePeriodSeconds"`
	} `json:"spec"`
	Status struct {
		Phase      string `json:"phase"`
		Conditions []struct {
			Type   string `json:"type"`
			Status string `json:"status"`
		} `json:"conditions"`
		InitContainerStatuses []ContainerStatus `json:"initContainerStatuses"`
		ContainerStatuses     []ContainerStatus `json:"containerStatuses"`
	} `json:"status"`
}

// ContainerStatus is a container's state in a Pod.
type ContainerStatus struct {
	Name         string `json:"name"`
	Ready        bool   `json:"ready"`
	RestartCount int    `json:"restartCount"`
	State        struct {
		Terminated *struct {
			ExitCode int    `json:"exitCode"`
			Reason   string `json:"reason"`
		} `json:"terminated"`
	} `json:"state"`
}

// Ready reports the pod's Ready condition.
func (p Pod) Ready() bool {
	for _, c := range p.Status.Conditions {
		if c.Type == "Ready" {
			return c.Status == "True"
		}
	}
	return false
}

// waitPod waits (bounded) until exactly one pod of name satisfies ok, and returns it.
func (e *Env) waitPod(name, what string, ok func(Pod) bool) Pod {
	e.t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for {
		for _, p := range e.pods(name) {
			if ok(p) {
				return p
			}
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("no pod of %s %s within %s", name, what, waitTimeout)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// events returns the namespace's events about object (kind/name) as "Reason: message" lines.
func (e *Env) events(kind, name string) []string {
	e.t.Helper()
	out := e.kubectl("get", "events", "--field-selector", "involvedObject.kind="+kind+",involvedObject.name="+name,
		"-o", `jsonpath={range .items[*]}{.reason}: {.message}{"\n"}{end}`)
	var lines []string
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if l != "" {
			lines = append(lines, l)
		}
	}
	return lines
}

var forwarding = regexp.MustCompile(`Forwarding from 127\.0\.0\.1:(\d+) -> `)

// portForward runs `kubectl port-forward TARGET :PORT` and returns the local base URL;
// it stops when the test ends.
func (e *Env) portForward(target string, port int) string {
	e.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, "kubectl", "-n", e.NS, "port-forward", "--address", "127.0.0.1", target, fmt.Sprintf(":%d", port))
	out, err := cmd.StdoutPipe()
	if err != nil {
		e.t.Fatal(err)
	}
	var errb bytes.Buffer
	cmd.Stderr = &errb
	if err := cmd.Start(); err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { cancel(); _ = cmd.Wait() })
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if m := forwarding.FindStringSubmatch(sc.Text()); m != nil {
				found <- m[1]
				break
			}
		}
		_, _ = io.Copy(io.Discard, out)
	}()
	select {
	case p := <-found:
		return "http://127.0.0.1:" + p
	case <-time.After(waitTimeout):
		e.t.Fatalf("kubectl port-forward %s did not start within %s: %s", target, waitTimeout, errb.String())
	}
	return ""
}

// get fetches url (bounded) and returns the body of a 200 answer.
func get(t *testing.T, url string) []byte {
	t.Helper()
	c := &http.Client{Timeout: waitTimeout}
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s: %s", url, resp.Status, body)
	}
	return body
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
