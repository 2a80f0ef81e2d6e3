//go:build tools

// Package deps pins the team's agreed dependencies in go.mod while the packages that
// use them are being written. It is removed once every dependency has a real user.
package deps

import (
	_ "github.com/creack/pty"
	_ "github.com/dlclark/regexp2"
	_ "github.com/docker/docker/client"
	_ "github.com/go-git/go-git/v5"
	_ "github.com/gofrs/flock"
	_ "github.com/google/go-containerregistry/pkg/registry"
	_ "github.com/google/uuid"
	_ "github.com/santhosh-tekuri/jsonschema/v6"
	_ "github.com/schollz/progressbar/v3"
	_ "golang.org/x/sync/errgroup"
)
