package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// testFactory is a Factory over in-memory streams and an index file in a temp dir.
func listTestFactory(t *testing.T, index string, tty bool, width int) (*Factory, *bytes.Buffer, *bytes.Buffer) {
	t.Helper()
	dir := t.TempDir()
	p := filepath.Join(dir, "models.json")
	if err := os.WriteFile(p, []byte(index), 0o644); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	ios := &IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut, OutTTY: tty, ErrTTY: tty, TermWidth: width}
	f := NewFactory(ios, make(chan struct{}), make(chan struct{}))
	f.Opts.Index = p
	f.Opts.Home = filepath.Join(dir, "home")
	t.Setenv("MODELHUB_CACHE", filepath.Join(dir, "cache"))
	return f, &out, &errOut
}

func Test_NewCmdList_flags(t *testing.T) {
	for _, tc := range []struct {
		args    string
		want    ListOptions
		wantErr string
	}{
		{args: "", want: ListOptions{}},
		{args: "lung seg", want: ListOptions{Words: []string{"lung", "seg"}}},
		{args: "--backend onnx --gpu --json", want: ListOptions{Backend: "onnx", GPU: true, JSON: true}},
		{args: "--gpu=maybe", wantErr: "invalid argument"},
	} {
		f, _, _ := listTestFactory(t, "[]", false, 0)
		var got *ListOptions
		cmd := NewCmdList(f, func(_ context.Context, o *ListOptions) error { got = o; return nil })
		cmd.SetArgs(strings.Fields(tc.args))
		cmd.SetOut(&bytes.Buffer{})
		cmd.SetErr(&bytes.Buffer{})
		err := cmd.Execute()
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("%q: error %v, want %q", tc.args, err, tc.wantErr)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%q: %v", tc.args, err)
		}
		if strings.Join(got.Words, " ") != strings.Join(tc.want.Words, " ") || got.Backend != tc.want.Backend || got.GPU != tc.want.GPU || got.JSON != tc.want.JSON {
			t.Errorf("%q: got %+v, want %+v", tc.args, got, tc.want)
		}
	}
}

const longIndex = `[{"id":"1","name":"short","task_extended":"A task whose description is far too long to fit in a narrow terminal window","github":"https://example.invalid/s","backend":["onnx"]}]`

func Test_listRun_tty(t *testing.T) {
	f, out, _ := listTestFactory(t, longIndex, true, 60)
	if err := listRun(context.Background(), &ListOptions{IO: f.IO, Factory: f}); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimRight(out.String(), "\n"), "\n")
	for _, l := range lines {
		if n := len([]rune(l)); n > 60 {
			t.Errorf("line of %d columns on a 60-column terminal: %q", n, l)
		}
	}
	if !strings.Contains(lines[1], "…") {
		t.Errorf("long task not cut with …: %q", lines[1])
	}
}

func Test_listRun_notTTY(t *testing.T) {
	f, out, _ := listTestFactory(t, longIndex, false, 0)
	if err := listRun(context.Background(), &ListOptions{IO: f.IO, Factory: f}); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out.String(), "…") || !strings.Contains(out.String(), "narrow terminal window") {
		t.Errorf("piped output must keep the whole task:\n%s", out)
	}
}
