package cli

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/modelhub-ai/modelhub/internal/config"
	"github.com/modelhub-ai/modelhub/internal/dicom"
	"github.com/modelhub-ai/modelhub/internal/dicomseg"
	"github.com/modelhub-ai/modelhub/internal/dicomweb"
	"github.com/modelhub-ai/modelhub/internal/dockerrun"
	"github.com/modelhub-ai/modelhub/internal/humanize"
	"github.com/modelhub-ai/modelhub/internal/launch"
	"github.com/modelhub-ai/modelhub/internal/medconv"
	"github.com/modelhub-ai/modelhub/internal/predict"
	"github.com/modelhub-ai/modelhub/internal/store"
	"github.com/modelhub-ai/modelhub/internal/termsafe"
)

// PredictOptions are the inputs of `modelhub predict`.
type PredictOptions struct {
	IO     *IOStreams
	Store  func() (*store.Store, error)
	Docker func(ctx context.Context) (dockerrun.API, error)
	Forced <-chan struct{} // the second Ctrl-C: kill at once
	Now    func() time.Time

	Model        string
	Args         []string // files, folders, URLs, "-"
	Inputs       []predict.NamedPath
	OutDir       string
	JSON         bool
	Jobs         int
	InputTimeout time.Duration
	Force        bool
	KeepRunning  bool
	CPU          bool
	Timeout      time.Duration
	// Series and Window say which DICOM series become inputs and the window
	// of those converted to PNG.
	Series []string
	Window string
	// Match are --match NAME=RULES: the rules picking each input's series
	// in a case folder.
	Match map[string][]string
	// Engine is the base URL of a model already answering (--engine): no
	// container is started or looked for.
	Engine string
	// Shard, when Count > 1, keeps only that shard of the inputs (--shard I/N).
	Shard predict.Shard
	// Replicas is --replicas: "" (one engine, reused when running), "auto"
	// or a number of containers of the model fed from one queue.
	Replicas string
	// GPUs is --gpus (Docker's syntax); APIPort --api-port (0: any free port).
	GPUs    string
	APIPort int
	// Command is the command line, for provenance.json.
	Command []string
	// SEG writes a DICOM SEG per DICOM case (--seg, or the settings'
	// predict.seg); Labels is --labels FILE (or the settings' predict.labels).
	SEG    bool
	Labels string
	// LabelSegs are the labels FILE's segments.
	LabelSegs []dicomseg.Segment
	// From is --from URL, a DICOMweb server, and Study --study UID, the
	// study fetched from it as the inputs; StorePACS (--store) sends each
	// case's SEG back. PACS is the client for From.
	From, Study string
	StorePACS   bool
	PACS        *dicomweb.Client
}

// defaultPredictJobs is --jobs' default, from measurements (README,
// Performance): the real modelhub engine loses uploads when requests overlap
// (each prediction empties /working, where the others' uploads wait: 15 of 200
// inputs failed with 2 jobs, 35 with 4), so one at a time is the only safe
// default; the demo engine gains at most ~10% from 2 on 2 cores.
const defaultPredictJobs = 1

// NewCmdPredict builds `modelhub predict`.
func NewCmdPredict(f *Factory, runF func(context.Context, *PredictOptions) error) *cobra.Command {
	opts := &PredictOptions{IO: f.IO, Store: f.Store, Docker: f.Docker, Forced: f.Forced, Now: f.Now}
	var seg bool
	var inputs, match []string
	var shard string
	cmd := &cobra.Command{
		Use:   "predict MODEL [FILE|FOLDER|URL|-]...",
		Short: "Run a model on your files: one, a folder, or a whole cohort",
		Long: `Run MODEL on files, every accepted file of folders (recursively), URLs (the engine
fetches them) or the paths listed on standard input (-). A file is accepted when its
type is one the model's config.json declares (model.io.input.format); other files of a
folder are skipped and counted, a named file of another type is an error.

For a model with several named inputs (config.json lists application/json and the
inputs), give one case with --input NAME=PATH for each input, or folders: a folder
whose sub-folders are cases, or a case folder itself. A case's files are matched to
the inputs by their names (t1.nii.gz or BraTS_001_t1.nii.gz -> t1) or by a JSON in the
case folder like the model's sample.json. In a case folder of DICOM series, each input
takes the series whose description has the input's name as a word (t1 matches "AX T1
MPRAGE", not "T1C"), or the one --match NAME=RULES selects; an input with no series or
several fails its case, naming the candidates.

If the model already runs (modelhub run -d), predict uses it; otherwise it starts it
on a free port of 127.0.0.1 and stops and removes it at the end, also after an error or
Ctrl-C (unless --keep-running). With --engine URL it uses the model's engine answering
there instead and needs no Docker (the pods of deploy --job run it so); the engine must
see input files at the same paths as predict. With -o DIR, each result is appended to
DIR/results.jsonl as it comes, output files are downloaded into DIR/<input's stem>/,
DIR/provenance.json (and DIR/runs/, one file per run) records the model, image and
weights, and DIR/results.csv and DIR/report.html (open it in a browser: masks drawn
over their inputs) cover every input of the folder; rerunning the same command skips
the inputs already done (--force redoes them).

With -o DIR, a mask, heatmap or image array whose shape matches the input is also
written in the input's geometry: DIR/<case>/<output>.nii.gz with the input's affine (a
2D image: <output>.png and <output>.overlay.png), with each label's voxels, volume and
mean intensity in results.csv. With --seg, each mask of a DICOM case is also written as
a DICOM SEG, DIR/<case>/<output>.seg.dcm: the one output that carries the source's
patient data, since it goes back to the same study.`,
		Example: `  modelhub predict squeezenet cat.jpg dog.png
  modelhub predict squeezenet ./photos -o results/
  modelhub predict deepscan-brats --input t1=a.nii.gz --input t1c=b.nii.gz --input t2=c.nii.gz --input flair=d.nii.gz
  modelhub predict deepscan-brats ./cohort -o out/
  modelhub predict deepscan-brats ./dicom-cohort --match t1='description~(?i)^t1$' --match t1c='description~(?i)t1.*(post|gd)'
  find . -name '*.png' | modelhub predict squeezenet - --json`,
		GroupID:           "use",
		Args:              cobra.ArbitraryArgs,
		ValidArgsFunction: completeModels(f),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usageErrorf("predict needs a MODEL and inputs: files, folders, URLs, - or --input NAME=PATH")
			}
			if err := noEmptyArgs(cmd, args, "a MODEL and inputs"); err != nil {
				return err
			}
			opts.Model, opts.Args = args[0], args[1:]
			for _, in := range inputs {
				name, p, ok := strings.Cut(in, "=")
				if !ok || strings.TrimSpace(name) == "" || strings.TrimSpace(p) == "" {
					return usageErrorf("--input %q: want NAME=PATH, e.g. --input t1=case1/t1.nii.gz", in)
				}
				opts.Inputs = append(opts.Inputs, predict.NamedPath{Name: strings.TrimSpace(name), Path: p})
			}
			if err := predictPACSFlags(f, cmd, opts, &seg); err != nil {
				return err
			}
			if len(opts.Args) == 0 && len(opts.Inputs) == 0 && opts.From == "" {
				return usageErrorf("predict needs inputs after the model: files, folders, URLs, - (paths on stdin) or --input NAME=PATH")
			}
			if opts.Jobs < 1 {
				return usageErrorf("--jobs %d: give at least 1", opts.Jobs)
			}
			if opts.InputTimeout < 0 {
				return usageErrorf("--input-timeout must not be negative (0 waits without limit)")
			}
			if opts.Timeout <= 0 {
				return usageErrorf("--timeout must be positive")
			}
			if _, err := dicom.ParseRules(opts.Series); err != nil {
				return &UsageError{Err: err}
			}
			for _, m := range match {
				name, rules, ok := strings.Cut(m, "=")
				name = strings.TrimSpace(name)
				if !ok || name == "" || strings.ContainsAny(name, "~") || strings.TrimSpace(rules) == "" {
					return usageErrorf("--match %q: want NAME=RULES, e.g. --match t1=\"description~(?i)^t1$\"", m)
				}
				if _, err := dicom.ParseRules([]string{rules}); err != nil {
					return usageErrorf("--match %s: %v", name, err)
				}
				if opts.Match == nil {
					opts.Match = map[string][]string{}
				}
				if _, dup := opts.Match[name]; dup {
					return usageErrorf("--match %s is given twice: combine its rules with commas", name)
				}
				opts.Match[name] = []string{rules}
			}
			if _, err := medconv.ParseWindow(opts.Window); err != nil {
				return &UsageError{Err: err}
			}
			if shard != "" {
				s, err := predict.ParseShard(shard)
				if err != nil {
					return &UsageError{Err: err}
				}
				opts.Shard = s
			}
			if opts.Engine != "" {
				u, err := url.Parse(opts.Engine)
				if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
					return usageErrorf("--engine %q: want the engine's base URL, e.g. http://127.0.0.1:80", opts.Engine)
				}
				if opts.KeepRunning {
					return usageErrorf("--keep-running applies to a model predict starts; with --engine it starts none")
				}
				opts.Engine = strings.TrimSuffix(opts.Engine, "/")
			}
			if err := opts.validateEngines(); err != nil {
				return err
			}
			if opts.Force && opts.OutDir == "" {
				return usageErrorf("--force redoes inputs recorded in -o DIR's results.jsonl: give -o DIR")
			}
			if err := predictSEGFlags(f, cmd, opts, seg); err != nil {
				return err
			}
			opts.Command = append([]string{"modelhub"}, os.Args[1:]...)
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return predictRun(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.StringArrayVarP(&inputs, "input", "i", nil, "one input of a multi-input model's case, `NAME=PATH` (repeat for each input)")
	fl.StringVarP(&opts.OutDir, "output", "o", "", "write results.jsonl, results.csv, report.html, output files and provenance.json into `DIR`")
	fl.BoolVar(&opts.JSON, "json", false, "print one JSON object per input (see README) instead of a table")
	fl.IntVarP(&opts.Jobs, "jobs", "j", defaultPredictJobs, "requests in flight at once (more than 1 only for engines that take concurrent predictions: the modelhub engine loses uploads)")
	fl.DurationVar(&opts.InputTimeout, "input-timeout", 10*time.Minute, "give up on an input after this long (0: no limit)")
	fl.BoolVar(&opts.Force, "force", false, "with -o: redo inputs already in results.jsonl")
	fl.BoolVar(&opts.KeepRunning, "keep-running", false, "leave a model predict started running at the end")
	fl.BoolVar(&opts.CPU, "cpu", false, "never request GPUs, even for a GPU model")
	fl.DurationVar(&opts.Timeout, "timeout", 5*time.Minute, "how long to wait for a model predict starts (or --engine) to answer")
	fl.StringArrayVar(&opts.Series, "series", nil, "DICOM inputs: use only the series these rules select ("+dicom.RuleHelp+")")
	fl.StringArrayVar(&match, "match", nil, "DICOM case folders of a model with several inputs: the series of input NAME, `NAME=RULES` (rules as --series; default: the series whose description has NAME as a word)")
	fl.StringVar(&opts.Window, "window", "", "DICOM inputs of 2D image models: the window ("+medconv.WindowHelp+")")
	fl.StringVar(&opts.Engine, "engine", "", "use the model's engine answering at `URL` (e.g. http://127.0.0.1:80 in a pod) instead of a container; it must see input files at the same paths")
	fl.BoolVar(&seg, "seg", false, "with -o: write a DICOM SEG of each mask for every DICOM case, DIR/<case>/<output>.seg.dcm (default from settings: predict.seg)")
	fl.StringVar(&opts.From, "from", "", "fetch the inputs from the DICOMweb server at `URL` (e.g. http://127.0.0.1:8042/dicom-web; credentials: see modelhub pacs): the study of --study")
	fl.StringVar(&opts.Study, "study", "", "with --from: the study to fetch (its `UID`, see modelhub pacs ls); kept in DIR/pacs/UID, a rerun resumes")
	fl.BoolVar(&opts.StorePACS, "store", false, "with --from: send each case's DICOM SEG back to the study (STOW-RS; implies --seg, needs -o DIR)")
	fl.StringVar(&opts.Labels, "labels", "", "name the label values of masks from `FILE` (JSON, see docs/results.md), for SEGs and label statistics")
	fl.StringVar(&opts.Replicas, "replicas", "", "start `N` containers of the model (or auto: one per GPU with --gpus, else per core as memory allows) and spread the inputs over them, each one request at a time")
	fl.StringVar(&opts.GPUs, "gpus", "", "which GPUs a model predict starts gets, in Docker's syntax: all, a number (2) or device=ID[,ID]; with --replicas one GPU each")
	fl.IntVar(&opts.APIPort, "api-port", 0, "host `PORT` of the REST API of a model predict starts (default: any free port); with --replicas the first replica's, the others take the next free ports")
	fl.StringVar(&shard, "shard", "", "predict only shard `I/N` of the inputs: ordered by name, every N-th from the I-th (0-based); for splitting a cohort between N runs")
	cmd.MarkFlagsMutuallyExclusive("gpus", "cpu")
	return cmd
}

// validateEngines checks --replicas, --gpus and --api-port against each
// other and --engine and --keep-running.
func (o *PredictOptions) validateEngines() error {
	if o.Replicas != "" && o.Replicas != "auto" {
		if n, err := strconv.Atoi(o.Replicas); err != nil || n < 1 {
			return usageErrorf("--replicas %q: give a number of containers (1 or more) or auto", o.Replicas)
		}
	}
	if o.GPUs != "" {
		if _, err := dockerrun.ParseGPUs(o.GPUs); err != nil {
			return &UsageError{Err: err}
		}
	}
	if o.APIPort < 0 || o.APIPort > 65535 {
		return usageErrorf("--api-port %d: a port is a number from 1 to 65535 (0: any free port)", o.APIPort)
	}
	if o.Engine != "" {
		for _, f := range []struct {
			name string
			set  bool
		}{{"--replicas", o.Replicas != ""}, {"--gpus", o.GPUs != ""}, {"--api-port", o.APIPort != 0}} {
			if f.set {
				return usageErrorf("%s applies to models predict starts; with --engine it starts none", f.name)
			}
		}
	}
	if o.KeepRunning && o.Replicas != "" && o.Replicas != "1" {
		return usageErrorf("--keep-running keeps one container, the model's own; with --replicas predict removes its replicas at the end")
	}
	return nil
}

func predictRun(ctx context.Context, opts *PredictOptions) error {
	ios := opts.IO
	started := opts.Now()
	model, err := predictModel(ctx, opts)
	if err != nil {
		return err
	}
	spec, err := modelSpec(model)
	if err != nil {
		return err
	}
	masks, err := maskOptions(opts, model)
	if err != nil {
		return err
	}
	var pacs *predict.PACSSource
	if opts.PACS != nil {
		if pacs, err = fetchStudy(ctx, opts); err != nil {
			return err
		}
	}
	stage, err := os.MkdirTemp("", "modelhub-dicom-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(stage)
	rules, _ := dicom.ParseRules(opts.Series)
	win, _ := medconv.ParseWindow(opts.Window)
	var match map[string][]dicom.Rule
	for name, m := range opts.Match {
		r, _ := dicom.ParseRules(m)
		if match == nil {
			match = map[string][]dicom.Rule{}
		}
		match[name] = r
	}
	coll, err := predict.Collect(spec, predict.Request{Args: opts.Args, Stdin: ios.In, Named: opts.Inputs,
		DICOM: &predict.DICOMOptions{Rules: rules, Window: win, Stage: stage, Ctx: ctx, Match: match}})
	if coll != nil {
		noteDICOM(ios, coll)
	}
	if ctx.Err() != nil {
		return ErrInterrupted
	}
	if errors.Is(err, predict.ErrNoInputs) {
		return fmt.Errorf("no input to predict on: %s", noInputsHint(spec, coll))
	}
	if err != nil {
		return err
	}
	if opts.SEG && len(coll.Series) == 0 {
		ios.Warnf("--seg: no DICOM input, so no SEG will be written (a SEG needs the DICOM series a mask was computed on)")
	}
	if opts.Shard.Count > 1 {
		all := len(coll.Items)
		coll.Items = opts.Shard.Select(coll.Items)
		ios.Notef("shard %d/%d: %d of %d input(s)", opts.Shard.Index, opts.Shard.Count, len(coll.Items), all)
	}
	var outDir string
	if opts.OutDir != "" {
		if outDir, err = filepath.Abs(opts.OutDir); err != nil {
			return err
		}
		if fi, err := os.Stat(outDir); err == nil && !fi.IsDir() {
			return fmt.Errorf("-o %s is a file: give a folder (it is created if missing)", opts.OutDir)
		}
		// results of another model in the folder would count as done
		if prev, err := predict.ReadProvenance(outDir); err == nil && !strings.EqualFold(prev.Model, model.Name) && !opts.Force {
			return fmt.Errorf("-o %s holds the results of %s, not %s: give another folder (or --force to add these results to it)", opts.OutDir, prev.Model, model.Name)
		}
	}
	popts := predict.Options{Jobs: opts.Jobs, InputTimeout: opts.InputTimeout, OutDir: outDir, Force: opts.Force}
	if len(coll.Items) == 0 { // an empty shard
		printPredictSummary(ios, predict.Summary{}, len(coll.Skipped))
		return nil
	}
	if outDir != "" {
		popts.RunID = predict.NewRunID(outDir, started)
	}
	plan, err := predict.Prepare(ctx, coll.Items, popts)
	if err != nil {
		return err
	}
	notSkipped := len(coll.Skipped)
	if notSkipped > 0 {
		ios.Notef("%d file(s) skipped (%s)", notSkipped, skipExample(coll.Skipped))
	}
	if plan.Skipped > 0 {
		ios.Notef("%d input(s) already done in %s (--force redoes them)", plan.Skipped, filepath.Join(opts.OutDir, predict.ResultsFile))
	}
	if len(plan.Pending) == 0 {
		if outDir != "" {
			if err := writeReview(ctx, ios, opts.OutDir, outDir, model.Name); err != nil {
				return err
			}
		}
		printPredictSummary(ios, predict.Summary{Skipped: plan.Skipped}, notSkipped)
		return nil
	}

	engines, err := predictEnginesFor(ctx, opts, model, len(plan.Pending))
	if err != nil {
		return err
	}
	defer engines.release(ctx, ios)
	eng := engines.first

	var prov *predict.Provenance
	if outDir != "" {
		if err := os.MkdirAll(outDir, 0o755); err != nil {
			return err
		}
		prov = provenanceFor(ctx, opts, model, eng, started, popts.RunID)
		prov.Replicas = engines.containers()
		prov.DICOMSeries = coll.Series
		prov.PACS = pacs
		if err := predict.WriteProvenance(outDir, prov); err != nil {
			return fmt.Errorf("write %s: %w", filepath.Join(opts.OutDir, predict.ProvenanceFile), err)
		}
	}
	out := newPredictOutput(ios, opts.JSON, len(plan.Pending))
	out.outDir = opts.OutDir
	r := &predict.Runner{
		Options:  popts,
		OnResult: out.result,
		Now:      opts.Now,
	}
	if outDir != "" {
		r.Post = masks.Post(outDir)
		if opts.StorePACS {
			r.Post = storePost(opts, outDir, r.Post)
		}
	}
	engines.wire(ios, r, opts.Jobs)
	sum, runErr := r.Run(ctx, plan)
	out.finish()
	if prov != nil {
		prov.EndedAt = opts.Now().UTC()
		prov.Replicas = engines.containers() // restarted replicas too
		prov.OK, prov.Failed, prov.Skipped = sum.OK, sum.Failed, sum.Skipped+notSkipped
		prov.DoneBefore, prov.Unsupported = sum.Skipped, notSkipped
		if err := predict.WriteProvenance(outDir, prov); err != nil && runErr == nil {
			runErr = fmt.Errorf("write %s: %w", filepath.Join(opts.OutDir, predict.ProvenanceFile), err)
		}
		// results.csv and report.html cover the whole folder, also after Ctrl-C
		if err := writeReview(context.WithoutCancel(ctx), ios, opts.OutDir, outDir, model.Name); err != nil && runErr == nil {
			runErr = err
		}
	}
	if runErr != nil {
		if errors.Is(runErr, predict.ErrInterrupted) {
			ios.Notef("interrupted: %d ok, %d failed; rerun the same command to resume", sum.OK, sum.Failed)
			return ErrInterrupted
		}
		return runErr
	}
	if outDir != "" {
		out.folderTable(outDir)
	} else {
		out.table(plan.Pending)
	}
	printPredictSummary(ios, sum, notSkipped)
	if out.unsaved > 0 && outDir == "" {
		ios.Notef("%d output file(s) stayed in the container: pass -o DIR to download them", out.unsaved)
	}
	if sum.Failed > 0 {
		return &ExitError{Code: ExitFailure, Err: fmt.Errorf("%d of %d input(s) failed (see the errors above)", sum.Failed, sum.OK+sum.Failed)}
	}
	return nil
}

// noteDICOM says which DICOM series became inputs and why the others did not.
func noteDICOM(ios *IOStreams, coll *predict.Collection) {
	if len(coll.Series) == 0 {
		return
	}
	ios.Notef("%d DICOM image(s) in %d series; grouping read %s of headers", coll.DICOMFiles, len(coll.Series), humanize.Bytes(coll.HeaderBytes))
	for _, d := range coll.Series {
		if d.Selected {
			ios.Notef("using %s", safeLine(d.Label))
		} else {
			ios.Notef("skipped %s: %s", safeLine(d.Label), safeLine(d.Reason))
		}
	}
}

// printPredictSummary says what became of the inputs: done now, done in an
// earlier run into the same folder, failed, and files the model does not take.
func printPredictSummary(ios *IOStreams, s predict.Summary, unsupported int) {
	fprintf(ios.ErrOut, "%d done now, %d done before, %d failed, %d unsupported\n", s.OK, s.Skipped, s.Failed, unsupported)
}

func skipExample(skips []predict.Skip) string {
	var ex []string
	for i, s := range skips {
		if i == 3 {
			ex = append(ex, "…")
			break
		}
		ex = append(ex, filepath.Base(s.Path)+": "+s.Reason)
	}
	return strings.Join(ex, "; ")
}

func noInputsHint(spec *predict.Spec, coll *predict.Collection) string {
	n := 0
	if coll != nil {
		n = len(coll.Skipped)
	}
	if spec.Multi() {
		return fmt.Sprintf("found no case (%d file(s) skipped); the model takes %s per case", n, strings.Join(spec.Names(), ", "))
	}
	return fmt.Sprintf("%d file(s) skipped, none of a type the model accepts (%s)", n, strings.Join(spec.Formats, ", "))
}

// predictModel resolves MODEL and makes it complete on disk (pulled as run
// pulls it), so its config.json can be read before anything starts.
func predictModel(ctx context.Context, opts *PredictOptions) (*store.Model, error) {
	s, m, err := resolveModel(ctx, opts.Store, opts.Model)
	if err != nil {
		return nil, err
	}
	m, _, err = s.Ensure(ctx, m, store.EnsureOptions{Pulling: func() (store.PullOptions, func()) {
		opts.IO.Notef("pulling %s…", m.Name)
		pp := newPullProgress(opts.IO)
		return pp.options(store.PullOptions{}), pp.close
	}})
	return m, err
}

// modelSpec reads what the model accepts from its config.json.
func modelSpec(m *store.Model) (*predict.Spec, error) {
	p := m.ConfigPath()
	data, err := os.ReadFile(p)
	if err != nil {
		return nil, fmt.Errorf("read the model's config.json: %w", err)
	}
	c, err := config.ParseModelConfig(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	s, err := predict.SpecFromConfig(c)
	if err != nil {
		return nil, fmt.Errorf("%s: %w; the model cannot say which files it takes", p, err)
	}
	return s, nil
}

// provenanceFor gathers what produced the results.
func provenanceFor(ctx context.Context, opts *PredictOptions, m *store.Model, eng *launch.Session, started time.Time, runID string) *predict.Provenance {
	p := &predict.Provenance{
		RunID: runID,
		Model: m.Name, ModelDir: m.Dir, Image: eng.Image, Engine: eng.URL, Container: eng.Container,
		Reused: eng.Reused, GPU: eng.GPU, ModelhubVersion: version(), Command: opts.Command,
		StartedAt: started.UTC(), WeightFiles: []predict.WeightFile{},
	}
	if opts.Shard.Count > 1 {
		p.Shard = fmt.Sprintf("%d/%d", opts.Shard.Index, opts.Shard.Count)
	}
	if man := m.Manifest; man != nil {
		p.IndexEntry = man.Entry
		p.GitCommit = man.Commit
		for _, f := range man.Files {
			wf := predict.WeightFile{Path: f.Path, URL: f.SrcURL, Size: f.Size, SHA256: f.SHA256}
			if wf.SHA256 == "" {
				wf.SHA256 = hashModelFile(m.Dir, f.Path)
			}
			p.WeightFiles = append(p.WeightFiles, wf)
		}
	} else if m.Entry != nil {
		p.IndexEntry = m.Entry
	}
	if img, err := eng.ImageInfo(ctx); err == nil {
		p.ImageID, p.ImageDigests = img.ID, img.RepoDigests
	}
	return p
}

func hashModelFile(dir, rel string) string {
	sum, err := predict.HashFile(context.Background(), filepath.Join(dir, filepath.FromSlash(rel)))
	if err != nil {
		return ""
	}
	return sum
}

// jsonLine is one --json line: the result as results.jsonl holds it.
func jsonLine(r *predict.Result) []byte {
	data, _ := predict.JSONLine(r)
	// exact, but with no DEL, C1 or bidi control raw (the model's labels,
	// a PACS's series descriptions in case names)
	return termsafe.JSON(data)
}
