package cli

import (
	"slices"
	"strings"
	"testing"

	"github.com/modelhub-ai/modelhub/internal/bundle"
)

func Test_NewCmdSave_flags(t *testing.T) {
	for _, tc := range []struct {
		args    string
		want    SaveOptions
		wantErr string
	}{
		{args: "demo", want: SaveOptions{Models: []string{"demo"}, Output: "demo.mhb", Compression: bundle.None}},
		{args: "a b -o two.mhb --json -f", want: SaveOptions{Models: []string{"a", "b"}, Output: "two.mhb", Compression: bundle.None, JSON: true, Force: true}},
		{args: "demo -o d.mhb.zst", want: SaveOptions{Models: []string{"demo"}, Output: "d.mhb.zst", Compression: bundle.Zstd}},
		{args: "demo -o d.tgz", want: SaveOptions{Models: []string{"demo"}, Output: "d.tgz", Compression: bundle.Gzip}},
		{args: "demo -o d.mhb.zst --compress none", want: SaveOptions{Models: []string{"demo"}, Output: "d.mhb.zst", Compression: bundle.None}},
		{args: "demo --compress GZIP", want: SaveOptions{Models: []string{"demo"}, Output: "demo.mhb", Compression: bundle.Gzip}},
		{args: "", wantErr: "needs at least one MODEL"},
		{args: "a b", wantErr: "saving several models needs -o FILE"},
		{args: "./folder", wantErr: "give -o FILE to save ./folder"},
		{args: "demo --compress xz", wantErr: `unknown compression "xz": want none, zstd or gzip`},
	} {
		got := flagCase(t, NewCmdSave, tc.args, tc.wantErr, true)
		if got == nil {
			continue
		}
		if !slices.Equal(got.Models, tc.want.Models) || got.Output != tc.want.Output || got.Compression != tc.want.Compression || got.JSON != tc.want.JSON || got.Force != tc.want.Force {
			t.Errorf("%q: got %+v, want %+v", tc.args, got, tc.want)
		}
	}
}

func Test_NewCmdLoad_flags(t *testing.T) {
	for _, tc := range []struct {
		args    string
		want    LoadOptions
		wantErr string
	}{
		{args: "b.mhb", want: LoadOptions{File: "b.mhb"}},
		{args: "--list --json b.mhb", want: LoadOptions{File: "b.mhb", List: true, JSON: true}},
		{args: "-f b.mhb", want: LoadOptions{File: "b.mhb", Force: true}},
		{args: "", wantErr: "needs one bundle FILE"},
		{args: "a b", wantErr: "takes one bundle FILE, got 2"},
		{args: "-l -f b.mhb", wantErr: "--force has no meaning"},
	} {
		got := flagCase(t, NewCmdLoad, tc.args, tc.wantErr, true)
		if got == nil {
			continue
		}
		if got.File != tc.want.File || got.List != tc.want.List || got.JSON != tc.want.JSON || got.Force != tc.want.Force {
			t.Errorf("%q: got %+v, want %+v", tc.args, got, tc.want)
		}
	}
}

func Test_bundleProgress(t *testing.T) {
	for _, tc := range []struct {
		name       string
		tty, quiet bool
		want       []string // substrings of stderr; none: empty
	}{
		{name: "tty", tty: true, want: []string{"writing", "\r", "reading", "copy done"}},
		{name: "tty quiet", tty: true, quiet: true},
		{name: "plain", want: []string{"copy done"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, _, errOut := testFactory(t, "[]", tc.tty, 80)
			f.IO.Quiet = tc.quiet
			bp := newBundleProgress(f.IO)
			bp.update(bundle.Progress{Phase: "writing", Done: 1 << 20, Total: 4 << 20})
			bp.update(bundle.Progress{Phase: "writing", Done: 8 << 20, Total: 4 << 20}) // past an estimate
			bp.update(bundle.Progress{Phase: "reading", Done: 1 << 20, Total: 2 << 20})
			bp.note("copy done")
			bp.close()
			got := errOut.String()
			if len(tc.want) == 0 && got != "" {
				t.Errorf("stderr = %q, want nothing", got)
			}
			for _, w := range tc.want {
				if !strings.Contains(got, w) {
					t.Errorf("stderr = %q, want %q in it", got, w)
				}
			}
			if !tc.tty && strings.Contains(got, "\r") {
				t.Errorf("a bar off a terminal: %q", got)
			}
		})
	}
}
