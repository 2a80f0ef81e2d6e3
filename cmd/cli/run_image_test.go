package cli

import (
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"strings"
	"testing"

	"github.com/modelhub-ai/modelhub/internal/dockerrun"
)

// inUseDocker refuses to remove images, as the engine does for one a container uses.
type inUseDocker struct{ fakeDocker }

func (d *inUseDocker) ImageRemove(ctx context.Context, ref string) error {
	return errors.Join(dockerrun.ErrImageInUse)
}

func Test_ensureImage(t *testing.T) {
	amd64 := dockerrun.EngineInfo{OS: "linux", Arch: "amd64"}
	arm64 := dockerrun.EngineInfo{OS: "linux", Arch: "arm64"}
	pullEvents := func(ref string, o dockerrun.PullOptions) error {
		for _, p := range []dockerrun.PullProgress{
			{Layers: 2, Total: 100, Current: 10},
			{Layers: 2, LayersDone: 1, Total: 300, Current: 120},
			{Layers: 2, LayersDone: 2, Total: 300, Current: 300, Status: "Status: Downloaded newer image for " + ref},
		} {
			o.Progress(p)
		}
		return nil
	}
	for _, tc := range []struct {
		name     string
		tty      bool
		images   map[string]dockerrun.Image
		info     dockerrun.EngineInfo
		opts     RunOptions
		wantPull string // "" when no pull
		stderr   []string
		noStderr []string
	}{
		{name: "present: no pull", images: map[string]dockerrun.Image{"img:1": {OS: "linux", Arch: "amd64"}}, info: amd64,
			noStderr: []string{"pull"}},
		{name: "missing, plain lines", info: amd64, wantPull: "pull img:1 ",
			stderr: []string{"pulling image img:1…\n", "pulling image img:1: 1/2 layers, 120 B\n", "pulled image img:1 (2 layers, 300 B)\n"}, noStderr: []string{"\r"}},
		{name: "missing, a bar on a terminal", tty: true, info: amd64, wantPull: "pull img:1 ",
			stderr: []string{"pulling img:1 ", "\r", "pulled image img:1 (2 layers, 300 B)"}, noStderr: []string{"1/2 layers"}},
		{name: "--update-image pulls again", images: map[string]dockerrun.Image{"img:1": {OS: "linux", Arch: "amd64"}}, info: amd64,
			opts: RunOptions{UpdateImage: true}, wantPull: "pull img:1 ", stderr: []string{"removed the local image img:1"}},
		{name: "--platform other than the local image", images: map[string]dockerrun.Image{"img:1": {OS: "linux", Arch: "amd64"}}, info: amd64,
			opts: RunOptions{Platform: "linux/arm64"}, wantPull: "pull img:1 linux/arm64"},
		{name: "amd64 image on an arm64 engine", images: map[string]dockerrun.Image{"img:1": {OS: "linux", Arch: "amd64"}}, info: arm64,
			stderr: []string{"the image img:1 is built for linux/amd64 and this engine is linux/arm64: it will run emulated"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := &fakeDocker{images: tc.images, pull: nil}
			if tc.wantPull != "" {
				d.pull = func(ref string, o dockerrun.PullOptions) error {
					pullEvents(ref, o)
					d.images = map[string]dockerrun.Image{ref: {OS: "linux", Arch: "amd64"}}
					return nil
				}
			}
			f, _, errOut := testFactory(t, "[]", tc.tty, 80)
			o := tc.opts
			o.IO, o.Factory = f.IO, f
			if err := ensureImage(context.Background(), d, &o, "img:1", tc.info); err != nil {
				t.Fatal(err)
			}
			pulled := ""
			for _, c := range d.calls {
				if strings.HasPrefix(c, "pull ") {
					pulled = c
				}
			}
			if pulled != tc.wantPull {
				t.Errorf("pull call %q, want %q (calls %v)", pulled, tc.wantPull, d.calls)
			}
			for _, s := range tc.stderr {
				if !strings.Contains(errOut.String(), s) {
					t.Errorf("stderr lacks %q:\n%q", s, errOut.String())
				}
			}
			for _, s := range tc.noStderr {
				if strings.Contains(errOut.String(), s) {
					t.Errorf("stderr has %q:\n%q", s, errOut.String())
				}
			}
		})
	}
}

func Test_ensureImage_inUseAndPullError(t *testing.T) {
	d := &inUseDocker{fakeDocker{images: map[string]dockerrun.Image{"img:1": {OS: "linux", Arch: "amd64"}}}}
	f, _, _ := testFactory(t, "[]", false, 0)
	err := ensureImage(context.Background(), d, &RunOptions{IO: f.IO, Factory: f, UpdateImage: true}, "img:1", dockerrun.EngineInfo{})
	if err == nil || !strings.Contains(err.Error(), "--update-image: the image img:1 is used by a container; stop it first") || d.called("pull") {
		t.Errorf("err = %v, calls %v", err, d.calls)
	}
	fd := &fakeDocker{pull: func(ref string, o dockerrun.PullOptions) error {
		return &dockerrun.PullError{Image: ref, Reason: "manifest unknown"}
	}}
	err = ensureImage(context.Background(), fd, &RunOptions{IO: f.IO, Factory: f}, "img:1", dockerrun.EngineInfo{})
	var pe *dockerrun.PullError
	if !errors.As(err, &pe) {
		t.Errorf("pull failure: %v", err)
	}
}

func Test_containerName(t *testing.T) {
	for in, want := range map[string]string{"squeezenet": "modelhub-squeezenet", "My Model (v2)": "modelhub-My-Model--v2--%08x", "a_b.c": "modelhub-a_b.c", "Ünïcode": "modelhub---n--code-%08x"} {
		if strings.Contains(want, "%") {
			want = fmt.Sprintf(want, crc32.ChecksumIEEE([]byte(in)))
		}
		if got := containerName(in); got != want {
			t.Errorf("containerName(%q) = %q, want %q", in, got, want)
		}
	}
	// models whose names differ only in replaced characters get their own containers
	for _, pair := range [][2]string{{"a b", "a-b"}, {"Ä-x", "Ö-x"}} {
		if containerName(pair[0]) == containerName(pair[1]) {
			t.Errorf("%q and %q share the container name %s", pair[0], pair[1], containerName(pair[0]))
		}
	}
}
