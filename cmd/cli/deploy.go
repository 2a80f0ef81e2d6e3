package cli

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/modelhub-ai/modelhub/internal/config"
	"github.com/modelhub-ai/modelhub/internal/kube"
	"github.com/modelhub-ai/modelhub/internal/launch"
	"github.com/modelhub-ai/modelhub/internal/registry"
	"github.com/modelhub-ai/modelhub/internal/store"
)

// DeployOptions are the inputs of `modelhub deploy`.
type DeployOptions struct {
	IO    *IOStreams
	Store func() (*store.Store, error)
	// IndexLocation is the index the pod downloads (--index, $MODELHUB_INDEX).
	IndexLocation func() string

	Model string
	// ClusterIndex is --cluster-index: the index URL the pod pulls from
	// (default: the index the model came from).
	ClusterIndex string
	Kube         bool
	Output       string
	GPU          bool
	CPU          bool
	// K holds the flags that go into the objects as they are.
	K kube.Options
	// Job writes an Indexed Job predicting a cohort instead (--job); J holds
	// its own flags (J.Options is filled from K).
	Job bool
	J   kube.JobOptions
}

// NewCmdDeploy builds `modelhub deploy`.
func NewCmdDeploy(f *Factory, runF func(context.Context, *DeployOptions) error) *cobra.Command {
	opts := &DeployOptions{IO: f.IO, Store: f.Store, IndexLocation: f.IndexLocation}
	var replicas, shards int
	cmd := &cobra.Command{
		Use:   "deploy MODEL --kube",
		Short: "Write the Kubernetes objects that serve a model in a cluster",
		Long: `Write, as YAML, the Kubernetes objects that serve MODEL in a cluster: a Deployment
running the model's image unchanged, a Service (ClusterIP unless --service-type), and
with --pvc a PersistentVolumeClaim for the model's files. An init container runs the
modelhub image and pulls the model inside the cluster, pinned to the commit installed
here (or, when the model is not installed, the tip of its index branch now), from the
index the model came from (--index, and its env MODELHUB_INDEX, in the init container).
Nothing is sent to a cluster: apply the output with kubectl.

The pod must reach that index: a model that came from a local models.json is refused
and one from an index on this machine's loopback (127.0.0.1, localhost) is warned
about; serve the index where the cluster reaches it and pass --cluster-index URL.
--index may name a local models.json to find the model while rendering.

With --job, write instead an Indexed Job that predicts a cohort: --shards pods, each
running the model beside modelhub predict (against the model on localhost) on every
N-th input of the folder --input-dir of the claim --data-pvc, writing results.jsonl,
output files and provenance.json to --results-dir/shard-I of the same claim. A rerun
skips the inputs done, and a failed pod's shard is retried by the Job.`,
		Example: `  modelhub deploy squeezenet --kube > squeezenet.yaml && kubectl apply -f squeezenet.yaml
  modelhub deploy deepscan-brats --kube --replicas 2 --namespace radiology --pvc 20Gi
  modelhub deploy squeezenet --kube --service-type LoadBalancer -o squeezenet.yaml
  modelhub deploy squeezenet --kube --job --shards 4 --data-pvc cohort --input-dir photos`,
		GroupID:           "use",
		Args:              exactArgs(1, "one MODEL"),
		ValidArgsFunction: completeModels(f),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Model = args[0]
			if err := opts.complete(cmd, replicas, shards); err != nil {
				return err
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return deployRun(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.BoolVar(&opts.Kube, "kube", false, "write Kubernetes objects (required: the only target so far)")
	fl.StringVarP(&opts.Output, "output", "o", "", "write the YAML to `FILE` (atomically) instead of stdout")
	fl.StringVar(&opts.ClusterIndex, "cluster-index", "", "`URL` of the index the pod pulls the model from (default: the index the model came from)")
	fl.IntVar(&replicas, "replicas", 1, "how many pods serve the model")
	fl.StringVarP(&opts.K.Namespace, "namespace", "n", "", "namespace of the objects (default: kubectl's current one)")
	fl.StringVar(&opts.K.Name, "name", "", "name of the objects (default: the model's name made a valid Kubernetes name)")
	fl.StringVar(&opts.K.PVCSize, "pvc", "", "keep the model's files in a PersistentVolumeClaim of SIZE (e.g. 20Gi) so restarts and replicas do not download them again")
	fl.StringVar(&opts.K.StorageClass, "storage-class", "", "storage class of the --pvc claim (default: the cluster's default)")
	fl.StringVar(&opts.K.AccessMode, "pvc-access-mode", "", "access mode of the --pvc claim (default ReadWriteOnce for one replica, ReadWriteMany for more)")
	fl.StringVar(&opts.K.ServiceType, "service-type", "ClusterIP", "type of the Service: ClusterIP (inside the cluster only), NodePort or LoadBalancer")
	fl.BoolVar(&opts.GPU, "gpu", false, "ask for one NVIDIA GPU per pod even if the index does not mark the model as a GPU model")
	fl.BoolVar(&opts.CPU, "cpu", false, "ask for no GPU even for a GPU model")
	fl.StringVar(&opts.K.CPURequest, "cpu-request", "", "CPU the model container requests (e.g. 500m, 2)")
	fl.StringVar(&opts.K.CPULimit, "cpu-limit", "", "CPU limit of the model container")
	fl.StringVar(&opts.K.MemoryRequest, "memory-request", "", "memory the model container requests (e.g. 2Gi)")
	fl.StringVar(&opts.K.MemoryLimit, "memory-limit", "", "memory limit of the model container")
	fl.DurationVar(&opts.K.StartupTimeout, "startup-timeout", kube.DefaultStartupTimeout, "how long the model may take to load before Kubernetes restarts it")
	fl.BoolVar(&opts.Job, "job", false, "write an Indexed Job predicting a cohort on the claim --data-pvc instead of a Deployment and Service")
	fl.IntVar(&shards, "shards", 1, "with --job: pods sharing the cohort, each predicting every N-th input")
	fl.StringVar(&opts.J.DataClaim, "data-pvc", "", "with --job: the existing PersistentVolumeClaim holding the cohort and receiving the results")
	fl.StringVar(&opts.J.InputDir, "input-dir", kube.DefaultInputDir, "with --job: the cohort's folder in the claim")
	fl.StringVar(&opts.J.ResultsDir, "results-dir", "", "with --job: the results' folder in the claim (default results/NAME; shard I writes into shard-I)")
	fl.StringVar(&opts.K.ModelhubImage, "modelhub-image", "", "image of modelhub for the init container (default "+kube.ImageRepository+":VERSION)")
	return cmd
}

// complete checks deploy's flags against each other and fills in the
// replicas and shards counts; errors are usage errors, in the order the
// checks come.
func (opts *DeployOptions) complete(cmd *cobra.Command, replicas, shards int) error {
	if !opts.Kube {
		return usageErrorf("deploy needs a target: pass --kube (Kubernetes is the only one so far)")
	}
	if opts.GPU && opts.CPU {
		return usageErrorf("--gpu and --cpu contradict each other; pass one")
	}
	if replicas < 1 || replicas > 1000 {
		return usageErrorf("--replicas must be between 1 and 1000, got %d", replicas)
	}
	opts.K.Replicas = int32(replicas)
	if opts.K.StartupTimeout < 10*time.Second {
		return usageErrorf("--startup-timeout must be between 10s and 24h, got %s", opts.K.StartupTimeout)
	}
	if opts.Output == "-" {
		opts.Output = ""
	}
	if opts.ClusterIndex != "" && !registry.IsRemote(opts.ClusterIndex) {
		return usageErrorf("--cluster-index %s: want the http(s) URL of an index the cluster can reach", opts.ClusterIndex)
	}
	if opts.Job {
		for _, f := range []string{"replicas", "pvc", "storage-class", "pvc-access-mode", "service-type"} {
			if cmd.Flags().Changed(f) {
				return usageErrorf("--%s applies to the Deployment; --job writes a Job (its model files live in the pod, the results on --data-pvc)", f)
			}
		}
		if opts.J.DataClaim == "" {
			return usageErrorf("--job needs --data-pvc CLAIM: the claim holding the cohort (in --input-dir) and receiving the results")
		}
	} else {
		for _, f := range []string{"shards", "data-pvc", "input-dir", "results-dir"} {
			if cmd.Flags().Changed(f) {
				return usageErrorf("--%s needs --job", f)
			}
		}
	}
	if shards < 1 || shards > kube.MaxShards {
		return usageErrorf("--shards must be between 1 and %d, got %d", kube.MaxShards, shards)
	}
	opts.J.Shards = int32(shards)
	if opts.Job {
		j := opts.J
		j.Options = opts.K
		j.Model = opts.Model
		if err := j.CheckJobFlags(); err != nil {
			return &UsageError{Err: err}
		}
	}
	if err := opts.K.CheckFlags(); err != nil {
		return &UsageError{Err: err}
	}
	return nil
}

func deployRun(ctx context.Context, opts *DeployOptions) error {
	k := opts.K
	_, m, err := resolveModel(ctx, opts.Store, opts.Model)
	if err != nil {
		return err
	}
	if m.Local || m.Entry == nil {
		return fmt.Errorf("%s is a local model folder: deploy needs a model from the index, which the cluster can download (publish the model and add it to the index, or pass --index with an index that lists it)", m.Dir)
	}
	if m.IsNotebook() {
		return fmt.Errorf("%s is a notebook (backend colab), not a model with a Docker image: there is nothing to deploy (open it in Google Colab from %s)", m.Name, m.Entry.GitHub)
	}
	if m.Manifest != nil {
		// installed here: a model whose files could reach the host is not
		// deployed anywhere (the pod's own pull refuses it too)
		if err := store.CheckFolder(m); err != nil {
			return err
		}
	}
	podIndex, err := clusterIndex(opts, m)
	if err != nil {
		return err
	}
	if podIndex != config.DefaultIndexURL {
		k.IndexURL = podIndex
	}
	k.Model, k.Branch = m.Name, m.Entry.Branch()
	if m.Manifest != nil && m.Manifest.Complete && m.Manifest.Commit != "" {
		k.Commit, k.Image = m.Manifest.Commit, m.Manifest.DockerID
		opts.IO.Notef("pinned to commit %s of %s, the one installed here", shortCommit(k.Commit), m.Name)
	} else {
		commit, in, err := store.Peek(ctx, m.Entry)
		if err != nil {
			return err
		}
		k.Commit, k.Image = commit, in.DockerID
		opts.IO.Notef("%s is not installed here: pinned to commit %s, the tip of branch %s now", m.Name, shortCommit(commit), k.Branch)
	}
	if k.Image == "" {
		return fmt.Errorf("model %s (commit %s) has no docker_id in its init/init.json: there is no image to deploy", m.Name, shortCommit(k.Commit))
	}
	k.GPU, _ = launch.DecideGPU(m, launch.GPUChoice(opts.GPU, opts.CPU), "")
	if k.ModelhubImage == "" {
		k.ModelhubImage = kube.DefaultModelhubImage(version())
		if v := version(); v == "dev" || strings.Contains(v, "dirty") || strings.Contains(v, "+") {
			opts.IO.Warnf("this modelhub is a development build (%s): no published image %s exists; build one with `make image`, push it to a registry the cluster can pull from and pass --modelhub-image", v, k.ModelhubImage)
		}
	}
	var res *kube.Result
	if opts.Job {
		j := opts.J
		j.Options = k
		res, err = kube.GenerateJob(j)
	} else {
		res, err = kube.Generate(k)
	}
	if err != nil {
		return err
	}
	if res.Renamed {
		opts.IO.Notef("%q is not a valid Kubernetes name: the objects are named %s (or pass --name)", m.Name, res.Name)
	}
	what := ""
	if opts.Job {
		what = fmt.Sprintf(" --job: %d shard(s) of %s on claim %s", opts.J.Shards, opts.J.InputDir, opts.J.DataClaim)
	}
	header := fmt.Sprintf("modelhub deploy %s --kube%s (modelhub %s)\nmodel image %s; files: commit %s of branch %s, pulled in the pod by %s\napply with: kubectl apply -f FILE",
		m.Name, what, version(), k.Image, k.Commit, k.Branch, k.ModelhubImage)
	data, err := kube.Marshal(header, res.Objects)
	if err != nil {
		return err
	}
	if opts.Output == "" {
		_, err = opts.IO.Out.Write(data)
		return err
	}
	if err := config.WriteFileAtomic(opts.Output, data, 0o644); err != nil {
		return fmt.Errorf("write %s: %w", opts.Output, err)
	}
	var kinds []string
	for _, o := range res.Objects {
		kinds = append(kinds, o.GetObjectKind().GroupVersionKind().Kind)
	}
	opts.IO.Notef("wrote %s (%s %s); apply it with: kubectl apply -f %s", opts.Output, strings.Join(kinds, ", "), res.Name, opts.Output)
	return nil
}

// clusterIndex is the index the pod pulls m from: --cluster-index, else the
// index m came from (its manifest's, or the one it was found in now; the
// current --index for a model pulled by an older modelhub). A local file is
// refused and a loopback URL warned about: a pod reaches neither.
func clusterIndex(opts *DeployOptions, m *store.Model) (string, error) {
	if opts.ClusterIndex != "" {
		return opts.ClusterIndex, nil
	}
	origin := m.Index
	if m.Manifest != nil && m.Manifest.Complete && m.Manifest.Index != "" {
		origin = m.Manifest.Index
	}
	if origin == "" {
		origin = opts.IndexLocation()
	}
	if !registry.IsRemote(origin) {
		return "", fmt.Errorf("%s came from the local index %s, which a pod cannot read: serve that models.json over http(s) where the cluster reaches it and pass its URL with --cluster-index URL", m.Name, origin)
	}
	if u, err := url.Parse(origin); err == nil && isLoopbackHost(u.Hostname()) {
		opts.IO.Warnf("%s came from the index %s on this machine's loopback, which a pod cannot reach (only one with host networking on this machine): serve the index where the cluster reaches it and pass --cluster-index URL", m.Name, origin)
	}
	return origin, nil
}

// isLoopbackHost: localhost, or a loopback IP address.
func isLoopbackHost(h string) bool {
	if strings.EqualFold(h, "localhost") || strings.HasSuffix(strings.ToLower(h), ".localhost") {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

func shortCommit(c string) string {
	if len(c) > 12 {
		return c[:12]
	}
	return c
}
