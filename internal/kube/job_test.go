package kube

import (
	"errors"
	"strings"
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
)

func jobBase() JobOptions {
	return JobOptions{Options: base(), Shards: 2, DataClaim: "cohort"}
}

// decodeJob marshals the objects of o and decodes them strictly back.
func decodeJob(t *testing.T, o JobOptions) *batchv1.Job {
	t.Helper()
	res, err := GenerateJob(o)
	if err != nil {
		t.Fatal(err)
	}
	data, err := Marshal("header", res.Objects)
	if err != nil {
		t.Fatal(err)
	}
	objs, err := Decode(data)
	if err != nil {
		t.Fatalf("%v\n%s", err, data)
	}
	if len(objs) != 1 {
		t.Fatalf("%d objects, want the Job only", len(objs))
	}
	return objs[0].(*batchv1.Job)
}

// The Job: Indexed, one pod per shard, each retried on its own; the model's
// container a sidecar (an init container that keeps running) with the model's
// probes and stop hook, after the init container that pulls the model; predict
// against it on localhost, on its shard of the cohort, into its own folder.
func TestGenerateJob(t *testing.T) {
	j := decodeJob(t, jobBase())
	s := j.Spec
	if *s.CompletionMode != batchv1.IndexedCompletion || *s.Completions != 2 || *s.Parallelism != 2 || *s.BackoffLimitPerIndex != DefaultBackoffPerIndex {
		t.Errorf("job spec %+v", s)
	}
	pod := s.Template.Spec
	if pod.RestartPolicy != corev1.RestartPolicyNever {
		t.Errorf("restartPolicy %s, want Never (backoffLimitPerIndex needs it)", pod.RestartPolicy)
	}
	if len(pod.InitContainers) != 2 || pod.InitContainers[0].Name != InitContainer || pod.InitContainers[1].Name != ModelContainer {
		t.Fatalf("init containers %+v", pod.InitContainers)
	}
	fetch, model := pod.InitContainers[0], pod.InitContainers[1]
	if fetch.RestartPolicy != nil {
		t.Errorf("the fetch container is a sidecar")
	}
	if model.RestartPolicy == nil || *model.RestartPolicy != corev1.ContainerRestartPolicyAlways {
		t.Errorf("the model container is not a sidecar (restartPolicy Always)")
	}
	if model.StartupProbe == nil || model.Lifecycle == nil || model.Lifecycle.PreStop == nil || model.Image != base().Image {
		t.Errorf("model container %+v lacks the startup probe or the stop hook", model)
	}
	if len(pod.Containers) != 1 || pod.Containers[0].Name != PredictContainer {
		t.Fatalf("containers %+v", pod.Containers)
	}
	p := pod.Containers[0]
	want := "predict squeezenet /data/cohort -o /data/results/squeezenet/shard-$(JOB_COMPLETION_INDEX) --engine http://127.0.0.1:80 --shard $(JOB_COMPLETION_INDEX)/2"
	if got := strings.Join(p.Args, " "); got != want {
		t.Errorf("predict args\n%s\nwant\n%s", got, want)
	}
	if p.Image != base().ModelhubImage || p.SecurityContext == nil || !*p.SecurityContext.RunAsNonRoot || !*p.SecurityContext.ReadOnlyRootFilesystem {
		t.Errorf("predict container %+v", p)
	}
	env := map[string]string{}
	for _, e := range p.Env {
		env[e.Name] = e.Value
	}
	if env["MODELHUB_HOME"] != HomePath || env["MODELHUB_INDEX"] != base().IndexURL {
		t.Errorf("predict env %v", env)
	}
	claim := ""
	for _, v := range pod.Volumes {
		if v.Name == DataVolume && v.PersistentVolumeClaim != nil {
			claim = v.PersistentVolumeClaim.ClaimName
		}
	}
	if claim != "cohort" {
		t.Errorf("data volume claim %q, want cohort", claim)
	}
	if j.Annotations[AnnotationCommit] != commit || j.Labels[LabelName] != "squeezenet" {
		t.Errorf("job metadata %+v", j.ObjectMeta)
	}

	o := jobBase()
	o.InputDir, o.ResultsDir, o.Shards, o.BackoffPerIndex, o.GPU = "ct/2024/", "runs/a", 5, 1, true
	j = decodeJob(t, o)
	if got := strings.Join(j.Spec.Template.Spec.Containers[0].Args, " "); !strings.Contains(got, "/data/ct/2024 -o /data/runs/a/shard-$(JOB_COMPLETION_INDEX)") || !strings.HasSuffix(got, "/5") {
		t.Errorf("args %s", got)
	}
	if *j.Spec.BackoffLimitPerIndex != 1 || len(j.Spec.Template.Spec.Tolerations) != 1 {
		t.Errorf("backoff or GPU toleration missing: %+v", j.Spec)
	}
	if ShardDir("runs/a", 3) != "runs/a/shard-3" {
		t.Errorf("ShardDir = %s", ShardDir("runs/a", 3))
	}
}

func TestGenerateJob_invalid(t *testing.T) {
	for _, tc := range []struct {
		edit func(*JobOptions)
		want string
	}{
		{func(o *JobOptions) { o.Shards = 0 }, "--shards must be between 1"},
		{func(o *JobOptions) { o.DataClaim = "" }, "needs --data-pvc"},
		{func(o *JobOptions) { o.DataClaim = "Cohort" }, "not a valid claim name"},
		{func(o *JobOptions) { o.InputDir = "/abs" }, "--input-dir \"/abs\": want a relative folder"},
		{func(o *JobOptions) { o.InputDir = "a/../../b" }, "want a relative folder"},
		{func(o *JobOptions) { o.ResultsDir = "." }, "want a relative folder"},
		{func(o *JobOptions) { o.ResultsDir = "x$(HOME)" }, "$ and newlines"},
		{func(o *JobOptions) { o.InputDir, o.ResultsDir = "data", "data/out" }, "overlap"},
		{func(o *JobOptions) { o.InputDir = "results" }, "overlap"},
		{func(o *JobOptions) { o.Commit = "abc" }, "not a full commit hash"},
	} {
		o := jobBase()
		tc.edit(&o)
		_, err := GenerateJob(o)
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: error %v, want %q", o, err, tc.want)
		}
	}
}
