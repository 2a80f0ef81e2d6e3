// Package kube turns a model into Kubernetes objects (a Deployment, a
// Service and, on request, a PersistentVolumeClaim) built with the
// k8s.io/api types, and marshals them to YAML. It never prints and never
// talks to a cluster.
package kube

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/yaml"

	"github.com/modelhub-ai/modelhub/internal/engine"
)

// Labels and annotations put on every object.
const (
	LabelName      = "app.kubernetes.io/name"
	LabelManagedBy = "app.kubernetes.io/managed-by"
	ManagedBy      = "modelhub"

	AnnotationModel  = "modelhub.ai/model"
	AnnotationCommit = "modelhub.ai/commit"
	AnnotationBranch = "modelhub.ai/branch"
)

// Where things are inside the pod.
const (
	// VolumeName is the pod volume holding the modelhub home (the models).
	VolumeName = "models"
	// HomePath is where the init container mounts it.
	HomePath = "/models"
	// ContribSrc is where the model container finds the model's files.
	ContribSrc = "/contrib_src"
	// Port is the engine's REST API port; ReadyPath answers when the model is loaded.
	Port      = 80
	ReadyPath = engine.ReadyRoute
	// InitContainer and ModelContainer are the containers' names.
	InitContainer  = "fetch"
	ModelContainer = "model"
	// UID is the non-root user (and group) of the modelhub image.
	UID = 65532
	// GPUResource is the extended resource of NVIDIA's device plugin.
	GPUResource = corev1.ResourceName("nvidia.com/gpu")
)

// ImageRepository is where releases publish the modelhub image.
const ImageRepository = "ghcr.io/modelhub-ai/modelhub"

// DefaultModelhubImage is the release image of modelhub version (a tag may
// not hold '+', which Go's build versions can).
func DefaultModelhubImage(version string) string {
	return ImageRepository + ":" + strings.ReplaceAll(version, "+", "-")
}

// DefaultStartupTimeout is how long a model may take to load before the
// kubelet restarts it.
const DefaultStartupTimeout = 10 * time.Minute

// stopCommand makes the engine (python3 run.py as PID 1, which ignores
// SIGTERM) stop at once: every model image runs python3, and SIGINT ends it.
var stopCommand = []string{"python3", "-c", "import os, signal; os.kill(1, signal.SIGINT)"}

// ErrInvalid is matched (errors.Is) by an *InvalidError.
var ErrInvalid = errors.New("invalid deployment option")

// InvalidError is a bad option; its message names the flag to fix.
type InvalidError struct{ Msg string }

func (e *InvalidError) Error() string { return e.Msg }

// Is makes errors.Is(err, ErrInvalid) true.
func (e *InvalidError) Is(target error) bool { return target == ErrInvalid }

func invalid(format string, args ...any) error {
	return &InvalidError{Msg: fmt.Sprintf(format, args...)}
}

// Options describe one deployment of a model.
type Options struct {
	// Model is the model's name in the index (the folder name under HomePath/models).
	Model string
	// Name of the objects; "" derives it from Model with ObjectName.
	Name string
	// Namespace of the objects; "" leaves it to kubectl.
	Namespace string
	// Image is the model's image (init.json's docker_id).
	Image string
	// ModelhubImage runs `modelhub pull` in the init container.
	ModelhubImage string
	// Commit is the full commit the init container installs; Branch is
	// recorded beside it.
	Commit, Branch string
	// IndexURL is passed to the init container; "" uses modelhub's default.
	IndexURL string
	// Replicas of the Deployment (0 means 1).
	Replicas int32
	// GPU asks for one nvidia.com/gpu per replica.
	GPU bool
	// PVCSize, when set, keeps the models in a PersistentVolumeClaim of that
	// size instead of an emptyDir; StorageClass and AccessMode tune it
	// (AccessMode "" is ReadWriteOnce for one replica, ReadWriteMany for more).
	PVCSize      string
	StorageClass string
	AccessMode   string
	// ServiceType is ClusterIP (""), NodePort or LoadBalancer.
	ServiceType string
	// Resources of the model container (Kubernetes quantities; "" = unset).
	CPURequest, CPULimit, MemoryRequest, MemoryLimit string
	// StartupTimeout is how long the model may take to answer first (0: DefaultStartupTimeout).
	StartupTimeout time.Duration
}

// Result is what Generate made.
type Result struct {
	// Name of the objects and Renamed: whether it differs from the model's
	// name in more than case.
	Name    string
	Renamed bool
	// Objects in apply order: the claim (if any), the Deployment, the Service.
	Objects []runtime.Object
}

// Generate builds the objects of o.
func Generate(o Options) (*Result, error) {
	if err := o.check(); err != nil {
		return nil, err
	}
	res := &Result{Name: o.Name}
	if res.Name == "" {
		res.Name, res.Renamed = ObjectName(o.Model)
	}
	replicas := o.Replicas
	if replicas == 0 {
		replicas = 1
	}
	labels := map[string]string{LabelName: res.Name, LabelManagedBy: ManagedBy}
	annotations := map[string]string{AnnotationModel: o.Model, AnnotationCommit: o.Commit}
	if o.Branch != "" {
		annotations[AnnotationBranch] = o.Branch
	}
	meta := func(name string) metav1.ObjectMeta {
		return metav1.ObjectMeta{Name: name, Namespace: o.Namespace, Labels: copyMap(labels), Annotations: copyMap(annotations)}
	}

	volume, claim, strategy := o.storage(meta(res.Name+"-models"), replicas)

	pod := corev1.PodSpec{
		// The model needs no access to the Kubernetes API.
		AutomountServiceAccountToken: ptr(false),
		// The init container runs as UID; fsGroup makes a claim writable for it.
		SecurityContext:               &corev1.PodSecurityContext{FSGroup: ptr(int64(UID))},
		TerminationGracePeriodSeconds: ptr(int64(30)),
		InitContainers:                []corev1.Container{o.initContainer()},
		Containers:                    []corev1.Container{o.modelContainer()},
		Volumes:                       []corev1.Volume{volume},
	}
	if o.GPU {
		// GPU nodes are commonly tainted so that only GPU pods land there.
		pod.Tolerations = []corev1.Toleration{{Key: string(GPUResource), Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule}}
	}
	dep := &appsv1.Deployment{
		TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
		ObjectMeta: meta(res.Name),
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr(replicas),
			Selector: &metav1.LabelSelector{MatchLabels: copyMap(labels)},
			Strategy: strategy,
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: copyMap(labels), Annotations: copyMap(annotations)},
				Spec:       pod,
			},
		},
	}
	svcType := corev1.ServiceType(o.ServiceType)
	if svcType == "" {
		svcType = corev1.ServiceTypeClusterIP
	}
	svc := &corev1.Service{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Service"},
		ObjectMeta: meta(res.Name),
		Spec: corev1.ServiceSpec{
			Type:     svcType,
			Selector: copyMap(labels),
			Ports:    []corev1.ServicePort{{Name: "http", Port: Port, TargetPort: intstr.FromString("http"), Protocol: corev1.ProtocolTCP}},
		},
	}
	if claim != nil {
		res.Objects = append(res.Objects, claim)
	}
	res.Objects = append(res.Objects, dep, svc)
	return res, nil
}

// storage is where the model's files live and how pods are replaced: an
// emptyDir and rolling updates (with the API server's defaults), or with
// PVCSize a claim (claimMeta its metadata; ReadWriteMany for several
// replicas unless AccessMode says otherwise) and, for a claim only one node
// can mount, Recreate.
func (o Options) storage(claimMeta metav1.ObjectMeta, replicas int32) (corev1.Volume, *corev1.PersistentVolumeClaim, appsv1.DeploymentStrategy) {
	volume := corev1.Volume{Name: VolumeName, VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}
	var claim *corev1.PersistentVolumeClaim
	// The API server's defaults, spelled out: with the type alone, every `kubectl apply`
	// sends a patch clearing rollingUpdate (which the server then defaults again) and
	// reports the Deployment "configured" although nothing changed.
	surge, unavailable := intstr.FromString("25%"), intstr.FromString("25%")
	strategy := appsv1.DeploymentStrategy{
		Type:          appsv1.RollingUpdateDeploymentStrategyType,
		RollingUpdate: &appsv1.RollingUpdateDeployment{MaxSurge: &surge, MaxUnavailable: &unavailable},
	}
	if o.PVCSize != "" {
		mode := corev1.PersistentVolumeAccessMode(o.AccessMode)
		if mode == "" {
			mode = corev1.ReadWriteOnce
			if replicas > 1 {
				mode = corev1.ReadWriteMany
			}
		}
		claim = &corev1.PersistentVolumeClaim{
			TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "PersistentVolumeClaim"},
			ObjectMeta: claimMeta,
			Spec: corev1.PersistentVolumeClaimSpec{
				AccessModes: []corev1.PersistentVolumeAccessMode{mode},
				Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse(o.PVCSize)}},
			},
		}
		if o.StorageClass != "" {
			sc := o.StorageClass
			claim.Spec.StorageClassName = &sc
		}
		volume.VolumeSource = corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: claim.Name}}
		if mode == corev1.ReadWriteOnce || mode == corev1.ReadWriteOncePod {
			// A new pod cannot mount the claim while the old one holds it
			// on another node: replace pods instead of overlapping them.
			strategy = appsv1.DeploymentStrategy{Type: appsv1.RecreateDeploymentStrategyType}
		}
	}
	return volume, claim, strategy
}

func (o Options) initContainer() corev1.Container {
	args := []string{"pull", o.Model, "--commit", o.Commit, "--home", HomePath}
	// The cache goes beside the models: the root filesystem is read-only.
	env := []corev1.EnvVar{{Name: "MODELHUB_CACHE", Value: HomePath + "/.cache"}}
	if o.IndexURL != "" {
		// both: the flag for the pull, the env for anything else run in it
		args = append(args, "--index", o.IndexURL)
		env = append(env, corev1.EnvVar{Name: "MODELHUB_INDEX", Value: o.IndexURL})
	}
	return corev1.Container{
		Name:            InitContainer,
		Image:           o.ModelhubImage,
		ImagePullPolicy: corev1.PullIfNotPresent,
		Args:            args,
		Env:             env,
		VolumeMounts:    []corev1.VolumeMount{{Name: VolumeName, MountPath: HomePath}},
		SecurityContext: &corev1.SecurityContext{
			RunAsNonRoot:             ptr(true),
			RunAsUser:                ptr(int64(UID)),
			RunAsGroup:               ptr(int64(UID)),
			AllowPrivilegeEscalation: ptr(false),
			ReadOnlyRootFilesystem:   ptr(true),
			Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
			SeccompProfile:           &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
		},
	}
}

func (o Options) modelContainer() corev1.Container {
	get := corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: ReadyPath, Port: intstr.FromInt32(Port)}}
	startup := o.StartupTimeout
	if startup <= 0 {
		startup = DefaultStartupTimeout
	}
	const period = 10
	failures := int32((startup + period*time.Second - 1) / (period * time.Second))
	res := corev1.ResourceRequirements{}
	set := func(list *corev1.ResourceList, name corev1.ResourceName, v string) {
		if v == "" {
			return
		}
		if *list == nil {
			*list = corev1.ResourceList{}
		}
		(*list)[name] = resource.MustParse(v)
	}
	set(&res.Requests, corev1.ResourceCPU, o.CPURequest)
	set(&res.Requests, corev1.ResourceMemory, o.MemoryRequest)
	set(&res.Limits, corev1.ResourceCPU, o.CPULimit)
	set(&res.Limits, corev1.ResourceMemory, o.MemoryLimit)
	if o.GPU {
		set(&res.Limits, GPUResource, "1")
	}
	return corev1.Container{
		Name:            ModelContainer,
		Image:           o.Image,
		ImagePullPolicy: corev1.PullIfNotPresent,
		Ports:           []corev1.ContainerPort{{Name: "http", ContainerPort: Port, Protocol: corev1.ProtocolTCP}},
		// Unbuffered output reaches `kubectl logs`; no bytecode is written
		// into the model's folder.
		Env: []corev1.EnvVar{{Name: "PYTHONUNBUFFERED", Value: "1"}, {Name: "PYTHONDONTWRITEBYTECODE", Value: "1"}},
		VolumeMounts: []corev1.VolumeMount{{
			Name: VolumeName, MountPath: ContribSrc, SubPath: "models/" + o.Model + "/contrib_src",
		}},
		Resources: res,
		// Liveness and readiness start once the model answered once, however long it loads.
		StartupProbe:   &corev1.Probe{ProbeHandler: get, PeriodSeconds: period, TimeoutSeconds: 5, FailureThreshold: failures},
		ReadinessProbe: &corev1.Probe{ProbeHandler: get, PeriodSeconds: 10, TimeoutSeconds: 5, FailureThreshold: 3},
		// A busy model may answer HTTP slowly during a long prediction: the
		// liveness probe only checks that it still accepts connections.
		LivenessProbe: &corev1.Probe{
			ProbeHandler:  corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromInt32(Port)}},
			PeriodSeconds: 20, TimeoutSeconds: 5, FailureThreshold: 3,
		},
		Lifecycle: &corev1.Lifecycle{PreStop: &corev1.LifecycleHandler{Exec: &corev1.ExecAction{Command: stopCommand}}},
	}
}

// check validates all the options.
func (o Options) check() error {
	switch {
	case o.Model == "":
		return invalid("no model")
	case o.Image == "":
		return invalid("model %s has no docker_id in its init/init.json", o.Model)
	case !isCommit(o.Commit):
		return invalid("commit %q is not a full commit hash", o.Commit)
	case strings.ContainsAny(o.Model, "/\\") || o.Model == "." || o.Model == "..":
		return invalid("model name %q cannot be a folder name", o.Model)
	}
	return o.CheckFlags()
}

// CheckFlags validates the options a user sets (names, sizes, types),
// naming the flag to fix; it needs no model.
func (o Options) CheckFlags() error {
	switch {
	case o.ModelhubImage == "" && o.Model != "":
		return invalid("no modelhub image: pass --modelhub-image")
	case o.Replicas < 0:
		return invalid("--replicas must be at least 1, got %d", o.Replicas)
	case o.StartupTimeout < 0 || o.StartupTimeout > 24*time.Hour:
		return invalid("--startup-timeout must be between 10s and 24h, got %s", o.StartupTimeout)
	}
	if o.Name != "" {
		if errs := validation.IsDNS1035Label(o.Name); len(errs) > 0 {
			return invalid("--name %q is not a valid Kubernetes name: %s", o.Name, strings.Join(errs, "; "))
		}
	}
	if o.Namespace != "" {
		if errs := validation.IsDNS1123Label(o.Namespace); len(errs) > 0 {
			return invalid("--namespace %q is not a valid namespace: %s", o.Namespace, strings.Join(errs, "; "))
		}
	}
	switch corev1.ServiceType(o.ServiceType) {
	case "", corev1.ServiceTypeClusterIP, corev1.ServiceTypeNodePort, corev1.ServiceTypeLoadBalancer:
	default:
		return invalid("--service-type %q: want ClusterIP, NodePort or LoadBalancer", o.ServiceType)
	}
	switch corev1.PersistentVolumeAccessMode(o.AccessMode) {
	case "", corev1.ReadWriteOnce, corev1.ReadWriteMany, corev1.ReadWriteOncePod:
	default:
		return invalid("--pvc-access-mode %q: want ReadWriteOnce, ReadWriteMany or ReadWriteOncePod", o.AccessMode)
	}
	if o.PVCSize == "" && (o.StorageClass != "" || o.AccessMode != "") {
		return invalid("--storage-class and --pvc-access-mode need --pvc SIZE")
	}
	if o.StorageClass != "" {
		if errs := validation.IsDNS1123Subdomain(o.StorageClass); len(errs) > 0 {
			return invalid("--storage-class %q is not a valid name: %s", o.StorageClass, strings.Join(errs, "; "))
		}
	}
	for _, q := range []struct{ flag, v string }{
		{"--pvc", o.PVCSize}, {"--cpu-request", o.CPURequest}, {"--cpu-limit", o.CPULimit},
		{"--memory-request", o.MemoryRequest}, {"--memory-limit", o.MemoryLimit},
	} {
		if q.v == "" {
			continue
		}
		v, err := resource.ParseQuantity(q.v)
		if err != nil || v.Sign() <= 0 {
			return invalid("%s %q is not a positive Kubernetes quantity (e.g. 500m or 2 for CPUs, 512Mi or 4Gi for memory and storage)", q.flag, q.v)
		}
	}
	for _, p := range []struct{ req, lim, what string }{{o.CPURequest, o.CPULimit, "cpu"}, {o.MemoryRequest, o.MemoryLimit, "memory"}} {
		if p.req == "" || p.lim == "" {
			continue
		}
		if req, lim := resource.MustParse(p.req), resource.MustParse(p.lim); req.Cmp(lim) > 0 {
			return invalid("--%s-request %s is above --%s-limit %s", p.what, p.req, p.what, p.lim)
		}
	}
	return nil
}

// Marshal writes the objects as YAML documents separated by "---", after a
// comment header (each line of header prefixed with "# ").
func Marshal(header string, objs []runtime.Object) ([]byte, error) {
	var buf bytes.Buffer
	for _, line := range strings.Split(strings.TrimRight(header, "\n"), "\n") {
		if header != "" {
			buf.WriteString(strings.TrimRight("# "+line, " ") + "\n")
		}
	}
	for i, obj := range objs {
		if i > 0 {
			buf.WriteString("---\n")
		}
		b, err := yaml.Marshal(obj)
		if err != nil {
			return nil, err
		}
		buf.Write(b)
	}
	return buf.Bytes(), nil
}

func isCommit(s string) bool {
	if len(s) != 40 {
		return false
	}
	for _, r := range s {
		if !strings.ContainsRune("0123456789abcdef", r) {
			return false
		}
	}
	return true
}

func ptr[T any](v T) *T { return &v }

func copyMap(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
