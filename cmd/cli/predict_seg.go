package cli

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/modelhub-ai/modelhub/internal/config"
	"github.com/modelhub-ai/modelhub/internal/dicomseg"
	"github.com/modelhub-ai/modelhub/internal/ndarray"
	"github.com/modelhub-ai/modelhub/internal/predict"
	"github.com/modelhub-ai/modelhub/internal/store"
)

// predictSEGFlags settles --seg and --labels: a flag given wins, else the
// settings file's predict.seg and predict.labels; the labels file is read
// now, so a bad one is a usage error before anything starts.
func predictSEGFlags(f *Factory, cmd *cobra.Command, opts *PredictOptions, seg bool) error {
	var st *config.Settings
	if f.Settings != nil {
		var err error
		if st, err = f.Settings(); err != nil {
			return err
		}
	} else {
		st = &config.Settings{}
	}
	opts.SEG = seg
	if !cmd.Flags().Changed("seg") && st.Predict.SEG && opts.OutDir != "" {
		opts.SEG = true
	}
	if opts.SEG && opts.OutDir == "" {
		return usageErrorf("--seg writes SEG files into the output folder: give -o DIR")
	}
	from := "--labels"
	if opts.Labels == "" && st.Predict.Labels != "" {
		opts.Labels, from = st.Predict.Labels, "predict.labels of "+st.Path
	}
	if opts.Labels == "" {
		return nil
	}
	data, err := os.ReadFile(opts.Labels)
	if err != nil {
		return usageErrorf("%s %s: %v", from, opts.Labels, err)
	}
	segs, err := dicomseg.ParseLabels(data)
	if err != nil {
		return usageErrorf("%s %s: %v", from, opts.Labels, err)
	}
	opts.LabelSegs = segs
	return nil
}

// maskOptions says what predict makes of the model's arrays (masks in the
// input's geometry, label statistics, SEGs).
func maskOptions(opts *PredictOptions, m *store.Model) (*predict.MaskOptions, error) {
	mo := &predict.MaskOptions{SEG: opts.SEG, Labels: opts.LabelSegs, Model: m.Name, Version: version(), Now: opts.Now,
		Limits: ndarray.Limits{}}
	if m.Manifest != nil {
		mo.Commit = m.Manifest.Commit
	}
	p := filepath.Join(m.Dir, "contrib_src", "model", "config.json")
	if data, err := os.ReadFile(p); err == nil {
		c, err := dicomseg.ConfigLabels(data)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		mo.Config = c
	}
	return mo, nil
}
