package report

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/modelhub-ai/modelhub/internal/predict"
)

// writeNPY writes a uint8 .npy file of shape.
func writeNPY(t testing.TB, p string, shape []int, data []byte) {
	t.Helper()
	var dims []string
	for _, d := range shape {
		dims = append(dims, fmt.Sprint(d))
	}
	tuple := strings.Join(dims, ", ")
	if len(shape) == 1 {
		tuple += ","
	}
	h := fmt.Sprintf("{'descr': '|u1', 'fortran_order': False, 'shape': (%s), }", tuple)
	for (10+len(h)+1)%64 != 0 {
		h += " "
	}
	h += "\n"
	b := append([]byte("\x93NUMPY\x01\x00"), 0, 0)
	binary.LittleEndian.PutUint16(b[8:], uint16(len(h)))
	b = append(b, h...)
	b = append(b, data...)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// writeGradient writes a w×h PNG, grey levels rising to the right, with a
// brighter disc where the "lesion" is.
func writeGradient(t testing.TB, p string, w, h, shift int) {
	t.Helper()
	img := image.NewGray(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			v := 40 + (x*150)/w
			dx, dy := x-(w/2+shift%(w/4+1)), y-h/2
			if dx*dx+dy*dy < (w*w)/36 {
				v = 230
			}
			img.SetGray(x, y, color.Gray{Y: uint8(v)})
		}
	}
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := png.Encode(f, img); err != nil {
		t.Fatal(err)
	}
	f.Close()
}

// line is a results.jsonl line.
type line map[string]any

// cohort writes an output folder like predict's for n 2-D cases (inputs
// under in/, a label_list and a .npy mask of the bright disc each; every
// 7th failed; the first's mask blank), one volume case with a 3-D mask and,
// when h5 is true, one case whose mask is an .h5 written by h5py
// (ndarray's committed fixture). It returns the folder.
func cohort(t testing.TB, n int, h5 bool) string {
	t.Helper()
	root := t.TempDir()
	in, out := filepath.Join(root, "in"), filepath.Join(root, "out")
	for _, d := range []string{in, out} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	var lines []line
	t0 := time.Date(2026, 12, 7, 3, 0, 0, 0, time.UTC)
	const w, h = 48, 40
	for i := range n {
		name := fmt.Sprintf("case%04d.png", i)
		if i == 2 {
			name = `<img src=x onerror=alert(1)>"'&.png`
		}
		src := filepath.Join(in, fmt.Sprintf("in%04d.png", i))
		writeGradient(t, src, w, h, i)
		l := line{"input": name, "source": src, "sha256": fmt.Sprintf("%064x", i), "latency_ms": float64(10 + i%50), "time": t0.Add(time.Duration(i) * time.Second).Format(time.RFC3339), "run": "R1"}
		if i%7 == 6 {
			l["status"], l["error"] = "failed", fmt.Sprintf("the model answered: <b>bad</b> input %d", i)
			lines = append(lines, l)
			continue
		}
		folder := strings.TrimSuffix(fmt.Sprintf("case%04d", i), ".png")
		if err := os.MkdirAll(filepath.Join(out, folder), 0o755); err != nil {
			t.Fatal(err)
		}
		mask := make([]byte, w*h)
		if i != 0 {
			for y := range h {
				for x := range w {
					dx, dy := x-(w/2+i%(w/4+1)), y-h/2
					if dx*dx+dy*dy < (w*w)/36 {
						mask[y*w+x] = 1
					}
				}
			}
		}
		writeNPY(t, filepath.Join(out, folder, "mask.npy"), []int{h, w}, mask)
		p := float64((i*37)%100) / 100
		label := []string{"cat", "dog", "<script>alert(1)</script>"}[i%3]
		l["status"], l["folder"] = "ok", folder
		l["output"] = map[string]any{"output": []any{
			map[string]any{"type": "label_list", "name": "labels", "prediction": []any{
				map[string]any{"label": label, "probability": p}, map[string]any{"label": "other", "probability": 1 - p}}},
			map[string]any{"type": "mask_image", "name": "mask", "shape": []int{h, w}, "prediction": fmt.Sprintf("http://127.0.0.1:1/api/output/m%d.npy", i)},
		}}
		l["saved"] = []any{map[string]any{"output": "mask", "url": fmt.Sprintf("http://127.0.0.1:2/api/output/m%d.npy", i), "path": folder + "/mask.npy"}}
		if i == 3 { // a heatmap too: a horizontal ramp
			heat := make([]byte, w*h)
			for j := range heat {
				heat[j] = uint8(j % w * 5)
			}
			writeNPY(t, filepath.Join(out, folder, "saliency.npy"), []int{h, w}, heat)
			outs := l["output"].(map[string]any)["output"].([]any)
			l["output"].(map[string]any)["output"] = append(outs, map[string]any{"type": "heatmap", "name": "saliency", "shape": []int{h, w}, "prediction": "http://127.0.0.1:1/api/output/s3.npy"})
			l["saved"] = append(l["saved"].([]any), map[string]any{"output": "saliency", "url": "http://127.0.0.1:2/api/output/s3.npy", "path": folder + "/saliency.npy"})
		}
		lines = append(lines, l)
	}
	// a volume: input and mask [z, y, x]
	const Z, Y, X = 9, 20, 24
	vol, vmask := make([]byte, Z*Y*X), make([]byte, Z*Y*X)
	for z := range Z {
		for y := range Y {
			for x := range X {
				i := (z*Y+y)*X + x
				vol[i] = uint8(20 + 8*z + 4*y)
				if (x-12)*(x-12)+(y-10)*(y-10)+(z-4)*(z-4)*4 < 30 {
					vmask[i] = 2
				}
			}
		}
	}
	writeNPY(t, filepath.Join(in, "volume.npy"), []int{Z, Y, X}, vol)
	if err := os.MkdirAll(filepath.Join(out, "volume"), 0o755); err != nil {
		t.Fatal(err)
	}
	writeNPY(t, filepath.Join(out, "volume", "Segmentation.npy"), []int{Z, Y, X}, vmask)
	lines = append(lines, line{"input": "volume.npy", "source": filepath.Join(in, "volume.npy"), "sha256": "v", "status": "ok", "latency_ms": 900.0, "time": t0.Format(time.RFC3339), "folder": "volume",
		"output": map[string]any{"output": []any{map[string]any{"type": "mask_image", "name": "Segmentation", "shape": []int{Z, Y, X}, "prediction": "http://h/api/output/v.npy"}}},
		"saved":  []any{map[string]any{"output": "Segmentation", "url": "http://h/api/output/v.npy", "path": "volume/Segmentation.npy"}}})
	if h5 {
		// the engine's own format: a 6×5 uint8 mask written by h5py over a 5×6 input
		data, err := os.ReadFile("../ndarray/testdata/mask_contiguous.h5")
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Join(out, "h5case"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(out, "h5case", "Segmentation.h5"), data, 0o644); err != nil {
			t.Fatal(err)
		}
		writeGradient(t, filepath.Join(in, "h5case.png"), 5, 6, 0)
		lines = append(lines, line{"input": "h5case.png", "source": filepath.Join(in, "h5case.png"), "sha256": "h", "status": "ok", "latency_ms": 5.0, "time": t0.Format(time.RFC3339), "folder": "h5case",
			"output": map[string]any{"output": []any{map[string]any{"type": "mask_image", "name": "Segmentation", "shape": []int{6, 5}, "prediction": "http://h/api/output/x.h5"}}},
			"saved":  []any{map[string]any{"output": "Segmentation", "url": "http://h/api/output/x.h5", "path": "h5case/Segmentation.h5"}}})
	}
	f, err := os.Create(filepath.Join(out, predict.ResultsFile))
	if err != nil {
		t.Fatal(err)
	}
	enc := json.NewEncoder(f)
	for _, l := range lines {
		if err := enc.Encode(l); err != nil {
			t.Fatal(err)
		}
	}
	f.Close()
	return out
}
