package modeltest

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/modelhub-ai/modelhub/internal/config"
	"github.com/modelhub-ai/modelhub/internal/safepath"
)

// Files of a model folder that Validate looks at, relative to the folder.
const (
	ConfigFile            = config.ConfigPath
	RunFile               = config.ContribSrc + "/run.py"
	InferenceFile         = config.ContribSrc + "/inference.py"
	ModelLicenseFile      = config.ContribSrc + "/license/model"
	SampleDataLicenseFile = config.ContribSrc + "/license/sample_data"
	SampleDataDir         = config.ContribSrc + "/sample_data"
	ThumbnailGlob         = config.ContribSrc + "/model/thumbnail.*"
)

// ValidateOptions configure Validate.
type ValidateOptions struct {
	// Name is the model's expected name (the folder or index name); "" means the
	// folder's base name.
	Name string
	// FolderName: Name is only the name of the folder given, not a name from
	// the index or a download. A clone may sit in a folder of any name (the
	// bundled demo is demo/model), so a mismatch is then a warning.
	FolderName bool
	// Schema validates config.json; nil means config.DefaultSchema().
	Schema *config.Schema
}

// Validate runs the static checks of a model folder (no Docker) and adds them to rep,
// in order: init.json, docker_id, external files, config.json and its schema, meta.name,
// output types, run.py and inference.py, licenses, sample data, thumbnail.
func Validate(dir string, opts ValidateOptions, rep *Report) {
	if opts.Schema == nil {
		opts.Schema = config.DefaultSchema()
	}
	if opts.Name == "" {
		abs, err := filepath.Abs(dir)
		if err == nil {
			dir = abs
		}
		opts.Name = filepath.Base(dir)
	}
	add := func(file, name string, st Status, format string, args ...any) {
		rep.AddCheck(Check{Name: name, Status: st, Detail: fmt.Sprintf(format, args...), File: file})
	}

	// A link that could reach the host (a linked contrib_src, a link out of
	// the folder) fails the model, and nothing is read through it.
	if err := safepath.CheckTree(dir); err != nil && !errors.Is(err, os.ErrNotExist) {
		file := ""
		var te *safepath.TreeError
		if errors.As(err, &te) {
			file = te.Entry
		}
		add(file, "links", Fail, "%v", err)
		return
	}

	validateInit(dir, add)

	cfgPath := filepath.Join(dir, filepath.FromSlash(ConfigFile))
	data, err := config.ReadRegularFile(cfgPath)
	var cfg *config.ModelConfig
	switch {
	case errors.Is(err, os.ErrNotExist):
		add(ConfigFile, "config.json exists", Fail, "missing: every model needs %s (start from `modelhub new`)", ConfigFile)
	case err != nil:
		add(ConfigFile, "config.json exists", Fail, "%v", err)
	default:
		cfg, err = config.ParseModelConfig(data)
		if err != nil {
			add(ConfigFile, "config.json parses", Fail, "%v", err)
		} else {
			add(ConfigFile, "config.json parses", Pass, "")
		}
	}
	if cfg != nil {
		if vs := opts.Schema.Validate(cfg.Doc); len(vs) > 0 {
			for _, v := range vs {
				hint := ""
				if val, ok := config.Lookup(cfg.Doc, v.Pointer); ok && config.IsEmptyValue(val) {
					hint = " (still empty: fill it in)"
				}
				add(ConfigFile, "config.json schema", Fail, "%s%s", v, hint)
			}
		} else {
			add(ConfigFile, "config.json schema", Pass, "valid against %s", opts.Schema.Source)
		}
		switch {
		case strings.EqualFold(cfg.Name, opts.Name):
			add(ConfigFile, "meta.name", Pass, "%s", cfg.Name)
		case opts.FolderName:
			add(ConfigFile, "meta.name", Warn, "meta.name is %q but its folder is called %q: the model's index entry and repository must be called %q (case-insensitive)", cfg.Name, opts.Name, cfg.Name)
		default:
			add(ConfigFile, "meta.name", Fail, "meta.name is %q but the model is called %q: they must match (case-insensitive)", cfg.Name, opts.Name)
		}
		validateOutputs(cfg, add)
	}

	for _, f := range []string{RunFile, InferenceFile} {
		if fi, err := os.Stat(filepath.Join(dir, filepath.FromSlash(f))); err != nil || !fi.Mode().IsRegular() {
			add(f, filepath.Base(f)+" exists", Fail, "missing: the engine runs contrib_src/run.py, which loads inference.py")
		} else {
			add(f, filepath.Base(f)+" exists", Pass, "")
		}
	}
	for _, f := range []string{ModelLicenseFile, SampleDataLicenseFile} {
		name := filepath.Base(f) + " license"
		data, err := config.ReadRegularFile(filepath.Join(dir, filepath.FromSlash(f)))
		switch {
		case errors.Is(err, config.ErrNotRegular):
			add(f, name, Fail, "%v", err)
		case err != nil:
			add(f, name, Warn, "missing: add the license text to %s", f)
		case strings.TrimSpace(string(data)) == "":
			add(f, name, Warn, "empty: add the license text to %s", f)
		default:
			add(f, name, Pass, "")
		}
	}
	if n := countFiles(filepath.Join(dir, filepath.FromSlash(SampleDataDir))); n == 0 {
		add(SampleDataDir, "sample data", Warn, "no sample files: add at least one input users can try to %s/", SampleDataDir)
	} else {
		add(SampleDataDir, "sample data", Pass, "%d file(s)", n)
	}
	if m, _ := filepath.Glob(filepath.Join(dir, filepath.FromSlash(ThumbnailGlob))); len(m) == 0 {
		add(ThumbnailGlob, "thumbnail", Warn, "missing: add a thumbnail image (e.g. contrib_src/model/thumbnail.jpg) for the model's page")
	} else {
		add(filepath.ToSlash(mustRel(dir, m[0])), "thumbnail", Pass, "")
	}
}

func validateInit(dir string, add func(file, name string, st Status, format string, args ...any)) {
	const f = config.InitPath
	data, err := config.ReadRegularFile(filepath.Join(dir, filepath.FromSlash(f)))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			add(f, "init.json parses", Fail, "missing: a model folder needs %s (is %s a model folder?)", f, dir)
		} else {
			add(f, "init.json parses", Fail, "%v", err)
		}
		return
	}
	in, err := config.ParseInit(data)
	if err != nil {
		add(f, "init.json parses", Fail, "%v", err)
		return
	}
	add(f, "init.json parses", Pass, "")
	var dockerProbs, fileProbs []*config.InitError
	for _, p := range in.Problems(dir) {
		var ie *config.InitError
		if !errors.As(p, &ie) {
			ie = &config.InitError{Field: "init.json", Err: p}
		}
		if ie.Field == "docker_id" {
			dockerProbs = append(dockerProbs, ie)
		} else {
			fileProbs = append(fileProbs, ie)
		}
	}
	if len(dockerProbs) == 0 {
		add(f, "docker_id", Pass, "%s", in.DockerID)
	}
	for _, p := range dockerProbs {
		add(f, "docker_id", Fail, "%v", p.Err)
	}
	if len(fileProbs) == 0 {
		add(f, "external files", Pass, "%d entr%s", len(in.Files), plural(len(in.Files), "y", "ies"))
	}
	for _, p := range fileProbs {
		add(f, "external files", Fail, "%v", p)
	}
}

func validateOutputs(cfg *config.ModelConfig, add func(file, name string, st Status, format string, args ...any)) {
	if len(cfg.Outputs) == 0 {
		add(ConfigFile, "output types", Fail, "model.io.output declares no outputs")
		return
	}
	ok := true
	for i, o := range cfg.Outputs {
		switch {
		case config.IsEngineOutputType(o.Type):
		case o.Type == "contour":
			ok = false
			add(ConfigFile, "output types", Warn, "output %d (%s): type contour is in the schema but the engine produces no contour outputs; use one of %s", i, o.Name, strings.Join(config.EngineOutputTypes, ", "))
		default:
			ok = false
			add(ConfigFile, "output types", Fail, "output %d (%s): type %q is not one of %s", i, o.Name, o.Type, strings.Join(config.EngineOutputTypes, ", "))
		}
	}
	if ok {
		var types []string
		for _, o := range cfg.Outputs {
			types = append(types, o.Type)
		}
		add(ConfigFile, "output types", Pass, "%s", strings.Join(types, ", "))
	}
}

// countFiles counts the regular, non-hidden files below dir.
func countFiles(dir string) int {
	n := 0
	_ = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if strings.HasPrefix(d.Name(), ".") && p != dir {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if d.Type().IsRegular() {
			n++
		}
		return nil
	})
	return n
}

func mustRel(dir, p string) string {
	if r, err := filepath.Rel(dir, p); err == nil {
		return r
	}
	return p
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
