package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
	appsv1 "k8s.io/api/apps/v1"

	"github.com/modelhub-ai/modelhub/internal/kube"
	"github.com/modelhub-ai/modelhub/internal/kube/kubetest"
	"github.com/modelhub-ai/modelhub/internal/testutil"
)

func init() {
	scriptCmds["modelhub-image"] = cmdModelhubImage
	scriptCmds["run-pod"] = cmdRunPod
	scriptCmds["decode-kube"] = cmdDecodeKube
}

// modelhub-image: build the modelhub image from the source under test (once
// per test process) and set $MODELHUB_IMAGE to it.
func cmdModelhubImage(ts *testscript.TestScript, neg bool, args []string) {
	c := mustDocker(ts)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	ref, err := testutil.ModelhubImage(ctx, c)
	ts.Check(err)
	ts.Setenv("MODELHUB_IMAGE", ref)
}

var podRunners sync.Map // *testscript.TestScript -> *kubetest.Runner

// run-pod FILE: run the pod of the Deployment in FILE (written by deploy
// --kube) on the local engine as the kubelet would (see internal/kube/kubetest),
// print each init container's exit and output, check the startup, readiness
// and liveness probes of the model container, print the readiness answer,
// then stop the pod (its grace period, as on deletion) and remove it. A
// claim's volume stays for the next run-pod of the script.
func cmdRunPod(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: run-pod FILE")
	}
	objs, err := kube.Decode([]byte(ts.ReadFile(args[0])))
	ts.Check(err)
	var dep *appsv1.Deployment
	for _, o := range objs {
		if d, ok := o.(*appsv1.Deployment); ok {
			dep = d
		}
	}
	if dep == nil {
		ts.Fatalf("run-pod: no Deployment in %s", args[0])
	}
	c := mustDocker(ts)
	v, loaded := podRunners.LoadOrStore(ts, &kubetest.Runner{Docker: c, Prefix: testutil.UniqueName("modelhub-test-pod")})
	r := v.(*kubetest.Runner)
	if !loaded {
		ts.Defer(func() { r.RemoveClaims(); podRunners.Delete(ts) })
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	spec := dep.Spec.Template.Spec
	pod, err := r.Start(ctx, spec)
	ts.Check(err)
	defer pod.Remove()
	out := ts.Stdout()
	for _, ic := range spec.InitContainers {
		fmt.Fprintf(out, "init %s: exit 0\n", ic.Name)
		for _, line := range strings.Split(strings.TrimRight(pod.InitLogs[ic.Name], "\n"), "\n") {
			fmt.Fprintf(out, "%s| %s\n", ic.Name, line)
		}
	}
	mc := spec.Containers[0]
	_, err = pod.Probe(ctx, mc.Name, mc.StartupProbe, 2*time.Minute)
	ts.Check(err)
	fmt.Fprintf(out, "startup GET %s: ok\n", mc.StartupProbe.HTTPGet.Path)
	body, err := pod.Probe(ctx, mc.Name, mc.ReadinessProbe, 30*time.Second)
	ts.Check(err)
	var compact bytes.Buffer
	if json.Compact(&compact, body) != nil {
		compact.Reset()
		compact.Write(bytes.TrimSpace(body))
	}
	fmt.Fprintf(out, "readiness GET %s: %s\n", mc.ReadinessProbe.HTTPGet.Path, compact.String())
	_, err = pod.Probe(ctx, mc.Name, mc.LivenessProbe, 30*time.Second)
	ts.Check(err)
	fmt.Fprintf(out, "liveness tcp %s: ok\n", mc.LivenessProbe.TCPSocket.Port.String())
	_, err = pod.Stop(ctx)
	ts.Check(err)
}

// decode-kube FILE: decode FILE strictly into the k8s.io/api types and print
// each object's kind and name.
func cmdDecodeKube(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 1 {
		ts.Fatalf("usage: decode-kube FILE")
	}
	objs, err := kube.Decode([]byte(ts.ReadFile(args[0])))
	if neg {
		if err == nil {
			ts.Fatalf("%s decoded", args[0])
		}
		return
	}
	ts.Check(err)
	for _, o := range objs {
		n := o.(interface{ GetName() string })
		fmt.Fprintf(ts.Stdout(), "%s %s\n", o.GetObjectKind().GroupVersionKind().Kind, n.GetName())
		// a Deployment's init container: its args and env, one line each
		if d, ok := o.(*appsv1.Deployment); ok {
			for _, ic := range d.Spec.Template.Spec.InitContainers {
				var env []string
				for _, e := range ic.Env {
					env = append(env, e.Name+"="+e.Value)
				}
				fmt.Fprintf(ts.Stdout(), "init args: %s\ninit env: %s\n", strings.Join(ic.Args, " "), strings.Join(env, " "))
			}
		}
	}
}
