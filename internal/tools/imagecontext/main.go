// Command imagecontext writes the modelhub image's build context (a tar) to
// stdout, for `make image`: ... | docker build -t TAG -
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/modelhub-ai/modelhub/internal/selfimage"
)

func main() {
	bin := flag.String("bin", "", "static linux modelhub binary")
	certs := flag.String("certs", "/etc/ssl/certs/ca-certificates.crt", "CA certificate bundle to copy into the image")
	version := flag.String("version", "dev", "version recorded in the image's label")
	flag.Parse()
	if err := run(*bin, *certs, *version); err != nil {
		fmt.Fprintln(os.Stderr, "imagecontext:", err)
		os.Exit(1)
	}
}

func run(bin, certs, version string) error {
	b, err := os.ReadFile(bin)
	if err != nil {
		return err
	}
	c, err := os.ReadFile(certs)
	if err != nil {
		return fmt.Errorf("%w (pass another bundle with CA_CERTS=FILE)", err)
	}
	data, err := selfimage.Context(b, c, version)
	if err != nil {
		return err
	}
	_, err = os.Stdout.Write(data)
	return err
}
