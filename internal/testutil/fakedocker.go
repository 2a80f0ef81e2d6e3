package testutil

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/modelhub-ai/modelhub/internal/dockerrun"
)

// FakeDocker is a dockerrun.API for tests outside dockerrun, in docker/cli's
// fakeClient style: one func field per method, and a test sets only the ones it
// exercises. An unset field gives a harmless default (noted on each method).
// Every call is recorded as a line such as "create modelhub-m" for Called.
type FakeDocker struct {
	InfoFunc         func(ctx context.Context) (dockerrun.EngineInfo, error)
	ImageInspectFunc func(ctx context.Context, ref string) (dockerrun.Image, error)
	ImagePullFunc    func(ctx context.Context, ref string, opts dockerrun.PullOptions) error
	ImageTagFunc     func(ctx context.Context, source, target string) error
	ImageRemoveFunc  func(ctx context.Context, ref string) error
	CreateFunc       func(ctx context.Context, s dockerrun.Spec) (string, error)
	StartFunc        func(ctx context.Context, id string) error
	WaitFunc         func(ctx context.Context, id string) (int, error)
	LogsFunc         func(ctx context.Context, id string, opts dockerrun.LogsOptions, stdout, stderr io.Writer) error
	StopFunc         func(ctx context.Context, id string, grace time.Duration) error
	KillFunc         func(ctx context.Context, id string) error
	RemoveFunc       func(ctx context.Context, id string) error
	InspectFunc      func(ctx context.Context, nameOrID string) (dockerrun.Container, error)
	ListFunc         func(ctx context.Context, all bool) ([]dockerrun.Container, error)
	AttachFunc       func(ctx context.Context, id string) (*dockerrun.Attachment, error)
	ResizeFunc       func(ctx context.Context, id string, rows, cols uint) error
	EndpointFunc     func() dockerrun.Endpoint
	SyncVolumeFunc   func(ctx context.Context, v dockerrun.VolumeSync) (dockerrun.SyncResult, error)
	ModelVolumesFunc func(ctx context.Context, model string) ([]string, error)
	RemoveVolumeFunc func(ctx context.Context, name string) error
	CopyFilesFunc    func(ctx context.Context, id, dest string, files []dockerrun.CopyFile) error
	ExecFunc         func(ctx context.Context, id string, cmd []string) (int, string, error)

	mu    sync.Mutex
	calls []string
	specs []dockerrun.Spec
}

var _ dockerrun.API = (*FakeDocker)(nil)

func (f *FakeDocker) record(format string, args ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, fmt.Sprintf(format, args...))
}

// Calls returns the recorded calls, in order.
func (f *FakeDocker) Calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.calls...)
}

// ResetCalls forgets the recorded calls.
func (f *FakeDocker) ResetCalls() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = nil
}

// Called reports whether a recorded call starts with prefix.
func (f *FakeDocker) Called(prefix string) bool {
	for _, c := range f.Calls() {
		if strings.HasPrefix(c, prefix) {
			return true
		}
	}
	return false
}

// Specs returns the specs Create was called with.
func (f *FakeDocker) Specs() []dockerrun.Spec {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]dockerrun.Spec(nil), f.specs...)
}

// Info: default an empty EngineInfo.
func (f *FakeDocker) Info(ctx context.Context) (dockerrun.EngineInfo, error) {
	f.record("info")
	if f.InfoFunc != nil {
		return f.InfoFunc(ctx)
	}
	return dockerrun.EngineInfo{}, nil
}

// ImageInspect: default ErrImageNotFound.
func (f *FakeDocker) ImageInspect(ctx context.Context, ref string) (dockerrun.Image, error) {
	f.record("inspect-image %s", ref)
	if f.ImageInspectFunc != nil {
		return f.ImageInspectFunc(ctx, ref)
	}
	return dockerrun.Image{}, dockerrun.ErrImageNotFound
}

// ImagePull (recorded as "pull REF PLATFORM"): default success.
func (f *FakeDocker) ImagePull(ctx context.Context, ref string, opts dockerrun.PullOptions) error {
	f.record("pull %s %s", ref, opts.Platform)
	if f.ImagePullFunc != nil {
		return f.ImagePullFunc(ctx, ref, opts)
	}
	return nil
}

// ImageTag: default success.
func (f *FakeDocker) ImageTag(ctx context.Context, source, target string) error {
	f.record("tag-image %s %s", source, target)
	if f.ImageTagFunc != nil {
		return f.ImageTagFunc(ctx, source, target)
	}
	return nil
}

// ImageRemove: default success.
func (f *FakeDocker) ImageRemove(ctx context.Context, ref string) error {
	f.record("remove-image %s", ref)
	if f.ImageRemoveFunc != nil {
		return f.ImageRemoveFunc(ctx, ref)
	}
	return nil
}

// Create (the spec is kept for Specs): default the ID "id-NAME".
func (f *FakeDocker) Create(ctx context.Context, s dockerrun.Spec) (string, error) {
	f.record("create %s", s.Name)
	f.mu.Lock()
	f.specs = append(f.specs, s)
	f.mu.Unlock()
	if f.CreateFunc != nil {
		return f.CreateFunc(ctx, s)
	}
	return "id-" + s.Name, nil
}

// Start: default success.
func (f *FakeDocker) Start(ctx context.Context, id string) error {
	f.record("start %s", id)
	if f.StartFunc != nil {
		return f.StartFunc(ctx, id)
	}
	return nil
}

// Wait: default blocks until ctx ends (the container runs on).
func (f *FakeDocker) Wait(ctx context.Context, id string) (int, error) {
	if f.WaitFunc != nil {
		return f.WaitFunc(ctx, id)
	}
	<-ctx.Done()
	return -1, ctx.Err()
}

// Logs (recorded as "logs ID tail=TAIL"): default one line on stderr.
func (f *FakeDocker) Logs(ctx context.Context, id string, opts dockerrun.LogsOptions, stdout, stderr io.Writer) error {
	f.record("logs %s tail=%s", id, opts.Tail)
	if f.LogsFunc != nil {
		return f.LogsFunc(ctx, id, opts, stdout, stderr)
	}
	_, _ = io.WriteString(stderr, "engine log line\n")
	return nil
}

// Stop (recorded as "stop ID GRACE"): default success.
func (f *FakeDocker) Stop(ctx context.Context, id string, grace time.Duration) error {
	f.record("stop %s %s", id, grace)
	if f.StopFunc != nil {
		return f.StopFunc(ctx, id, grace)
	}
	return nil
}

// Kill: default success.
func (f *FakeDocker) Kill(ctx context.Context, id string) error {
	f.record("kill %s", id)
	if f.KillFunc != nil {
		return f.KillFunc(ctx, id)
	}
	return nil
}

// Remove: default success.
func (f *FakeDocker) Remove(ctx context.Context, id string) error {
	f.record("remove %s", id)
	if f.RemoveFunc != nil {
		return f.RemoveFunc(ctx, id)
	}
	return nil
}

// Inspect: default ErrContainerNotFound.
func (f *FakeDocker) Inspect(ctx context.Context, nameOrID string) (dockerrun.Container, error) {
	f.record("inspect %s", nameOrID)
	if f.InspectFunc != nil {
		return f.InspectFunc(ctx, nameOrID)
	}
	return dockerrun.Container{}, fmt.Errorf("container %s: %w", nameOrID, dockerrun.ErrContainerNotFound)
}

// List: default no containers.
func (f *FakeDocker) List(ctx context.Context, all bool) ([]dockerrun.Container, error) {
	f.record("list")
	if f.ListFunc != nil {
		return f.ListFunc(ctx, all)
	}
	return nil, nil
}

// Attach: default an error (a fake has no terminal to attach).
func (f *FakeDocker) Attach(ctx context.Context, id string) (*dockerrun.Attachment, error) {
	f.record("attach %s", id)
	if f.AttachFunc != nil {
		return f.AttachFunc(ctx, id)
	}
	return nil, errors.New("no attach in the fake")
}

// Endpoint is the local socket unless EndpointFunc says otherwise.
func (f *FakeDocker) Endpoint() dockerrun.Endpoint {
	if f.EndpointFunc != nil {
		return f.EndpointFunc()
	}
	return dockerrun.Endpoint{Context: "default", Host: "unix:///var/run/docker.sock"}
}

// SyncVolume reports a volume filled with nothing unless SyncVolumeFunc is set.
func (f *FakeDocker) SyncVolume(ctx context.Context, v dockerrun.VolumeSync) (dockerrun.SyncResult, error) {
	f.record("sync-volume %s", v.Name)
	if f.SyncVolumeFunc != nil {
		return f.SyncVolumeFunc(ctx, v)
	}
	return dockerrun.SyncResult{Created: true}, nil
}

// ModelVolumes lists none unless ModelVolumesFunc is set.
func (f *FakeDocker) ModelVolumes(ctx context.Context, model string) ([]string, error) {
	f.record("model-volumes %s", model)
	if f.ModelVolumesFunc != nil {
		return f.ModelVolumesFunc(ctx, model)
	}
	return nil, nil
}

// RemoveVolume succeeds unless RemoveVolumeFunc is set.
func (f *FakeDocker) RemoveVolume(ctx context.Context, name string) error {
	f.record("remove-volume %s", name)
	if f.RemoveVolumeFunc != nil {
		return f.RemoveVolumeFunc(ctx, name)
	}
	return nil
}

// Resize: default success.
func (f *FakeDocker) Resize(ctx context.Context, id string, rows, cols uint) error {
	f.record("resize %s %dx%d", id, rows, cols)
	if f.ResizeFunc != nil {
		return f.ResizeFunc(ctx, id, rows, cols)
	}
	return nil
}

// CopyFiles: default success.
func (f *FakeDocker) CopyFiles(ctx context.Context, id, dest string, files []dockerrun.CopyFile) error {
	f.record("copy %s %s %d file(s)", id, dest, len(files))
	if f.CopyFilesFunc != nil {
		return f.CopyFilesFunc(ctx, id, dest, files)
	}
	return nil
}

// Exec: default exit code 0, no output.
func (f *FakeDocker) Exec(ctx context.Context, id string, cmd []string) (int, string, error) {
	f.record("exec %s %s", id, strings.Join(cmd, " "))
	if f.ExecFunc != nil {
		return f.ExecFunc(ctx, id, cmd)
	}
	return 0, "", nil
}

// Images makes ImageInspect, ImagePull and ImageRemove act on the map images
// (ref -> image): a pull adds a linux/amd64 image. It returns f.
func (f *FakeDocker) Images(images map[string]dockerrun.Image) *FakeDocker {
	var mu sync.Mutex
	f.ImageInspectFunc = func(ctx context.Context, ref string) (dockerrun.Image, error) {
		mu.Lock()
		defer mu.Unlock()
		if im, ok := images[ref]; ok {
			return im, nil
		}
		return dockerrun.Image{}, fmt.Errorf("image %s: %w", ref, dockerrun.ErrImageNotFound)
	}
	f.ImagePullFunc = func(ctx context.Context, ref string, opts dockerrun.PullOptions) error {
		mu.Lock()
		defer mu.Unlock()
		images[ref] = dockerrun.Image{ID: "sha256:" + ref + "-pulled", OS: "linux", Arch: "amd64"}
		return nil
	}
	f.ImageRemoveFunc = func(ctx context.Context, ref string) error {
		mu.Lock()
		defer mu.Unlock()
		delete(images, ref)
		return nil
	}
	return f
}
