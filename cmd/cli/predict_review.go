package cli

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/modelhub-ai/modelhub/internal/ndarray"
	"github.com/modelhub-ai/modelhub/internal/predict"
	"github.com/modelhub-ai/modelhub/internal/report"
	"github.com/modelhub-ai/modelhub/internal/webui"
)

// writeReview writes the output folder's results.csv and report.html from
// its whole results.jsonl (every input of every run, the latest result of
// each), so a resumed or extended batch is reviewed as one cohort. given is
// -o as the user wrote it, for messages.
func writeReview(ctx context.Context, ios *IOStreams, given, dir, model string) error {
	// one record at a time into both: a folder of 10,000 inputs is not held
	csvw, err := predict.CreateCSV(dir)
	if err != nil {
		return fmt.Errorf("write %s: %w", filepath.Join(given, predict.CSVFile), err)
	}
	rep, err := report.NewBuilder(ctx, dir, report.Options{Model: model})
	if err != nil {
		csvw.Abort()
		return fmt.Errorf("write %s: %w", filepath.Join(given, report.File), err)
	}
	var werr error
	_, err = predict.EachRecord(dir, func(r *predict.Record) error {
		if err := csvw.Add(r); err != nil {
			werr = fmt.Errorf("write %s: %w", filepath.Join(given, predict.CSVFile), err)
			return werr
		}
		if err := rep.Add(r); err != nil {
			werr = fmt.Errorf("write %s: %w", filepath.Join(given, report.File), err)
			return werr
		}
		return nil
	})
	if err != nil {
		csvw.Abort()
		rep.Abort()
		if werr != nil {
			return werr
		}
		return fmt.Errorf("read %s: %w", filepath.Join(given, predict.ResultsFile), err)
	}
	if err := csvw.Close(); err != nil {
		rep.Abort()
		return fmt.Errorf("write %s: %w", filepath.Join(given, predict.CSVFile), err)
	}
	st, err := rep.Close()
	if err != nil {
		return fmt.Errorf("write %s: %w", filepath.Join(given, report.File), err)
	}
	ios.Notef("%d result(s) in %s and %s (%d drawn now)", st.Cases, filepath.Join(given, predict.CSVFile), filepath.Join(given, report.File), st.Rendered)
	return nil
}

// previewOutput is the web UI's PreviewFunc: modelhub draws an engine's
// output file (a mask, heatmap or image as .png, .h5 or .npy) for the page.
func previewOutput(ctx context.Context, path, kind string) (*webui.Preview, error) {
	pngs, names, blank, err := report.OutputPNG(path, kind, ndarray.Limits{})
	if err != nil {
		return nil, err
	}
	p := &webui.Preview{Blank: blank}
	for i := range pngs {
		p.Planes = append(p.Planes, webui.PreviewPlane{Name: names[i], PNG: pngs[i]})
	}
	return p, nil
}
