package kube

import (
	"fmt"
	"path"
	"strings"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
)

// Where a cohort Job's pods find things.
const (
	// DataVolume is the claim holding the cohort and receiving the results,
	// mounted at DataPath in the model and predict containers.
	DataVolume = "data"
	DataPath   = "/data"
	// PredictContainer runs `modelhub predict` against the model container
	// (a sidecar on localhost).
	PredictContainer = "predict"
	// DefaultInputDir is the cohort's folder in the claim.
	DefaultInputDir = "cohort"
	// DefaultBackoffPerIndex is how often a shard's pod is retried.
	DefaultBackoffPerIndex = 3
	// MaxShards bounds --shards.
	MaxShards = 1000
)

// JobOptions describe a cohort prediction as an Indexed Job.
type JobOptions struct {
	// Options are the model's (Replicas, PVC*, ServiceType are not used).
	Options
	// Shards is the number of pods, each predicting every Shards-th input.
	Shards int32
	// DataClaim is an existing PersistentVolumeClaim holding the cohort at
	// InputDir and receiving the results under ResultsDir (both relative,
	// slash-separated; ResultsDir "" is results/NAME).
	DataClaim            string
	InputDir, ResultsDir string
	// BackoffPerIndex is how often a failed shard's pod is replaced (0:
	// DefaultBackoffPerIndex).
	BackoffPerIndex int32
}

// ShardDir is where shard i of a Job writes, relative to the claim.
func ShardDir(resultsDir string, i int) string {
	return path.Join(resultsDir, fmt.Sprintf("shard-%d", i))
}

// GenerateJob builds an Indexed Job predicting a cohort: Shards pods, each
// with the init container pulling the model (as Generate's), the model's
// container as a sidecar (an init container that keeps running, with the
// startup probe: the predict container starts once the model answers, and the
// model is stopped through its preStop hook once predict is done) and the
// predict container running
//
//	modelhub predict MODEL /data/INPUT -o /data/RESULTS/shard-I --engine http://127.0.0.1:80 --shard I/N
//
// with I the pod's completion index. A rerun of a shard (the Job's retry of
// a failed pod, or the Job applied again) skips the inputs its results.jsonl
// already holds.
func GenerateJob(o JobOptions) (*Result, error) {
	if err := o.checkJob(); err != nil {
		return nil, err
	}
	res := &Result{Name: o.Name}
	if res.Name == "" {
		res.Name, res.Renamed = ObjectName(o.Model)
	}
	input, results := o.dirs(res.Name)
	backoff := o.BackoffPerIndex
	if backoff == 0 {
		backoff = DefaultBackoffPerIndex
	}
	labels := map[string]string{LabelName: res.Name, LabelManagedBy: ManagedBy}
	annotations := map[string]string{AnnotationModel: o.Model, AnnotationCommit: o.Commit}
	if o.Branch != "" {
		annotations[AnnotationBranch] = o.Branch
	}
	dataMount := corev1.VolumeMount{Name: DataVolume, MountPath: DataPath}

	model := o.modelContainer()
	// A sidecar: it starts before predict (once its startup probe answers),
	// and stops after it.
	model.RestartPolicy = ptr(corev1.ContainerRestartPolicyAlways)
	// Multi-input cases are given to the engine as paths in the cohort.
	model.VolumeMounts = append(model.VolumeMounts, corev1.VolumeMount{Name: DataVolume, MountPath: DataPath, ReadOnly: true})

	fetch := o.initContainer()
	env := []corev1.EnvVar{
		{Name: "MODELHUB_HOME", Value: HomePath},
		{Name: "MODELHUB_CACHE", Value: HomePath + "/.cache"},
	}
	if o.IndexURL != "" {
		env = append(env, corev1.EnvVar{Name: "MODELHUB_INDEX", Value: o.IndexURL})
	}
	predict := corev1.Container{
		Name:            PredictContainer,
		Image:           o.ModelhubImage,
		ImagePullPolicy: corev1.PullIfNotPresent,
		// $(JOB_COMPLETION_INDEX) is set in every container of an Indexed Job's pod.
		Args: []string{"predict", o.Model, DataPath + "/" + input,
			"-o", DataPath + "/" + results + "/shard-$(JOB_COMPLETION_INDEX)",
			"--engine", fmt.Sprintf("http://127.0.0.1:%d", Port),
			"--shard", fmt.Sprintf("$(JOB_COMPLETION_INDEX)/%d", o.Shards)},
		Env: env,
		VolumeMounts: []corev1.VolumeMount{
			{Name: VolumeName, MountPath: HomePath},
			dataMount,
			{Name: "tmp", MountPath: "/tmp"},
		},
		SecurityContext: fetch.SecurityContext,
	}

	job := &batchv1.Job{
		TypeMeta: metav1.TypeMeta{APIVersion: "batch/v1", Kind: "Job"},
		ObjectMeta: metav1.ObjectMeta{Name: res.Name, Namespace: o.Namespace,
			Labels: copyMap(labels), Annotations: copyMap(annotations)},
		Spec: batchv1.JobSpec{
			CompletionMode:       ptr(batchv1.IndexedCompletion),
			Completions:          ptr(o.Shards),
			Parallelism:          ptr(o.Shards),
			BackoffLimitPerIndex: ptr(backoff),
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: copyMap(labels), Annotations: copyMap(annotations)},
				Spec: corev1.PodSpec{
					RestartPolicy:                 corev1.RestartPolicyNever,
					AutomountServiceAccountToken:  ptr(false),
					SecurityContext:               &corev1.PodSecurityContext{FSGroup: ptr(int64(UID))},
					TerminationGracePeriodSeconds: ptr(int64(30)),
					InitContainers:                []corev1.Container{fetch, model},
					Containers:                    []corev1.Container{predict},
					Volumes: []corev1.Volume{
						{Name: VolumeName, VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
						{Name: DataVolume, VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: o.DataClaim}}},
						{Name: "tmp", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
					},
				},
			},
		},
	}
	if o.GPU {
		job.Spec.Template.Spec.Tolerations = []corev1.Toleration{{Key: string(GPUResource), Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule}}
	}
	res.Objects = append(res.Objects, job)
	return res, nil
}

func (o JobOptions) checkJob() error {
	if err := o.Options.check(); err != nil {
		return err
	}
	return o.CheckJobFlags()
}

// CheckJobFlags validates the Job's own options (shards, claim, folders),
// naming the flag to fix; it needs no model.
func (o JobOptions) CheckJobFlags() error {
	switch {
	case o.Shards < 1 || o.Shards > MaxShards:
		return invalid("--shards must be between 1 and %d, got %d", MaxShards, o.Shards)
	case o.DataClaim == "":
		return invalid("--job needs --data-pvc CLAIM: the claim holding the cohort and receiving the results")
	case o.BackoffPerIndex < 0:
		return invalid("the retries per shard must not be negative")
	}
	if errs := validation.IsDNS1123Subdomain(o.DataClaim); len(errs) > 0 {
		return invalid("--data-pvc %q is not a valid claim name: %s", o.DataClaim, strings.Join(errs, "; "))
	}
	for _, d := range []struct{ flag, v string }{{"--input-dir", o.InputDir}, {"--results-dir", o.ResultsDir}} {
		if d.v == "" {
			continue
		}
		clean := path.Clean("/" + d.v)
		if strings.HasPrefix(d.v, "/") || strings.Contains(d.v, "\\") || clean == "/" || clean != "/"+strings.TrimSuffix(d.v, "/") {
			return invalid("%s %q: want a relative folder inside the claim, without . or .. (e.g. cohort/2024)", d.flag, d.v)
		}
		if strings.ContainsAny(d.v, "$\n") {
			return invalid("%s %q: $ and newlines are not allowed", d.flag, d.v)
		}
	}
	name := o.Name
	if name == "" {
		name, _ = ObjectName(o.Model)
	}
	if name == "" {
		name = "NAME"
	}
	in, out := o.dirs(name)
	if in == out || strings.HasPrefix(out+"/", in+"/") || strings.HasPrefix(in+"/", out+"/") {
		return invalid("the input folder %s and the results folder %s overlap: results would be read as inputs (set --input-dir or --results-dir)", in, out)
	}
	return nil
}

// dirs are the cohort's and the results' folders in the claim.
func (o JobOptions) dirs(name string) (input, results string) {
	input, results = DefaultInputDir, path.Join("results", name)
	if o.InputDir != "" {
		input = strings.Trim(path.Clean("/"+o.InputDir), "/")
	}
	if o.ResultsDir != "" {
		results = strings.Trim(path.Clean("/"+o.ResultsDir), "/")
	}
	return input, results
}
