package cli

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"math/rand"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/modelhub-ai/modelhub/internal/dicom/dicomtest"
	"github.com/modelhub-ai/modelhub/internal/nifti"
)

func init() {
	scriptCmds["dicom-series"] = cmdDICOMSeries
	scriptCmds["no-patient-data"] = cmdNoPatientData
	scriptCmds["nifti-info"] = cmdNIfTIInfo
}

// dicom-series DIR STUDY SERIES SLICES [key=value | flag ...] writes a synthetic
// series with planted patient data into DIR (files named by a shuffled counter, no
// extension). Keys: desc, modality, ts (explicit, implicit, big, deflated,
// jpegll, jpegll70), rows, cols, spacing, intercept, orient (axial, coronal,
// sagittal, colflip, oblique), number, value (every stored value). Flags: dup (a duplicate slice), uneven (the
// last gap 1.5x), nogeom (no position/orientation).
func cmdDICOMSeries(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) < 4 {
		ts.Fatalf("usage: dicom-series DIR STUDY SERIES SLICES [key=value ...]")
	}
	n, err := strconv.Atoi(args[3])
	ts.Check(err)
	s := dicomtest.Series{StudyUID: args[1], SeriesUID: args[2], Slices: n, Rows: 8, Columns: 6,
		SliceSpacing: 2, PixelSpacing: [2]float64{0.8, 0.7}, Origin: [3]float64{-20, 10, 50},
		RescaleSlope: 1, RescaleIntercept: -1024, Signed: true, Modality: "CT", SeriesNumber: 1,
		WindowCenter: 40, WindowWidth: 400}
	var dup, uneven, nogeom bool
	syntaxes := map[string]string{"explicit": dicomtest.ExplicitLE, "implicit": dicomtest.ImplicitLE, "big": dicomtest.ExplicitBE,
		"deflated": dicomtest.Deflated, "jpegll": dicomtest.JPEGLL14, "jpegll70": dicomtest.JPEGLLSV1}
	for _, a := range args[4:] {
		k, v, _ := strings.Cut(a, "=")
		num := func() int {
			x, err := strconv.Atoi(v)
			ts.Check(err)
			return x
		}
		switch k {
		case "desc":
			s.Description = v
		case "modality":
			s.Modality = v
		case "ts":
			s.TransferSyntax = syntaxes[v]
			if s.TransferSyntax == "" {
				ts.Fatalf("unknown ts %s", v)
			}
		case "rows":
			s.Rows = num()
		case "cols":
			s.Columns = num()
		case "spacing":
			f, err := strconv.ParseFloat(v, 64)
			ts.Check(err)
			s.SliceSpacing = f
		case "intercept":
			s.RescaleIntercept = float64(num())
		case "number":
			s.SeriesNumber = num()
		case "value":
			x := num()
			s.Value = func(i, j, k int) int { return x }
		case "orient":
			s.Orientation = map[string][6]float64{"axial": {1, 0, 0, 0, 1, 0}, "coronal": {1, 0, 0, 0, 0, -1},
				"sagittal": {0, 1, 0, 0, 0, -1}, "colflip": {1, 0, 0, 0, -1, 0}, "oblique": {0.8, 0.6, 0, 0, 0, -1}}[v]
		case "dup":
			dup = true
		case "uneven":
			uneven = true
		case "nogeom":
			nogeom = true
		default:
			ts.Fatalf("unknown option %s", a)
		}
	}
	ims := s.Images()
	if uneven {
		last := &ims[len(ims)-1]
		nrm := dicomtest.Normal(s.Orientation)
		if s.Orientation == [6]float64{} {
			nrm = [3]float64{0, 0, 1}
		}
		for i := range last.Position {
			last.Position[i] += nrm[i] * s.SliceSpacing / 2
		}
	}
	if dup {
		d := ims[len(ims)/2]
		d.Instance = 1000
		ims = append(ims, d)
	}
	dir := ts.MkAbs(args[0])
	r := rand.New(rand.NewSource(int64(len(args[2]))))
	for i, j := range r.Perm(len(ims)) {
		im := ims[j]
		im.NoGeometry = nogeom
		ts.Check(dicomtest.WriteFile(filepath.Join(dir, fmt.Sprintf("%s_%03d", lastPart(args[2]), i)), im))
	}
}

func lastPart(uid string) string { return uid[strings.LastIndex(uid, ".")+1:] }

// no-patient-data PATH... fails if a planted patient value appears in any file
// name or content (gzip files are read decompressed) under the paths.
func cmdNoPatientData(ts *testscript.TestScript, neg bool, args []string) {
	planted := []string{dicomtest.PatientName, dicomtest.PatientID, dicomtest.PatientBirthDate, "SECRET", "PLANTED", "90210"}
	checked := 0
	for _, a := range args {
		ts.Check(filepath.Walk(ts.MkAbs(a), func(p string, fi os.FileInfo, err error) error {
			if err != nil {
				return err
			}
			for _, v := range planted {
				if strings.Contains(fi.Name(), v) {
					ts.Fatalf("patient data %q in file name %s", v, p)
				}
			}
			if fi.IsDir() {
				return nil
			}
			if strings.HasSuffix(p, ".seg.dcm") {
				return nil // the one exception: a SEG carries its study's patient module (seg-info checks it)
			}
			b, err := os.ReadFile(p)
			ts.Check(err)
			if len(b) > 2 && b[0] == 0x1f && b[1] == 0x8b {
				zr, err := gzip.NewReader(bytes.NewReader(b))
				ts.Check(err)
				b, err = io.ReadAll(zr)
				ts.Check(err)
			}
			for _, v := range planted {
				if bytes.Contains(b, []byte(v)) {
					ts.Fatalf("patient data %q in %s", v, p)
				}
			}
			checked++
			return nil
		}))
	}
	if checked == 0 {
		ts.Fatalf("no files checked")
	}
}

// nifti-info FILE prints dims, datatype, scaling and the affine's translation.
func cmdNIfTIInfo(ts *testscript.TestScript, neg bool, args []string) {
	m, err := filepath.Glob(ts.MkAbs(args[0]))
	ts.Check(err)
	if len(m) != 1 {
		ts.Fatalf("nifti-info: %d files match %s", len(m), args[0])
	}
	im, err := nifti.ReadFile(m[0])
	ts.Check(err)
	a := im.Affine
	for i := range a {
		for j := range a[i] {
			a[i][j] += 0 // print -0 as 0
		}
	}
	fmt.Fprintf(ts.Stdout(), "dims %dx%dx%d datatype %d slope %g inter %g qform %d sform %d\n", im.Dims[0], im.Dims[1], im.Dims[2], im.Datatype, im.Slope, im.Inter, im.QformCode, im.SformCode)
	fmt.Fprintf(ts.Stdout(), "affine %.3f %.3f %.3f %.3f / %.3f %.3f %.3f %.3f / %.3f %.3f %.3f %.3f\n",
		a[0][0], a[0][1], a[0][2], a[0][3], a[1][0], a[1][1], a[1][2], a[1][3], a[2][0], a[2][1], a[2][2], a[2][3])
}
