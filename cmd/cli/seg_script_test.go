package cli

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/modelhub-ai/modelhub/internal/dicom"
	"github.com/modelhub-ai/modelhub/internal/dicom/dicomtest"
	"github.com/modelhub-ai/modelhub/internal/dicomseg"
	"github.com/modelhub-ai/modelhub/internal/nifti"
)

func init() {
	scriptCmds["mask-engine"] = cmdMaskEngine
	scriptCmds["seg-info"] = cmdSEGInfo
}

// mask-engine [MODE] serves a NIfTI mask model's REST API on 127.0.0.1 (its
// URL in $ENGINE_URL), as the modelhub engine does for a model with one
// volume key "image": predict takes the case JSON, reads the NIfTI at the
// fileurl (predict --engine gives local paths) and answers a mask_image
// "mask" of the voxels above -500 (real values) as a .npy file under
// /api/output/. MODE: zyx (the engine's SimpleITK order, default), xyz (the
// array transposed), shape (one slice too few), float (probabilities 0.3).
func cmdMaskEngine(ts *testscript.TestScript, neg bool, args []string) {
	mode := "zyx"
	if len(args) == 1 {
		mode = args[0]
	}
	outputs := map[string][]byte{}
	n := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/api/get_config":
			fmt.Fprint(w, `{"model": {"io": {"input": {"format": ["application/json"], "image": {"format": ["application/nii-gzip"]}}, "output": [{"name": "mask", "type": "mask_image"}]}}}`)
		case "/api/predict":
			f, _, err := r.FormFile("file")
			if err != nil {
				http.Error(w, err.Error(), 400)
				return
			}
			var doc struct {
				Image struct {
					FileURL string `json:"fileurl"`
				} `json:"image"`
			}
			data, _ := io.ReadAll(f)
			if err := json.Unmarshal(data, &doc); err != nil {
				fmt.Fprintf(w, `{"error": %q}`, err.Error())
				return
			}
			im, err := nifti.ReadFile(doc.Image.FileURL)
			if err != nil {
				fmt.Fprintf(w, `{"error": %q}`, err.Error())
				return
			}
			npy, shape := maskNPY(im, mode)
			n++
			name := fmt.Sprintf("mask%d.npy", n)
			outputs["/api/output/"+name] = npy
			json.NewEncoder(w).Encode(map[string]any{"output": []any{map[string]any{"name": "mask", "type": "mask_image", "shape": shape,
				"prediction": "http://" + r.Host + "/api/output/" + name}}})
		default:
			if b, ok := outputs[r.URL.Path]; ok {
				w.Write(b)
				return
			}
			http.NotFound(w, r)
		}
	}))
	ts.Defer(srv.Close)
	ts.Setenv("ENGINE_URL", srv.URL)
}

// maskNPY thresholds a NIfTI volume at -500 into a .npy array.
func maskNPY(im *nifti.Image, mode string) ([]byte, []int) {
	nx, ny, nz := im.Dims[0], im.Dims[1], im.Dims[2]
	slope, inter := im.Slope, im.Inter
	if slope == 0 {
		slope, inter = 1, 0
	}
	val := func(i int) float64 {
		switch im.Datatype {
		case nifti.DTInt16:
			return float64(int16(binary.LittleEndian.Uint16(im.Data[2*i:])))*slope + inter
		case nifti.DTUint16:
			return float64(binary.LittleEndian.Uint16(im.Data[2*i:]))*slope + inter
		case nifti.DTFloat32:
			return float64(math.Float32frombits(binary.LittleEndian.Uint32(im.Data[4*i:])))*slope + inter
		}
		return float64(im.Data[i])*slope + inter
	}
	shape := []int{nz, ny, nx}
	dtype := "|u1"
	size := 1
	if mode == "float" {
		dtype, size = "<f4", 4
	}
	if mode == "xyz" {
		shape = []int{nx, ny, nz}
	}
	if mode == "shape" {
		shape = []int{nz - 1, ny, nx}
	}
	count := shape[0] * shape[1] * shape[2]
	data := make([]byte, count*size)
	for z := 0; z < nz; z++ {
		for y := 0; y < ny; y++ {
			for x := 0; x < nx; x++ {
				v := 0.0
				if val((z*ny+y)*nx+x) > -500 {
					v = 1
					if mode == "float" {
						v = 0.3
					}
				}
				var i int
				switch mode {
				case "xyz":
					i = (x*ny+y)*nz + z
				case "shape":
					if z == nz-1 {
						continue
					}
					i = (z*ny+y)*nx + x
				default:
					i = (z*ny+y)*nx + x
				}
				if size == 4 {
					binary.LittleEndian.PutUint32(data[4*i:], math.Float32bits(float32(v)))
				} else {
					data[i] = byte(v)
				}
			}
		}
	}
	dims := make([]string, len(shape))
	for i, s := range shape {
		dims[i] = fmt.Sprint(s)
	}
	header := fmt.Sprintf("{'descr': '%s', 'fortran_order': False, 'shape': (%s), }", dtype, strings.Join(dims, ", "))
	for (10+len(header)+1)%64 != 0 {
		header += " "
	}
	header += "\n"
	var b bytes.Buffer
	b.WriteString("\x93NUMPY\x01\x00")
	binary.Write(&b, binary.LittleEndian, uint16(len(header)))
	b.WriteString(header)
	b.Write(data)
	return b.Bytes(), shape
}

// seg-info FILE prints what a SEG holds, read with modelhub's own parsers:
// its SOP class, frames, segments (number, label, type code), the series it
// references and how many of its images, each frame's source image and
// whether its position is that image's, and whether the planted patient
// data was copied.
func cmdSEGInfo(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: seg-info FILE SOURCE_DIR")
	}
	data, err := os.ReadFile(ts.MkAbs(args[0]))
	ts.Check(err)
	_, ds, err := dicomseg.Parse(data)
	ts.Check(err)
	rd, err := dicom.ReadHeader(bytes.NewReader(data))
	ts.Check(err)
	h := rd.Header()
	// the source images by SOP instance UID
	res, err := dicom.Scan(context.Background(), []string{ts.MkAbs(args[1])})
	ts.Check(err)
	pos := map[string][3]float64{}
	for _, s := range res.Series {
		for _, f := range s.Files {
			pos[f.Header.SOPInstanceUID] = f.Header.ImagePositionPatient
		}
	}
	get := func(d dicomseg.Dataset, g, e uint16) dicomseg.Element {
		el, _ := d.Get(dicomseg.T(g, e))
		return el
	}
	fmt.Fprintf(ts.Stdout(), "sop class %s modality %s frames %d rows %d columns %d bits %d\n", h.SOPClassUID, h.Modality, h.NumberOfFrames, h.Rows, h.Columns, h.BitsAllocated)
	fmt.Fprintf(ts.Stdout(), "series description %q\n", get(ds, 0x0008, 0x103E).Str())
	for _, it := range get(ds, 0x0062, 0x0002).Items {
		typ := get(it, 0x0062, 0x000F)
		fmt.Fprintf(ts.Stdout(), "segment %d %q type %s\n", get(it, 0x0062, 0x0004).U16(), get(it, 0x0062, 0x0005).Str(), get(typ.Items[0], 0x0008, 0x0104).Str())
	}
	for _, it := range get(ds, 0x0008, 0x1115).Items {
		fmt.Fprintf(ts.Stdout(), "references series %s: %d images\n", get(it, 0x0020, 0x000E).Str(), len(get(it, 0x0008, 0x114A).Items))
	}
	same := 0
	for _, it := range get(ds, 0x5200, 0x9230).Items {
		src := get(get(get(it, 0x0008, 0x9124).Items[0], 0x0008, 0x2112).Items[0], 0x0008, 0x1155).Str()
		p, _ := get(get(it, 0x0020, 0x9113).Items[0], 0x0020, 0x0032).Floats()
		want, ok := pos[src]
		if ok && len(p) == 3 && math.Abs(p[0]-want[0]) < 1e-6 && math.Abs(p[1]-want[1]) < 1e-6 && math.Abs(p[2]-want[2]) < 1e-6 {
			same++
		}
	}
	fmt.Fprintf(ts.Stdout(), "frames at their source image's position: %d\n", same)
	sw := get(ds, 0x0018, 0xA001)
	if len(sw.Items) > 0 {
		fmt.Fprintf(ts.Stdout(), "contributing equipment %s %s\n", get(sw.Items[0], 0x0008, 0x0070).Str(), get(sw.Items[0], 0x0018, 0x1020).Str())
	}
	if get(ds, 0x0010, 0x0010).Str() == dicomtest.PatientName && get(ds, 0x0010, 0x0020).Str() == dicomtest.PatientID {
		fmt.Fprintln(ts.Stdout(), "patient module copied")
	}
}
