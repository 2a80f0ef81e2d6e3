package cli

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/modelhub-ai/modelhub/internal/config"
	"github.com/modelhub-ai/modelhub/internal/dicomweb"
	"github.com/modelhub-ai/modelhub/internal/humanize"
	"github.com/modelhub-ai/modelhub/internal/predict"
)

// predictPACSFlags checks --from, --study and --store: the study replaces
// the inputs, --store implies --seg (and so -o DIR).
func predictPACSFlags(f *Factory, cmd *cobra.Command, opts *PredictOptions, seg *bool) error {
	if opts.From == "" {
		switch {
		case opts.Study != "":
			return usageErrorf("--study names a study of a DICOMweb server: give its URL with --from URL")
		case opts.StorePACS:
			return usageErrorf("--store sends each SEG back to the DICOMweb server of --from URL --study UID")
		}
		return nil
	}
	if opts.Study == "" {
		return usageErrorf("--from %s needs --study UID: the study to fetch (modelhub pacs ls %s lists them)", dicomweb.Redact(opts.From), dicomweb.Redact(opts.From))
	}
	if !dicomweb.ValidUID(opts.Study) {
		return usageErrorf("--study %q: want a study instance UID (digits and dots, e.g. 1.2.840.113619.2.55.3)", opts.Study)
	}
	if len(opts.Args) > 0 || len(opts.Inputs) > 0 {
		return usageErrorf("--from takes the inputs from the DICOMweb server: give no files, folders or --input besides the model")
	}
	if opts.StorePACS {
		if opts.OutDir == "" {
			return usageErrorf("--store sends each case's SEG back, which is written into the output folder: give -o DIR")
		}
		if cmd.Flags().Changed("seg") && !*seg {
			return usageErrorf("--store sends the SEGs back: it needs --seg, not --seg=false")
		}
		*seg = true
	}
	c, err := pacsClient(f, opts.From)
	if err != nil {
		return err
	}
	opts.PACS = c
	return nil
}

// pacsFolder is where predict --from keeps the study: the cache's
// pacs/<host>/<study>, not the output folder, which must hold no patient
// data but the SEGs. A rerun finds the instances already fetched there.
func pacsFolder(opts *PredictOptions) (string, error) {
	cache, err := config.DefaultCache()
	if err != nil {
		return "", err
	}
	u, _ := url.Parse(opts.PACS.URL())
	host := strings.NewReplacer(":", "_", "/", "_", "\\", "_").Replace(u.Host)
	return filepath.Join(cache, "pacs", host, opts.Study), nil
}

// nonImage are modalities of series that are no input for a model: a SEG
// stored back by an earlier run, reports, presentation states, structure sets.
var nonImage = map[string]bool{"SEG": true, "SR": true, "PR": true, "KO": true, "RTSTRUCT": true, "RTPLAN": true, "RTDOSE": true, "REG": true, "DOC": true}

// fetchStudy fetches --study from --from into its folder (resuming) and
// makes that folder predict's input.
func fetchStudy(ctx context.Context, opts *PredictOptions) (*predict.PACSSource, error) {
	ios := opts.IO
	dir, err := pacsFolder(opts)
	if err != nil {
		return nil, err
	}
	c := opts.PACS
	ios.Notef("fetching study %s from %s into %s…", opts.Study, c.URL(), dir)
	start := time.Now()
	last := time.Now()
	got, err := c.FetchStudy(ctx, opts.Study, dir, dicomweb.FetchOptions{
		Skip: func(s dicomweb.Series) bool { return nonImage[strings.ToUpper(s.Modality)] },
		Progress: func(p dicomweb.Progress) {
			if time.Since(last) >= 5*time.Second {
				last = time.Now()
				ios.Notef("fetched %d of %d instance(s) (%s)", p.Done, p.Total, humanize.Bytes(p.Bytes))
			}
		},
	})
	if ctx.Err() != nil {
		ios.Notef("interrupted: rerun the same command to resume the fetch")
		return nil, ErrInterrupted
	}
	if err != nil {
		return nil, err
	}
	for _, s := range got.Skipped {
		ios.Notef("not fetched: series %s (%s %s), not an image series", safeLine(s.UID), safeLine(s.Modality), safeLine(s.Description))
	}
	secs := time.Since(start).Seconds()
	ios.Notef("study %s: %d instance(s) in %d series fetched now (%s in %.1fs), %d already on disk",
		opts.Study, got.Fetched, len(got.Series), humanize.Bytes(got.Bytes), secs, got.Present)
	opts.Args = []string{dir}
	return &predict.PACSSource{URL: c.URL(), Study: opts.Study, Folder: dir, Store: opts.StorePACS}, nil
}

// storePost wraps the Runner's Post: after a case's SEGs are written, they
// are sent to the study (STOW-RS) and what the server said of each goes
// into the result; a SEG refused (or a store that fails) fails the case.
func storePost(opts *PredictOptions, outDir string, post func(context.Context, *predict.Item, *predict.Result) error) func(context.Context, *predict.Item, *predict.Result) error {
	return func(ctx context.Context, it *predict.Item, res *predict.Result) error {
		if err := post(ctx, it, res); err != nil {
			return err
		}
		if len(res.SEG) == 0 {
			return errors.New("--store: no SEG was written for this case, so nothing was stored")
		}
		var files []string
		for _, rel := range res.SEG {
			files = append(files, filepath.Join(outDir, filepath.FromSlash(rel)))
		}
		stored, err := opts.PACS.Store(ctx, opts.Study, files)
		if err != nil {
			return fmt.Errorf("store the SEG in study %s: %w", opts.Study, err)
		}
		var refused []string
		for i, s := range stored {
			res.Stored = append(res.Stored, predict.StoredInstance{File: res.SEG[i], SOPInstanceUID: s.SOPInstanceUID, Accepted: s.Accepted, Reason: s.Reason})
			if !s.Accepted {
				refused = append(refused, fmt.Sprintf("%s (%s): %s", res.SEG[i], s.SOPInstanceUID, s.Reason))
			}
		}
		if len(refused) > 0 {
			return fmt.Errorf("the DICOMweb server %s refused the SEG %s; rerun to try again", opts.PACS.URL(), strings.Join(refused, "; "))
		}
		return nil
	}
}
