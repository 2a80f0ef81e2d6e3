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
	var raw predictFlags
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
			if err := raw.complete(f, cmd, opts, args); err != nil {
				return err
			}
			opts.Command = append([]string{"modelhub"}, os.Args[1:]...)
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return predictRun(cmd.Context(), opts)
		},
	}
	addPredictInputFlags(cmd, opts, &raw)
	addPredictDICOMFlags(cmd, opts, &raw)
	addPredictEngineFlags(cmd, opts)
	addPredictOutputFlags(cmd, opts, &raw)
	cmd.MarkFlagsMutuallyExclusive("gpus", "cpu")
	return cmd
}

// predictFlags are the flags of predict that are checked and parsed into
// PredictOptions when it runs.
type predictFlags struct {
	seg           bool
	inputs, match []string // --input NAME=PATH, --match NAME=RULES
	shard         string
}

// complete checks the arguments and flags and fills in opts.Model, opts.Args
// and what the flags parse into; errors are usage errors, in the order the
// checks come.
func (raw *predictFlags) complete(f *Factory, cmd *cobra.Command, opts *PredictOptions, args []string) error {
	if len(args) == 0 {
		return usageErrorf("predict needs a MODEL and inputs: files, folders, URLs, - or --input NAME=PATH")
	}
	if err := noEmptyArgs(cmd, args, "a MODEL and inputs"); err != nil {
		return err
	}
	opts.Model, opts.Args = args[0], args[1:]
	if err := raw.parseInputs(opts); err != nil {
		return err
	}
	if err := predictPACSFlags(f, cmd, opts, &raw.seg); err != nil {
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
	if err := raw.parseMatch(opts); err != nil {
		return err
	}
	if _, err := medconv.ParseWindow(opts.Window); err != nil {
		return &UsageError{Err: err}
	}
	if raw.shard != "" {
		s, err := predict.ParseShard(raw.shard)
		if err != nil {
			return &UsageError{Err: err}
		}
		opts.Shard = s
	}
	if err := opts.checkEngine(); err != nil {
		return err
	}
	if err := opts.validateEngines(); err != nil {
		return err
	}
	if opts.Force && opts.OutDir == "" {
		return usageErrorf("--force redoes inputs recorded in -o DIR's results.jsonl: give -o DIR")
	}
	return predictSEGFlags(f, cmd, opts, raw.seg)
}

// parseInputs turns the --input NAME=PATH flags into opts.Inputs.
func (raw *predictFlags) parseInputs(opts *PredictOptions) error {
	for _, in := range raw.inputs {
		name, p, ok := strings.Cut(in, "=")
		if !ok || strings.TrimSpace(name) == "" || strings.TrimSpace(p) == "" {
			return usageErrorf("--input %q: want NAME=PATH, e.g. --input t1=case1/t1.nii.gz", in)
		}
		opts.Inputs = append(opts.Inputs, predict.NamedPath{Name: strings.TrimSpace(name), Path: p})
	}
	return nil
}

// parseMatch turns the --match NAME=RULES flags into opts.Match, one entry
// per input name.
func (raw *predictFlags) parseMatch(opts *PredictOptions) error {
	for _, m := range raw.match {
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
	return nil
}

// checkEngine checks --engine URL, a base URL, and trims its final slash.
func (o *PredictOptions) checkEngine() error {
	if o.Engine == "" {
		return nil
	}
	u, err := url.Parse(o.Engine)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
		return usageErrorf("--engine %q: want the engine's base URL, e.g. http://127.0.0.1:80", o.Engine)
	}
	if o.KeepRunning {
		return usageErrorf("--keep-running applies to a model predict starts; with --engine it starts none")
	}
	o.Engine = strings.TrimSuffix(o.Engine, "/")
	return nil
}

// addPredictInputFlags adds the flags saying what to predict on besides the
// arguments: files by input name, a shard of them, a DICOMweb study.
func addPredictInputFlags(cmd *cobra.Command, opts *PredictOptions, raw *predictFlags) {
	fl := cmd.Flags()
	fl.StringArrayVarP(&raw.inputs, "input", "i", nil, "one input of a multi-input model's case, `NAME=PATH` (repeat for each input)")
	fl.StringVar(&raw.shard, "shard", "", "predict only shard `I/N` of the inputs: ordered by name, every N-th from the I-th (0-based); for splitting a cohort between N runs")
	fl.StringVar(&opts.From, "from", "", "fetch the inputs from the DICOMweb server at `URL` (e.g. http://127.0.0.1:8042/dicom-web; credentials: see modelhub pacs): the study of --study")
	fl.StringVar(&opts.Study, "study", "", "with --from: the study to fetch (its `UID`, see modelhub pacs ls); kept in DIR/pacs/UID, a rerun resumes")
}

// addPredictDICOMFlags adds the flags choosing DICOM series and how they are
// converted.
func addPredictDICOMFlags(cmd *cobra.Command, opts *PredictOptions, raw *predictFlags) {
	fl := cmd.Flags()
	fl.StringArrayVar(&opts.Series, "series", nil, "DICOM inputs: use only the series these rules select ("+dicom.RuleHelp+")")
	fl.StringArrayVar(&raw.match, "match", nil, "DICOM case folders of a model with several inputs: the series of input NAME, `NAME=RULES` (rules as --series; default: the series whose description has NAME as a word)")
	fl.StringVar(&opts.Window, "window", "", "DICOM inputs of 2D image models: the window ("+medconv.WindowHelp+")")
}

// addPredictEngineFlags adds the flags saying which engines answer and how
// they are fed: an --engine URL or the containers predict starts.
func addPredictEngineFlags(cmd *cobra.Command, opts *PredictOptions) {
	fl := cmd.Flags()
	fl.StringVar(&opts.Engine, "engine", "", "use the model's engine answering at `URL` (e.g. http://127.0.0.1:80 in a pod) instead of a container; it must see input files at the same paths")
	fl.DurationVar(&opts.Timeout, "timeout", 5*time.Minute, "how long to wait for a model predict starts (or --engine) to answer")
	fl.BoolVar(&opts.KeepRunning, "keep-running", false, "leave a model predict started running at the end")
	fl.BoolVar(&opts.CPU, "cpu", false, "never request GPUs, even for a GPU model")
	fl.StringVar(&opts.GPUs, "gpus", "", "which GPUs a model predict starts gets, in Docker's syntax: all, a number (2) or device=ID[,ID]; with --replicas one GPU each")
	fl.StringVar(&opts.Replicas, "replicas", "", "start `N` containers of the model (or auto: one per GPU with --gpus, else per core as memory allows) and spread the inputs over them, each one request at a time")
	fl.IntVar(&opts.APIPort, "api-port", 0, "host `PORT` of the REST API of a model predict starts (default: any free port); with --replicas the first replica's, the others take the next free ports")
	fl.IntVarP(&opts.Jobs, "jobs", "j", defaultPredictJobs, "requests in flight at once (more than 1 only for engines that take concurrent predictions: the modelhub engine loses uploads)")
	fl.DurationVar(&opts.InputTimeout, "input-timeout", 10*time.Minute, "give up on an input after this long (0: no limit)")
}

// addPredictOutputFlags adds the flags saying what is shown and what is
// written into -o DIR.
func addPredictOutputFlags(cmd *cobra.Command, opts *PredictOptions, raw *predictFlags) {
	fl := cmd.Flags()
	fl.StringVarP(&opts.OutDir, "output", "o", "", "write results.jsonl, results.csv, report.html, output files and provenance.json into `DIR`")
	fl.BoolVar(&opts.JSON, "json", false, "print one JSON object per input (see README) instead of a table")
	fl.BoolVar(&opts.Force, "force", false, "with -o: redo inputs already in results.jsonl")
	fl.BoolVar(&raw.seg, "seg", false, "with -o: write a DICOM SEG of each mask for every DICOM case, DIR/<case>/<output>.seg.dcm (default from settings: predict.seg)")
	fl.StringVar(&opts.Labels, "labels", "", "name the label values of masks from `FILE` (JSON, see docs/results.md), for SEGs and label statistics")
	fl.BoolVar(&opts.StorePACS, "store", false, "with --from: send each case's DICOM SEG back to the study (STOW-RS; implies --seg, needs -o DIR)")
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

// predictJob is one `modelhub predict` run's state, filled in by predictRun's
// steps in order.
type predictJob struct {
	opts    *PredictOptions
	ios     *IOStreams
	started time.Time

	model *store.Model
	spec  *predict.Spec
	masks *predict.MaskOptions
	pacs  *predict.PACSSource // the study fetched with --from; nil without

	coll   *predict.Collection
	outDir string // -o DIR made absolute; "" without -o
	popts  predict.Options
	plan   *predict.Plan

	engines *predictEngines
	prov    *predict.Provenance // nil without -o
}

// predictRun is `modelhub predict`: resolve the model, collect the inputs,
// check the output folder, plan what is left to do, start the engines, run
// the batch, and record and show the results.
func predictRun(ctx context.Context, opts *PredictOptions) error {
	j := &predictJob{opts: opts, ios: opts.IO, started: opts.Now()}
	if err := j.resolveModel(ctx); err != nil {
		return err
	}
	stage, err := os.MkdirTemp("", "modelhub-dicom-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(stage)
	if err := j.collectInputs(ctx, stage); err != nil {
		return err
	}
	if err := j.checkOutDir(); err != nil {
		return err
	}
	if done, err := j.planInputs(ctx); done || err != nil {
		return err
	}

	engines, err := predictEnginesFor(ctx, opts, j.model, len(j.plan.Pending))
	if err != nil {
		return err
	}
	defer engines.release(ctx, j.ios)
	j.engines = engines

	if err := j.startProvenance(ctx); err != nil {
		return err
	}
	out, sum, runErr := j.runBatch(ctx)
	runErr = j.finishFolder(ctx, sum, runErr)
	return j.report(out, sum, runErr)
}

// resolveModel makes the model complete on disk, reads what it accepts and
// what predict makes of its arrays, and fetches the --from study.
func (j *predictJob) resolveModel(ctx context.Context) error {
	var err error
	if j.model, err = predictModel(ctx, j.opts); err != nil {
		return err
	}
	if j.spec, err = modelSpec(j.model); err != nil {
		return err
	}
	if j.masks, err = maskOptions(j.opts, j.model); err != nil {
		return err
	}
	if j.opts.PACS != nil {
		if j.pacs, err = fetchStudy(ctx, j.opts); err != nil {
			return err
		}
	}
	return nil
}

// collectInputs turns the arguments into the inputs (DICOM series converted
// into stage), says what was found and keeps only --shard's share.
func (j *predictJob) collectInputs(ctx context.Context, stage string) error {
	opts, ios := j.opts, j.ios
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
	coll, err := predict.Collect(j.spec, predict.Request{Args: opts.Args, Stdin: ios.In, Named: opts.Inputs,
		DICOM: &predict.DICOMOptions{Rules: rules, Window: win, Stage: stage, Ctx: ctx, Match: match}})
	if coll != nil {
		noteDICOM(ios, coll)
	}
	if ctx.Err() != nil {
		return ErrInterrupted
	}
	if errors.Is(err, predict.ErrNoInputs) {
		return fmt.Errorf("no input to predict on: %s", noInputsHint(j.spec, coll))
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
	j.coll = coll
	return nil
}

// checkOutDir makes -o DIR absolute and refuses a file or a folder holding
// another model's results.
func (j *predictJob) checkOutDir() error {
	opts := j.opts
	if opts.OutDir == "" {
		return nil
	}
	outDir, err := filepath.Abs(opts.OutDir)
	if err != nil {
		return err
	}
	if fi, err := os.Stat(outDir); err == nil && !fi.IsDir() {
		return fmt.Errorf("-o %s is a file: give a folder (it is created if missing)", opts.OutDir)
	}
	// results of another model in the folder would count as done
	if prev, err := predict.ReadProvenance(outDir); err == nil && !strings.EqualFold(prev.Model, j.model.Name) && !opts.Force {
		return fmt.Errorf("-o %s holds the results of %s, not %s: give another folder (or --force to add these results to it)", opts.OutDir, prev.Model, j.model.Name)
	}
	j.outDir = outDir
	return nil
}

// unsupported is the number of files skipped as of a type the model does not
// take.
func (j *predictJob) unsupported() int { return len(j.coll.Skipped) }

// planInputs sets aside the inputs already done in -o DIR and says so; done
// is true when nothing is left to predict (the summary is then printed).
func (j *predictJob) planInputs(ctx context.Context) (done bool, err error) {
	opts, ios := j.opts, j.ios
	j.popts = predict.Options{Jobs: opts.Jobs, InputTimeout: opts.InputTimeout, OutDir: j.outDir, Force: opts.Force}
	if len(j.coll.Items) == 0 { // an empty shard
		printPredictSummary(ios, predict.Summary{}, j.unsupported())
		return true, nil
	}
	if j.outDir != "" {
		j.popts.RunID = predict.NewRunID(j.outDir, j.started)
	}
	if j.plan, err = predict.Prepare(ctx, j.coll.Items, j.popts); err != nil {
		return true, err
	}
	if n := j.unsupported(); n > 0 {
		ios.Notef("%d file(s) skipped (%s)", n, skipExample(j.coll.Skipped))
	}
	if j.plan.Skipped > 0 {
		ios.Notef("%d input(s) already done in %s (--force redoes them)", j.plan.Skipped, filepath.Join(opts.OutDir, predict.ResultsFile))
	}
	if len(j.plan.Pending) > 0 {
		return false, nil
	}
	if j.outDir != "" {
		if err := writeReview(ctx, ios, opts.OutDir, j.outDir, j.model.Name); err != nil {
			return true, err
		}
	}
	printPredictSummary(ios, predict.Summary{Skipped: j.plan.Skipped}, j.unsupported())
	return true, nil
}

// startProvenance creates -o DIR and writes its provenance.json before the
// first prediction.
func (j *predictJob) startProvenance(ctx context.Context) error {
	if j.outDir == "" {
		return nil
	}
	if err := os.MkdirAll(j.outDir, 0o755); err != nil {
		return err
	}
	prov := provenanceFor(ctx, j.opts, j.model, j.engines.first, j.started, j.popts.RunID)
	prov.Replicas = j.engines.containers()
	prov.DICOMSeries = j.coll.Series
	prov.PACS = j.pacs
	if err := predict.WriteProvenance(j.outDir, prov); err != nil {
		return fmt.Errorf("write %s: %w", filepath.Join(j.opts.OutDir, predict.ProvenanceFile), err)
	}
	j.prov = prov
	return nil
}

// runBatch predicts the pending inputs on the engines, showing each result as
// it comes and, with -o, saving its files (and sending SEGs with --store).
func (j *predictJob) runBatch(ctx context.Context) (*predictOutput, predict.Summary, error) {
	out := newPredictOutput(j.ios, j.opts.JSON, len(j.plan.Pending))
	out.outDir = j.opts.OutDir
	r := &predict.Runner{
		Options:  j.popts,
		OnResult: out.result,
		Now:      j.opts.Now,
	}
	if j.outDir != "" {
		r.Post = j.masks.Post(j.outDir)
		if j.opts.StorePACS {
			r.Post = storePost(j.opts, j.outDir, r.Post)
		}
	}
	j.engines.wire(j.ios, r, j.opts.Jobs)
	sum, err := r.Run(ctx, j.plan)
	out.finish()
	return out, sum, err
}

// finishFolder completes provenance.json with the counts and rewrites
// results.csv and report.html for the whole folder, also after Ctrl-C. It
// returns runErr, or the first error of these when the run had none.
func (j *predictJob) finishFolder(ctx context.Context, sum predict.Summary, runErr error) error {
	prov := j.prov
	if prov == nil {
		return runErr
	}
	opts := j.opts
	prov.EndedAt = opts.Now().UTC()
	prov.Replicas = j.engines.containers() // restarted replicas too
	prov.OK, prov.Failed, prov.Skipped = sum.OK, sum.Failed, sum.Skipped+j.unsupported()
	prov.DoneBefore, prov.Unsupported = sum.Skipped, j.unsupported()
	if err := predict.WriteProvenance(j.outDir, prov); err != nil && runErr == nil {
		runErr = fmt.Errorf("write %s: %w", filepath.Join(opts.OutDir, predict.ProvenanceFile), err)
	}
	// results.csv and report.html cover the whole folder, also after Ctrl-C
	if err := writeReview(context.WithoutCancel(ctx), j.ios, opts.OutDir, j.outDir, j.model.Name); err != nil && runErr == nil {
		runErr = err
	}
	return runErr
}

// report shows the results table and the summary, and turns an interruption
// or failed inputs into the command's error.
func (j *predictJob) report(out *predictOutput, sum predict.Summary, runErr error) error {
	ios := j.ios
	if runErr != nil {
		if errors.Is(runErr, predict.ErrInterrupted) {
			ios.Notef("interrupted: %d ok, %d failed; rerun the same command to resume", sum.OK, sum.Failed)
			return ErrInterrupted
		}
		return runErr
	}
	if j.outDir != "" {
		out.folderTable(j.outDir)
	} else {
		out.table(j.plan.Pending)
	}
	printPredictSummary(ios, sum, j.unsupported())
	if out.unsaved > 0 && j.outDir == "" {
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
