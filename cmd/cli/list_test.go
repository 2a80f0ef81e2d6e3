package cli

import (
	"context"
	"strings"
	"testing"
)

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
		got := flagCase(t, NewCmdList, tc.args, tc.wantErr, false)
		if got == nil {
			continue
		}
		if strings.Join(got.Words, " ") != strings.Join(tc.want.Words, " ") || got.Backend != tc.want.Backend || got.GPU != tc.want.GPU || got.JSON != tc.want.JSON {
			t.Errorf("%q: got %+v, want %+v", tc.args, got, tc.want)
		}
	}
}

const longIndex = `[{"id":"1","name":"short","task_extended":"A task whose description is far too long to fit in a narrow terminal window","github":"https://example.invalid/s","backend":["onnx"]}]`

func Test_listRun_tty(t *testing.T) {
	f, out, _ := testFactory(t, longIndex, true, 60)
	if err := listRun(context.Background(), &ListOptions{IO: f.IO, Index: f.Index, Paths: f.Paths}); err != nil {
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
	f, out, _ := testFactory(t, longIndex, false, 0)
	if err := listRun(context.Background(), &ListOptions{IO: f.IO, Index: f.Index, Paths: f.Paths}); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out.String(), "…") || !strings.Contains(out.String(), "narrow terminal window") {
		t.Errorf("piped output must keep the whole task:\n%s", out)
	}
}
