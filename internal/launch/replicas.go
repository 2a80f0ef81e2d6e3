package launch

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"

	"github.com/modelhub-ai/modelhub/internal/dockerrun"
	"github.com/modelhub-ai/modelhub/internal/humanize"
)

// Replicas are several sessions of one model, each its own container, for
// a batch fed from one queue (`predict --replicas`). Every container is
// removed by Release, also after an error or a Ctrl-C.
type Replicas struct {
	deps Deps
	opts SessionOptions
	ev   Events

	mu       sync.Mutex
	sessions []*Session // nil: dropped
	gpus     []string   // each replica's --gpus
	restarts []int
	started  []string // every container started, restarts included
}

// MaxRestarts is how often one replica is restarted before it is dropped.
const MaxRestarts = 2

// ReplicaMemory is the memory counted for one replica of a CPU model by
// AutoReplicas: the engine, the framework and a model of a few hundred MB.
const ReplicaMemory = 2 << 30

// AutoReplicas is `--replicas auto`: one replica per GPU when GPUs are
// asked for (--gpus all: the GPUs the engine lists; --gpus N: N;
// --gpus device=A,B: one per device); else one per core of the engine's
// machine, as far as its memory holds ReplicaMemory for each, at least one.
// why says how the number was chosen.
func AutoReplicas(info dockerrun.EngineInfo, gpus string) (n int, why string, err error) {
	if gpus != "" {
		req, err := dockerrun.ParseGPUs(gpus)
		if err != nil {
			return 0, "", err
		}
		switch {
		case len(req.Devices) > 0:
			return len(req.Devices), "one per GPU of --gpus " + gpus, nil
		case req.Count > 0:
			return req.Count, "one per GPU of --gpus " + gpus, nil
		case info.GPUs > 0:
			return info.GPUs, fmt.Sprintf("one per GPU: the engine lists %d", info.GPUs), nil
		}
		return 0, "", errors.New("--replicas auto --gpus all: the Docker engine does not list its GPUs (no CDI devices); give --replicas N or --gpus device=ID,ID")
	}
	n = max(info.CPUs, 1)
	why = fmt.Sprintf("one per core (%d)", n)
	if info.Memory > 0 {
		if byMem := int(info.Memory / ReplicaMemory); byMem < n {
			n = max(byMem, 1)
			why = fmt.Sprintf("%s of memory holds %d at 2 GiB each", humanize.Bytes(info.Memory), n)
		}
	}
	return n, why, nil
}

// ReplicaGPUs splits a --gpus request between n replicas, one GPU each:
// device=A,B gives replica i the i-th device (round robin), a count N the
// devices 0..N-1, all the engine's GPUs (gpuCount; when it is unknown each
// replica gets all). "" gives each replica "" (the model's own choice).
func ReplicaGPUs(gpus string, n, gpuCount int) ([]string, error) {
	out := make([]string, n)
	if gpus == "" || n == 1 {
		for i := range out {
			out[i] = gpus
		}
		return out, nil
	}
	req, err := dockerrun.ParseGPUs(gpus)
	if err != nil {
		return nil, err
	}
	var devices []string
	switch {
	case len(req.Devices) > 0:
		devices = req.Devices
	case req.Count > 0:
		for i := range req.Count {
			devices = append(devices, strconv.Itoa(i))
		}
	case gpuCount > 0:
		for i := range gpuCount {
			devices = append(devices, strconv.Itoa(i))
		}
	}
	for i := range out {
		out[i] = gpus
		if len(devices) > 0 {
			out[i] = "device=" + devices[i%len(devices)]
		}
	}
	return out, nil
}

// StartReplicas starts n sessions of the model as opts say (never reusing
// a running container, never kept), each under its own unique name, with
// gpus[i] as its --gpus (nil: opts.GPUs). The first starts alone (it pulls
// the model and image and reports every step); the others then start
// together, quietly but for warnings. Their API ports: with opts.APIPort
// the first takes it (fixed when opts.APIPortFixed) and the others the
// next free ones after it; else any free port. On any error (a Ctrl-C
// too) every replica started is removed.
func StartReplicas(ctx context.Context, deps Deps, opts SessionOptions, n int, gpus []string, ev Events) (*Replicas, error) {
	opts.Reuse, opts.Keep = false, false
	if gpus == nil {
		gpus = make([]string, n)
		for i := range gpus {
			gpus[i] = opts.GPUs
		}
	}
	r := &Replicas{deps: deps, opts: opts, ev: ev, sessions: make([]*Session, n), gpus: gpus, restarts: make([]int, n)}
	first, err := r.acquire(ctx, 0, ev)
	if err != nil {
		return nil, err
	}
	r.sessions[0] = first
	quiet := ev
	quiet.Note = nil
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := 1; i < n; i++ {
		wg.Go(func() {
			s, err := r.acquire(ctx, i, quiet)
			r.mu.Lock()
			r.sessions[i], errs[i] = s, err
			r.mu.Unlock()
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		r.Release(ctx)
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, err
	}
	return r, nil
}

// acquire starts replica i.
func (r *Replicas) acquire(ctx context.Context, i int, ev Events) (*Session, error) {
	o := r.opts
	o.GPUs = r.gpus[i]
	if i > 0 && o.APIPort != 0 {
		o.APIPort, o.APIPortFixed = o.APIPort+i, false
	}
	if o.Purpose == "" {
		o.Purpose = "replica"
	}
	s, err := Acquire(ctx, r.deps, o, ev)
	if err == nil {
		r.mu.Lock()
		r.started = append(r.started, s.Container)
		r.mu.Unlock()
	}
	return s, err
}

// Containers are the names of every container the replicas ran in, in the
// order they started (a restarted replica's new one too).
func (r *Replicas) Containers() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.started...)
}

// Sessions are the replicas by slot; a dropped one is nil.
func (r *Replicas) Sessions() []*Session {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*Session(nil), r.sessions...)
}

// Restart removes replica i's container and starts a new one in its slot;
// after MaxRestarts, or when the new one does not start, the slot is
// dropped and the error says why.
func (r *Replicas) Restart(ctx context.Context, i int) (*Session, error) {
	r.mu.Lock()
	old := r.sessions[i]
	r.sessions[i] = nil
	r.restarts[i]++
	tries := r.restarts[i]
	r.mu.Unlock()
	if old != nil {
		_ = old.Release(ctx)
	}
	if tries > MaxRestarts {
		return nil, fmt.Errorf("it was restarted %d times already", MaxRestarts)
	}
	quiet := r.ev
	quiet.Note = nil
	s, err := r.acquire(ctx, i, quiet)
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	r.sessions[i] = s
	r.mu.Unlock()
	return s, nil
}

// Release removes every replica's container, in parallel, also after ctx
// was cancelled.
func (r *Replicas) Release(ctx context.Context) error {
	ss := r.Sessions()
	errs := make([]error, len(ss))
	var wg sync.WaitGroup
	for i, s := range ss {
		if s == nil {
			continue
		}
		wg.Go(func() {
			if err := s.Release(ctx); err != nil {
				errs[i] = fmt.Errorf("%s: %w", s.Container, err)
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}
