// Package dicom checks modelhub's DICOM reading and NIfTI writing against tools
// no one here wrote: pydicom's test files and writer, dcm2niix (the reference
// converter), nibabel (the comparison in world space) and dcmtk (JPEG Lossless
// copies, RLE/JPEG-LS decompression). Without the tools the tests skip, saying
// which is missing; MODELHUB_REQUIRE_DICOM=1 (CI) turns that into a failure.
package dicom

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/modelhub-ai/modelhub/internal/dicom/dicomtest"
)

const (
	python       = "/usr/bin/python3"
	pydicomFiles = "/usr/lib/python3/dist-packages/pydicom/data/test_files"
)

var binPath string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "modelhub-dicom-conformance-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binPath = filepath.Join(dir, "modelhub")
	if out, err := exec.Command("go", "build", "-o", binPath, "../../cmd/modelhub").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build modelhub: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	if ctOnce.dir != "" {
		os.RemoveAll(ctOnce.dir)
	}
	os.Exit(code)
}

// need skips (or, with MODELHUB_REQUIRE_DICOM=1, fails) when a tool is missing.
func need(t *testing.T, tools ...string) {
	t.Helper()
	var missing []string
	for _, tool := range tools {
		switch tool {
		case "pydicom", "nibabel", "PIL":
			if !pythonImports(tool) {
				missing = append(missing, "python3-"+strings.ToLower(tool)+" ("+python+" -c 'import "+tool+"' fails)")
			}
		case "testfiles":
			if _, err := os.Stat(filepath.Join(pydicomFiles, "CT_small.dcm")); err != nil {
				missing = append(missing, "pydicom's test files ("+pydicomFiles+")")
			}
		default:
			if _, err := exec.LookPath(tool); err != nil {
				missing = append(missing, tool)
			}
		}
	}
	if len(missing) == 0 {
		return
	}
	msg := "missing " + strings.Join(missing, ", ") + ": apt-get install dcm2niix dcmtk python3-pydicom python3-nibabel python3-pil (see .ci/run)"
	if os.Getenv("MODELHUB_REQUIRE_DICOM") == "1" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// pythonImported caches, per module, whether python imports it: each check
// starts python (nibabel's import alone is about a second of CPU), and ten
// tests ask.
var pythonImported sync.Map // module -> func() bool

func pythonImports(module string) bool {
	f, _ := pythonImported.LoadOrStore(module, sync.OnceValue(func() bool {
		return exec.Command(python, "-c", "import "+module).Run() == nil
	}))
	return f.(func() bool)()
}

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

type entry struct {
	Series   string `json:"series_instance_uid"`
	Study    string `json:"study_instance_uid"`
	Modality string `json:"modality"`
	Slices   int    `json:"slices"`
	Output   string `json:"output"`
	Error    string `json:"error"`
	Skipped  string `json:"skipped"`
	Selected bool   `json:"selected"`
}

// convert runs modelhub convert --json and returns its entries (it may fail when
// no series converts; the entries still say why).
func convert(t *testing.T, out string, args ...string) []entry {
	t.Helper()
	cmd := exec.Command(binPath, append([]string{"convert", "--json", "-o", out}, args...)...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	b, _ := cmd.Output()
	var es []entry
	if err := json.Unmarshal(b, &es); err != nil {
		t.Fatalf("convert %v: %v\nstdout %s\nstderr %s", args, err, b, stderr.String())
	}
	for _, v := range dicomtest.Planted {
		if dicomtest.HasPlanted(string(b)+stderr.String(), v) {
			t.Fatalf("patient data %q in the output of convert", v)
		}
	}
	return es
}

// dcm2niix converts dir with the reference tool, files named by SeriesInstanceUID.
func dcm2niix(t *testing.T, in, out string) {
	t.Helper()
	os.MkdirAll(out, 0o755)
	run(t, "dcm2niix", "-z", "y", "-f", "%j", "-o", out, in)
}

func same(t *testing.T, ours, ref string) {
	t.Helper()
	out, err := exec.Command(python, "testdata/compare.py", ours, ref).CombinedOutput()
	if err != nil {
		t.Fatalf("%s vs %s: %s", filepath.Base(ours), filepath.Base(ref), out)
	}
}

func TestSyntheticSeriesMatchDcm2niix(t *testing.T) {
	t.Parallel() // its own folders: the tools of several tests run at once
	need(t, "pydicom", "nibabel", "dcm2niix")
	for _, c := range []string{"oblique", "colflip", "aniso", "intercept", "shuffled", "mixed"} {
		t.Run(c, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			in := filepath.Join(dir, "in")
			run(t, python, "testdata/make_series.py", in, c)
			es := convert(t, filepath.Join(dir, "ours"), in)
			dcm2niix(t, in, filepath.Join(dir, "ref"))
			want := 1
			if c == "mixed" {
				want = 2
			}
			if len(es) != want {
				t.Fatalf("%d series, want %d: %+v", len(es), want, es)
			}
			for _, e := range es {
				if e.Error != "" || e.Output == "" {
					t.Fatalf("%+v", e)
				}
				same(t, e.Output, filepath.Join(dir, "ref", e.Series+".nii.gz"))
				assertNoPatientData(t, e.Output)
			}
		})
	}
}

func TestSyntheticBadSeriesRefused(t *testing.T) {
	t.Parallel() // its own folders: the tools of several tests run at once
	need(t, "pydicom")
	for c, want := range map[string]string{
		"duplicate": "duplicate slice position 84.000 mm along the normal (2 files there",
		"uneven":    "uneven slice spacing: gaps from 2.000 to 3.000 mm (differ by 1.000 mm)",
	} {
		t.Run(c, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			run(t, python, "testdata/make_series.py", filepath.Join(dir, "in"), c)
			es := convert(t, filepath.Join(dir, "ours"), filepath.Join(dir, "in"))
			if len(es) != 1 || !strings.Contains(es[0].Error, want) || es[0].Output != "" {
				t.Fatalf("%+v, want error %q", es, want)
			}
		})
	}
}

// JPEG Lossless copies (dcmcjpeg: process 14 SV1, and process 14 with predictor 6
// and 7) convert to the same voxels and geometry as the uncompressed series.
func TestJPEGLosslessCopies(t *testing.T) {
	t.Parallel() // its own folders: the tools of several tests run at once
	need(t, "pydicom", "nibabel", "dcmcjpeg")
	for _, c := range []string{"intercept", "oblique"} {
		dir := t.TempDir()
		in := filepath.Join(dir, "in")
		run(t, python, "testdata/make_series.py", in, c)
		plain := convert(t, filepath.Join(dir, "plain"), in)
		for name, opts := range map[string][]string{"sv1": {"+e1"}, "p14sv6": {"+el", "+sv", "6"}, "p14sv7": {"+el", "+sv", "7"}} {
			jdir := filepath.Join(dir, name)
			os.MkdirAll(jdir, 0o755)
			files, _ := filepath.Glob(filepath.Join(in, "*"))
			for _, f := range files {
				run(t, "dcmcjpeg", append(opts, f, filepath.Join(jdir, filepath.Base(f)))...)
			}
			ts := run(t, "dcmdump", "+P", "0002,0010", filepath.Join(jdir, filepath.Base(files[0])))
			if !strings.Contains(ts, "=JPEGLossless") {
				t.Fatalf("dcmcjpeg %v made %s", opts, ts)
			}
			es := convert(t, filepath.Join(dir, name+"-out"), jdir)
			if len(es) != 1 || es[0].Error != "" {
				t.Fatalf("%s %s: %+v", c, name, es)
			}
			same(t, es[0].Output, plain[0].Output)
		}
	}
}

// pydicom's own test files, one at a time: the native ones match dcm2niix; the
// compressed ones modelhub does not decode name the dcmtk command, and after that
// command they match the uncompressed MR_small.
func TestPydicomFiles(t *testing.T) {
	t.Parallel() // its own folders: the tools of several tests run at once
	need(t, "testfiles", "nibabel", "dcm2niix", "dcmdrle", "dcmdjpls")
	single := func(t *testing.T, name string) (string, entry) {
		dir := t.TempDir()
		in := filepath.Join(dir, "in")
		os.MkdirAll(in, 0o755)
		b, err := os.ReadFile(filepath.Join(pydicomFiles, name))
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(in, name), b, 0o644)
		es := convert(t, filepath.Join(dir, "ours"), in)
		if len(es) != 1 {
			t.Fatalf("%s: %d series", name, len(es))
		}
		return dir, es[0]
	}
	mrSmall := filepath.Join(t.TempDir(), "mr_small.nii.gz")
	for _, name := range []string{"MR_small.dcm", "CT_small.dcm", "MR_small_bigendian.dcm", "MR_small_implicit.dcm", "MR_small_expb.dcm", "MR_small_padded.dcm"} {
		t.Run(name, func(t *testing.T) {
			dir, e := single(t, name)
			if e.Error != "" {
				t.Fatalf("%+v", e)
			}
			out, err := exec.Command(python, "testdata/compare_pydicom.py", filepath.Join(pydicomFiles, name), e.Output).CombinedOutput()
			if err != nil {
				t.Fatalf("against pydicom: %s", out)
			}
			dcm2niix(t, filepath.Join(dir, "in"), filepath.Join(dir, "ref"))
			same(t, e.Output, filepath.Join(dir, "ref", e.Series+".nii.gz"))
			if name == "MR_small.dcm" {
				b, _ := os.ReadFile(e.Output)
				os.WriteFile(mrSmall, b, 0o644)
			}
		})
	}
	// deflated: a 2D image without geometry (and dcm2niix does not read deflated
	// files): its PNG through the identity window is pydicom's pixel array
	t.Run("image_dfl.dcm", func(t *testing.T) {
		need(t, "PIL")
		out := t.TempDir()
		es := convert(t, out, "--to", "png", "--window", "128,256", filepath.Join(pydicomFiles, "image_dfl.dcm"))
		if len(es) != 1 || es[0].Error != "" {
			t.Fatalf("%+v", es)
		}
		run(t, python, "testdata/compare_png.py", filepath.Join(pydicomFiles, "image_dfl.dcm"), es[0].Output)
	})
	for name, tool := range map[string]string{"MR_small_RLE.dcm": "dcmdrle", "MR_small_jpeg_ls_lossless.dcm": "dcmdjpls", "MR_small_jp2klossless.dcm": "gdcmconv --raw"} {
		t.Run(name, func(t *testing.T) {
			dir, e := single(t, name)
			if e.Output != "" || !strings.Contains(e.Error, "`"+tool+" IN.dcm OUT.dcm`") {
				t.Fatalf("%+v, want an error naming %s", e, tool)
			}
			if strings.HasPrefix(tool, "gdcm") {
				return
			}
			out := filepath.Join(dir, "dec")
			os.MkdirAll(out, 0o755)
			run(t, tool, filepath.Join(dir, "in", name), filepath.Join(out, name))
			es := convert(t, filepath.Join(dir, "ours2"), out)
			if len(es) != 1 || es[0].Error != "" {
				t.Fatalf("after %s: %+v", tool, es)
			}
			same(t, es[0].Output, mrSmall)
		})
	}
}

// The dicomdirtests folder: DICOMDIRs ignored, several patients/studies/series;
// every series modelhub converts matches dcm2niix's.
func TestPydicomDICOMDIRFolder(t *testing.T) {
	t.Parallel() // its own folders: the tools of several tests run at once
	need(t, "testfiles", "nibabel", "dcm2niix")
	dir := t.TempDir()
	in := filepath.Join(pydicomFiles, "dicomdirtests")
	es := convert(t, filepath.Join(dir, "ours"), in)
	dcm2niix(t, in, filepath.Join(dir, "ref"))
	converted := 0
	for _, e := range es {
		if e.Output == "" {
			continue
		}
		ref := filepath.Join(dir, "ref", e.Series+".nii.gz")
		if _, err := os.Stat(ref); err != nil {
			t.Logf("series %s: dcm2niix wrote no %s (it splits or names some series otherwise)", e.Series, filepath.Base(ref))
			continue
		}
		shape := run(t, python, "-c", "import nibabel,sys; s=nibabel.load(sys.argv[1]).shape; print(s[2] if len(s) > 2 else 1)", ref)
		if strings.TrimSpace(shape) != fmt.Sprint(e.Slices) {
			// dcm2niix stacks images of one series UID even across orientations
			// (localizers); modelhub keeps each orientation apart
			t.Logf("series %s: dcm2niix stacked %s images, modelhub %d (split by orientation)", e.Series, strings.TrimSpace(shape), e.Slices)
			continue
		}
		same(t, e.Output, ref)
		converted++
	}
	if converted < 3 {
		t.Fatalf("only %d series compared: %+v", converted, es)
	}
}

func assertNoPatientData(t *testing.T, path string) {
	t.Helper()
	for _, v := range []string{"SECRET", "PLANTED", "90210"} {
		if strings.Contains(path, v) {
			t.Fatalf("patient data in %s", path)
		}
	}
	out, err := exec.Command(python, "-c", "import nibabel,sys; h=nibabel.load(sys.argv[1]).header; print(h['descrip'], h['aux_file'], h['intent_name'], h['db_name'])", path).CombinedOutput()
	if err != nil {
		t.Fatal(string(out))
	}
	for _, v := range []string{"SECRET", "PLANTED", "90210"} {
		if strings.Contains(string(out), v) {
			t.Fatalf("patient data in the NIfTI header: %s", out)
		}
	}
}
