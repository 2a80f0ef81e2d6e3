package launch

import (
	"context"
	"errors"
	"net"
	"strconv"
	"strings"
	"testing"

	"github.com/modelhub-ai/modelhub/internal/dockerrun"
	"github.com/modelhub-ai/modelhub/internal/testutil"
)

func notes(lines *[]string) Events {
	return Events{Note: func(s string) { *lines = append(*lines, s) }}
}

func TestEnsureImage(t *testing.T) {
	amd64 := dockerrun.EngineInfo{OS: "linux", Arch: "amd64"}
	arm64 := dockerrun.EngineInfo{OS: "linux", Arch: "arm64"}
	for _, tc := range []struct {
		name     string
		images   map[string]dockerrun.Image
		info     dockerrun.EngineInfo
		opts     Options
		wantPull string // "" when no pull
		note     string
	}{
		{name: "present: no pull", images: map[string]dockerrun.Image{"img:1": {OS: "linux", Arch: "amd64"}}, info: amd64},
		{name: "missing", images: map[string]dockerrun.Image{}, info: amd64, wantPull: "pull img:1 "},
		{name: "--update-image pulls again", images: map[string]dockerrun.Image{"img:1": {OS: "linux", Arch: "amd64"}}, info: amd64,
			opts: Options{UpdateImage: true}, wantPull: "pull img:1 ", note: "removed the local image img:1"},
		{name: "--platform other than the local image", images: map[string]dockerrun.Image{"img:1": {OS: "linux", Arch: "amd64"}}, info: amd64,
			opts: Options{Platform: "linux/arm64"}, wantPull: "pull img:1 linux/arm64"},
		{name: "amd64 image on an arm64 engine", images: map[string]dockerrun.Image{"img:1": {OS: "linux", Arch: "amd64"}}, info: arm64,
			note: "the image img:1 is built for linux/amd64 and this engine is linux/arm64: it will run emulated"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := (&testutil.FakeDocker{}).Images(tc.images)
			var lines []string
			if err := ensureImage(context.Background(), d, "img:1", tc.opts, tc.info, notes(&lines)); err != nil {
				t.Fatal(err)
			}
			pulled := ""
			for _, c := range d.Calls() {
				if strings.HasPrefix(c, "pull ") {
					pulled = c
				}
			}
			if pulled != tc.wantPull {
				t.Errorf("pull call %q, want %q (calls %v)", pulled, tc.wantPull, d.Calls())
			}
			if all := strings.Join(lines, "\n"); !strings.Contains(all, tc.note) {
				t.Errorf("notes %q lack %q", all, tc.note)
			}
		})
	}
}

// --update-image pulls before the old image goes: it is kept under a backup
// tag, put back when the pull fails and dropped once the new one is in place.
func TestUpdateImage(t *testing.T) {
	present := map[string]dockerrun.Image{"img:1": {ID: "sha256:old", OS: "linux", Arch: "amd64"}}
	// the pull fails: the old image is tagged img:1 again
	d := (&testutil.FakeDocker{}).Images(present)
	tags := map[string]string{}
	d.ImageTagFunc = func(_ context.Context, source, target string) error { tags[target] = source; return nil }
	d.ImagePullFunc = func(context.Context, string, dockerrun.PullOptions) error {
		return &dockerrun.PullError{Image: "img:1", Reason: "manifest unknown"}
	}
	var lines []string
	err := ensureImage(context.Background(), d, "img:1", Options{UpdateImage: true}, dockerrun.EngineInfo{}, notes(&lines))
	var pe *dockerrun.PullError
	if !errors.As(err, &pe) {
		t.Fatalf("err = %v", err)
	}
	calls := strings.Join(d.Calls(), "\n")
	backup := ""
	for target := range tags {
		if strings.HasPrefix(target, "modelhub-update-image-backup:") {
			backup = target
		}
	}
	if backup == "" || tags["img:1"] != backup || !strings.Contains(calls, "remove-image "+backup) ||
		strings.Index(calls, "tag-image img:1 "+backup) > strings.Index(calls, "remove-image img:1") {
		t.Errorf("failed pull: tags %v, calls\n%s", tags, calls)
	}
	if !strings.Contains(strings.Join(lines, "\n"), "kept the old image img:1") {
		t.Errorf("notes %q", lines)
	}

	// the pull works: the backup tag goes after the pull
	d = (&testutil.FakeDocker{}).Images(map[string]dockerrun.Image{"img:1": {ID: "sha256:old", OS: "linux", Arch: "amd64"}})
	if err := ensureImage(context.Background(), d, "img:1", Options{UpdateImage: true}, dockerrun.EngineInfo{}, Events{}); err != nil {
		t.Fatal(err)
	}
	calls = strings.Join(d.Calls(), "\n")
	if i, j := strings.Index(calls, "pull img:1"), strings.LastIndex(calls, "remove-image modelhub-update-image-backup:"); i < 0 || j < i {
		t.Errorf("calls\n%s", calls)
	}

	// an image a container uses is refused before anything changes
	d = (&testutil.FakeDocker{ListFunc: func(context.Context, bool) ([]dockerrun.Container, error) {
		return []dockerrun.Container{{Name: "modelhub-x", Image: "img:1"}}, nil
	}}).Images(map[string]dockerrun.Image{"img:1": {ID: "sha256:old"}})
	err = ensureImage(context.Background(), d, "img:1", Options{UpdateImage: true}, dockerrun.EngineInfo{}, Events{})
	if err == nil || !strings.Contains(err.Error(), "--update-image: the image img:1 is used by a container; stop it first") || d.Called("pull") || d.Called("tag-image") {
		t.Errorf("in use: %v, calls %v", err, d.Calls())
	}
	// the engine refuses the removal: the same
	d = (&testutil.FakeDocker{}).Images(map[string]dockerrun.Image{"img:1": {ID: "sha256:old"}})
	d.ImageRemoveFunc = func(_ context.Context, ref string) error {
		if ref == "img:1" {
			return dockerrun.ErrImageInUse
		}
		return nil
	}
	err = ensureImage(context.Background(), d, "img:1", Options{UpdateImage: true}, dockerrun.EngineInfo{}, Events{})
	if err == nil || !strings.Contains(err.Error(), "is used by a container") || d.Called("pull") {
		t.Errorf("engine refuses: %v, calls %v", err, d.Calls())
	}
}

func TestPortPicker(t *testing.T) {
	busy := testutil.FreePort(t)
	l, err := listen(busy)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	var lines []string
	p := portPicker{host: "127.0.0.1", taken: map[int]bool{busy + 1: true}, ev: notes(&lines)}
	if _, err := p.pick(busy, true, "--api-port"); err == nil ||
		err.Error() != "port "+itoa(busy)+" on 127.0.0.1 is already in use (--api-port): stop what uses it or choose another port with --api-port" {
		t.Errorf("fixed busy port: %v", err)
	}
	got, err := p.pick(busy, false, "--api-port")
	if err != nil || got <= busy+1 {
		t.Fatalf("default busy port: %d, %v", got, err)
	}
	if want := "port " + itoa(busy) + " is busy; using " + itoa(got) + " instead"; len(lines) != 1 || !strings.HasPrefix(lines[0], want) {
		t.Errorf("notes %q, want %q", lines, want)
	}
	if any, err := p.pick(0, false, "--api-port"); err != nil || any == 0 || any == got {
		t.Errorf("any free port: %d, %v", any, err)
	}
	p = portPicker{host: "127.0.0.1", span: 1, taken: map[int]bool{}}
	if _, err := p.pick(busy, false, "--api-port"); err == nil || !strings.Contains(err.Error(), "no free port on 127.0.0.1 from") {
		t.Errorf("span exhausted: %v", err)
	}
}

func listen(port int) (interface{ Close() error }, error) {
	return net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
}

func itoa(n int) string { return strconv.Itoa(n) }
