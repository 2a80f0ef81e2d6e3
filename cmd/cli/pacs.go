package cli

import (
	"context"
	"errors"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/modelhub-ai/modelhub/internal/config"
	"github.com/modelhub-ai/modelhub/internal/dicomweb"
)

// PacsLsOptions are the inputs of `modelhub pacs ls`.
type PacsLsOptions struct {
	IO      *IOStreams
	Client  func(url string) (*dicomweb.Client, error)
	URL     string
	Study   string
	ShowPHI bool
	JSON    bool
}

// NewCmdPacs builds `modelhub pacs`, the DICOMweb commands.
func NewCmdPacs(f *Factory, runLs func(context.Context, *PacsLsOptions) error) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "pacs",
		Short: "See what a PACS holds, over DICOMweb",
		Long: `Talk to a PACS (or any DICOMweb server: Orthanc, dcm4chee, a cloud archive) over
DICOMweb. URL is the server's DICOMweb root, e.g. http://127.0.0.1:8042/dicom-web for
Orthanc. Credentials come from MODELHUB_PACS_USER and MODELHUB_PACS_PASSWORD (basic) or
MODELHUB_PACS_TOKEN (bearer), else from pacs.user, pacs.password and pacs.token in the
settings file (which must then be readable by you only: chmod 600). They are never
printed or written anywhere. HTTPS trusts the system's CAs plus --cacert, and the
proxy of HTTPS_PROXY/NO_PROXY is used as everywhere else. To run a model on a study
and store its SEG back: modelhub predict MODEL --from URL --study UID --store.`,
		GroupID: "use",
		Args:    cobra.NoArgs,
		RunE:    func(cmd *cobra.Command, args []string) error { return cmd.Help() },
	}
	cmd.AddCommand(newCmdPacsLs(f, runLs))
	return cmd
}

func newCmdPacsLs(f *Factory, runF func(context.Context, *PacsLsOptions) error) *cobra.Command {
	opts := &PacsLsOptions{IO: f.IO, Client: func(u string) (*dicomweb.Client, error) { return pacsClient(f, u) }}
	cmd := &cobra.Command{
		Use:   "ls URL",
		Short: "List a DICOMweb server's studies, or the series of one study",
		Long: `List the studies of the DICOMweb server at URL (QIDO-RS): UID, date, modalities,
description and number of series and instances; with --study UID, that study's
series: UID, number, modality, description and number of instances. Patient names are
not even asked for unless --show-phi.`,
		Example: `  modelhub pacs ls http://127.0.0.1:8042/dicom-web
  modelhub pacs ls http://127.0.0.1:8042/dicom-web --study 1.2.840.113619.2.55.3.2831164356.781.1
  MODELHUB_PACS_USER=alice MODELHUB_PACS_PASSWORD=... modelhub pacs ls https://pacs.example.org/dicom-web --json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.URL = args[0]
			if opts.Study != "" && !dicomweb.ValidUID(opts.Study) {
				return usageErrorf("--study %q: want a study instance UID (digits and dots, e.g. 1.2.840.113619.2.55.3)", opts.Study)
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return pacsLsRun(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&opts.Study, "study", "", "list the series of the study with this `UID`")
	fl.BoolVar(&opts.ShowPHI, "show-phi", false, "also show the patient's name of each study (patient data: off by default)")
	fl.BoolVar(&opts.JSON, "json", false, "print JSON (an array of studies, or of series) instead of a table")
	return cmd
}

// pacsClient is a DICOMweb client for URL with the credentials of the
// environment or the settings file.
func pacsClient(f *Factory, rawURL string) (*dicomweb.Client, error) {
	st := &config.Settings{}
	if f.Settings != nil {
		var err error
		if st, err = f.Settings(); err != nil {
			return nil, err
		}
	}
	auth := dicomweb.ResolveAuth(os.Getenv, st.PACS.User, st.PACS.Password, st.PACS.Token, st.Path)
	c, err := dicomweb.New(rawURL, auth, nil)
	if err != nil {
		return nil, &UsageError{Err: err}
	}
	return c, nil
}

func pacsLsRun(ctx context.Context, opts *PacsLsOptions) error {
	c, err := opts.Client(opts.URL)
	if err != nil {
		return err
	}
	if opts.Study != "" {
		series, err := c.Series(ctx, opts.Study)
		if err != nil {
			return err
		}
		if opts.JSON {
			return writeJSONArray(opts.IO, series)
		}
		w := tabwriter.NewWriter(opts.IO.Out, 0, 4, 2, ' ', 0)
		fprintf(w, "SERIES UID\tNUMBER\tMODALITY\tDESCRIPTION\tINSTANCES\n")
		for _, s := range series {
			fprintf(w, "%s\t%d\t%s\t%s\t%d\n", cell(s.UID), s.Number, cell(s.Modality), cell(s.Description), s.Instances)
		}
		return w.Flush()
	}
	studies, err := c.Studies(ctx, opts.ShowPHI)
	var partial *dicomweb.PartialError
	if errors.As(err, &partial) {
		// the studies it did send, and a warning: the list is incomplete
		defer opts.IO.Warnf("%s: these are not all its studies", partial.Error())
	} else if err != nil {
		return err
	}
	if opts.JSON {
		return writeJSONArray(opts.IO, studies)
	}
	if len(studies) == 0 {
		opts.IO.Notef("%s holds no study", c.URL())
		return nil
	}
	w := tabwriter.NewWriter(opts.IO.Out, 0, 4, 2, ' ', 0)
	head := "STUDY UID\tDATE\tMODALITIES\tDESCRIPTION\tSERIES\tINSTANCES"
	if opts.ShowPHI {
		head += "\tPATIENT"
	}
	fprintf(w, "%s\n", head)
	for _, s := range studies {
		line := []string{cell(s.UID), cell(dicomDate(s.Date)), cell(strings.Join(s.Modalities, ",")), cell(s.Description)}
		fprintf(w, "%s\t%d\t%d", strings.Join(line, "\t"), s.Series, s.Instances)
		if opts.ShowPHI {
			fprintf(w, "\t%s", cell(s.PatientName))
		}
		fprintf(w, "\n")
	}
	return w.Flush()
}

// dicomDate shows a DICOM DA (YYYYMMDD) as YYYY-MM-DD.
func dicomDate(d string) string {
	if len(d) == 8 && strings.Trim(d, "0123456789") == "" {
		return d[:4] + "-" + d[4:6] + "-" + d[6:]
	}
	return d
}

func writeJSONArray[T any](ios *IOStreams, v []T) error {
	if v == nil {
		v = []T{}
	}
	return writeJSON(ios.Out, v)
}
