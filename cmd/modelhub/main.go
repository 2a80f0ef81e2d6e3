// Command modelhub runs pretrained models from the modelhub index on your machine.
package main

import (
	"os"

	"github.com/modelhub-ai/modelhub/cmd/cli"
)

func main() { os.Exit(cli.Main()) }
