package cli

import (
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/modelhub-ai/modelhub/internal/dockerrun"
	"github.com/modelhub-ai/modelhub/internal/testutil"
)

func Test_NewCmdStopPsLogs_flags(t *testing.T) {
	for _, tc := range []struct {
		args    []string
		want    string
		wantErr string
	}{
		{args: []string{"stop", "a", "b"}, want: "stop [a b] all=false"},
		{args: []string{"stop", "--all"}, want: "stop [] all=true"},
		{args: []string{"stop"}, wantErr: "needs model names"},
		{args: []string{"stop", "-a", "x"}, wantErr: "not both"},
		{args: []string{"ps", "--json"}, want: "ps json=true"},
		{args: []string{"ps", "x"}, wantErr: "unknown command"},
		{args: []string{"logs", "-f", "x"}, want: "logs x follow=true tail=all"},
		{args: []string{"logs", "-n", "5", "x"}, want: "logs x follow=false tail=5"},
		{args: []string{"logs"}, wantErr: "needs a model NAME"},
		{args: []string{"logs", "-n", "0", "x"}, want: "logs x follow=false tail=0"},
		{args: []string{"logs", "-n", "all", "x"}, want: "logs x follow=false tail=all"},
		{args: []string{"logs", "-n", "abc", "x"}, wantErr: `--tail "abc": want a number of lines`},
		{args: []string{"logs", "-n", "-3", "x"}, wantErr: `--tail "-3": want a number of lines`},
		{args: []string{"logs", ""}, wantErr: "got an empty argument"},
		{args: []string{"stop", "a", ""}, wantErr: "got an empty argument"},
	} {
		f, _, _ := testFactory(t, "[]", false, 0)
		var got string
		var cmd interface {
			SetArgs([]string)
			Execute() error
			SetOut(io.Writer)
			SetErr(io.Writer)
		}
		switch tc.args[0] {
		case "stop":
			cmd = NewCmdStop(f, func(_ context.Context, o *StopOptions) error {
				got = "stop [" + strings.Join(o.Names, " ") + "] all=" + map[bool]string{true: "true", false: "false"}[o.All]
				return nil
			})
		case "ps":
			cmd = NewCmdPs(f, func(_ context.Context, o *PsOptions) error {
				got = "ps json=" + map[bool]string{true: "true", false: "false"}[o.JSON]
				return nil
			})
		case "logs":
			cmd = NewCmdLogs(f, func(_ context.Context, o *LogsOptions) error {
				got = "logs " + o.Name + " follow=" + map[bool]string{true: "true", false: "false"}[o.Follow] + " tail=" + o.Tail
				return nil
			})
		}
		cmd.SetArgs(tc.args[1:])
		cmd.SetOut(io.Discard)
		cmd.SetErr(io.Discard)
		err := cmd.Execute()
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("%v: error %v, want %q", tc.args, err, tc.wantErr)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%v: %q, %v; want %q", tc.args, got, err, tc.want)
		}
	}
}

func Test_psRun_table(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	list := []dockerrun.Container{
		{Name: "modelhub-a", Model: "a", Mode: "api", APIURL: "http://127.0.0.1:8000", Image: "img:1", Running: true, StartedAt: now.Add(-90 * time.Second)},
		{Name: "modelhub-b", Model: "b", Mode: "expert", NotebookURL: "http://127.0.0.1:8888/notebooks/sandbox.ipynb?token=t", Image: "img:2", Running: true, StartedAt: now.Add(-3 * time.Hour), GPUs: "device=0,2"},
	}
	d := &testutil.FakeDocker{ListFunc: func(context.Context, bool) ([]dockerrun.Container, error) { return list, nil }}
	f, out, _ := testFactory(t, "[]", false, 0)
	docker := func(ctx context.Context) (dockerrun.API, error) { return d, nil }
	if err := psRun(context.Background(), &PsOptions{IO: f.IO, Docker: docker, Now: func() time.Time { return now }}); err != nil {
		t.Fatal(err)
	}
	want := `NAME  MODE    URLS                                                   UP    GPUS        IMAGE
a     api     http://127.0.0.1:8000                                  1m    -           img:1
b     expert  http://127.0.0.1:8888/notebooks/sandbox.ipynb?token=t  3h0m  device=0,2  img:2
`
	if out.String() != want {
		t.Errorf("ps =\n%s\nwant\n%s", out.String(), want)
	}
	// stop: an unknown name stops nothing
	err := stopRun(context.Background(), &StopOptions{IO: f.IO, Docker: docker, Names: []string{"a", "zz"}})
	if err == nil || !strings.Contains(err.Error(), "no model named zz is running") || d.Called("stop") {
		t.Errorf("stop a zz: %v, calls %v", err, d.Calls())
	}
	if err := stopRun(context.Background(), &StopOptions{IO: f.IO, Docker: docker, Names: []string{"A"}}); err != nil {
		t.Fatal(err)
	}
	if !d.Called("stop  10s") || !d.Called("remove ") {
		t.Errorf("calls %v", d.Calls())
	}
	// one model named twice (any case) is stopped once, not twice in parallel
	d.ResetCalls()
	if err := stopRun(context.Background(), &StopOptions{IO: f.IO, Docker: docker, Names: []string{"a", "A"}}); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(d.Calls(), ","); strings.Count(got, "stop ") != 1 || strings.Count(got, "remove ") != 1 {
		t.Errorf("stop a A: calls %v, want one stop and one remove", d.Calls())
	}
	// a model's run container and its `modelhub test` container are both stopped
	list = append(list, dockerrun.Container{ID: "t1", Name: "modelhub-a-test-1", Model: "a", Running: true})
	d.ResetCalls()
	if err := stopRun(context.Background(), &StopOptions{IO: f.IO, Docker: docker, Names: []string{"a"}}); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(d.Calls(), ","); strings.Count(got, "stop ") != 2 || strings.Count(got, "remove ") != 2 {
		t.Errorf("stop a with two containers: calls %v, want two stops and two removes", d.Calls())
	}
	list = list[:2]
	// --all stops and removes every model container (tested here, with a fake:
	// on the real engine it would stop the other scripts' models too)
	d.ResetCalls()
	if err := stopRun(context.Background(), &StopOptions{IO: f.IO, Docker: docker, All: true}); err != nil {
		t.Fatal(err)
	}
	stops, removes := 0, 0
	for _, c := range d.Calls() {
		if strings.HasPrefix(c, "stop ") {
			stops++
		}
		if strings.HasPrefix(c, "remove ") {
			removes++
		}
	}
	if stops != 2 || removes != 2 {
		t.Errorf("stop --all: calls %v", d.Calls())
	}
}
