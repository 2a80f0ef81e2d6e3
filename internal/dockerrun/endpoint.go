package dockerrun

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/docker/docker/client"
)

// Where a Docker engine runs, as seen from this machine.
type EngineKind int

const (
	// EngineLocal is an engine on this machine: a unix socket, a named pipe,
	// or tcp to a loopback address. Bind mounts of this machine's folders work.
	EngineLocal EngineKind = iota
	// EngineSSH is an engine reached through the system ssh
	// (ssh://user@host): its folders and its 127.0.0.1 are the server's.
	EngineSSH
	// EngineTCP is an engine on another machine reached over tcp.
	EngineTCP
)

// Endpoint says which Docker engine to talk to, as the Docker CLI resolves it:
// --context, else DOCKER_HOST, else DOCKER_CONTEXT, else the current context of
// the CLI's config.json, else the default (the local socket).
type Endpoint struct {
	Context string // the context's name; "default" for the environment
	Host    string // e.g. unix:///var/run/docker.sock, ssh://me@gpu, tcp://gpu:2376
	// TLS material of a context (empty for the default context, which
	// reads DOCKER_TLS_VERIFY and DOCKER_CERT_PATH as the SDK does).
	CAFile, CertFile, KeyFile string
	SkipTLSVerify             bool
	FromEnv                   bool // Host came from DOCKER_HOST
}

// Remote reports whether the engine runs on another machine, so that this
// machine's folders cannot be bind-mounted and its ports are not ours.
func (e Endpoint) Remote() bool { return e.Kind() != EngineLocal }

// Kind classifies the endpoint. An ssh engine is always remote, even on
// 127.0.0.1: its files are whatever the ssh server's user sees.
func (e Endpoint) Kind() EngineKind {
	u, err := url.Parse(e.Host)
	if err != nil {
		return EngineLocal
	}
	switch u.Scheme {
	case "ssh":
		return EngineSSH
	case "tcp", "http", "https":
		host := u.Hostname()
		if host == "localhost" {
			return EngineLocal
		}
		if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
			return EngineLocal
		}
		return EngineTCP
	}
	return EngineLocal
}

// Where the Docker CLI keeps its settings and contexts.
const (
	envDockerHost    = "DOCKER_HOST"
	envDockerContext = "DOCKER_CONTEXT"
	envDockerConfig  = "DOCKER_CONFIG"
	defaultContext   = "default"
)

// EndpointOptions are the inputs of ResolveEndpoint; zero values read the
// process environment and the user's ~/.docker.
type EndpointOptions struct {
	Context   string              // --context
	Getenv    func(string) string // default os.Getenv
	ConfigDir string              // default $DOCKER_CONFIG or ~/.docker
}

// ErrContextNotFound matches a --context (or DOCKER_CONTEXT, or current
// context) that the Docker CLI's context store does not hold.
var ErrContextNotFound = errors.New("docker context not found")

// ResolveEndpoint finds the engine the Docker CLI would use.
func ResolveEndpoint(o EndpointOptions) (Endpoint, error) {
	getenv := o.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	dir := o.ConfigDir
	if dir == "" {
		dir = getenv(envDockerConfig)
	}
	if dir == "" {
		if home, err := os.UserHomeDir(); err == nil {
			dir = filepath.Join(home, ".docker")
		}
	}
	name, source := o.Context, "--context"
	if name == "" {
		switch {
		case getenv(envDockerHost) != "":
			name = defaultContext
		case getenv(envDockerContext) != "":
			name, source = getenv(envDockerContext), envDockerContext
		default:
			name, source = currentContext(dir), "the current context in "+filepath.Join(dir, "config.json")
		}
	}
	if name == "" || name == defaultContext {
		host := getenv(envDockerHost)
		ep := Endpoint{Context: defaultContext, Host: host, FromEnv: host != ""}
		if host == "" {
			ep.Host = defaultHost
		}
		return ep, nil
	}
	return readContext(dir, name, source)
}

func currentContext(dir string) string {
	b, err := os.ReadFile(filepath.Join(dir, "config.json"))
	if err != nil {
		return ""
	}
	var cfg struct {
		CurrentContext string `json:"currentContext"`
	}
	if json.Unmarshal(b, &cfg) != nil {
		return ""
	}
	return cfg.CurrentContext
}

// readContext reads a context from the Docker CLI's store: its metadata in
// contexts/meta/<sha256 of the name>/meta.json, its TLS files beside it in
// contexts/tls/<same>/docker/.
func readContext(dir, name, source string) (Endpoint, error) {
	sum := sha256.Sum256([]byte(name))
	id := hex.EncodeToString(sum[:])
	metaPath := filepath.Join(dir, "contexts", "meta", id, "meta.json")
	b, err := os.ReadFile(metaPath)
	if errors.Is(err, os.ErrNotExist) {
		return Endpoint{}, fmt.Errorf("docker context %q (from %s) does not exist: %w; list them with `docker context ls`, or pass --context default for the local engine", name, source, ErrContextNotFound)
	}
	if err != nil {
		return Endpoint{}, fmt.Errorf("read docker context %q: %w", name, err)
	}
	var meta struct {
		Name      string
		Endpoints map[string]struct {
			Host          string
			SkipTLSVerify bool
		}
	}
	if err := json.Unmarshal(b, &meta); err != nil {
		return Endpoint{}, fmt.Errorf("docker context %q: %s is not valid JSON (%v); recreate it with `docker context create`", name, metaPath, err)
	}
	d, ok := meta.Endpoints["docker"]
	if !ok || d.Host == "" {
		return Endpoint{}, fmt.Errorf("docker context %q has no Docker endpoint; recreate it with `docker context create %s --docker host=...`", name, name)
	}
	ep := Endpoint{Context: name, Host: d.Host, SkipTLSVerify: d.SkipTLSVerify}
	tls := filepath.Join(dir, "contexts", "tls", id, "docker")
	for _, f := range []struct {
		name string
		dst  *string
	}{{"ca.pem", &ep.CAFile}, {"cert.pem", &ep.CertFile}, {"key.pem", &ep.KeyFile}} {
		p := filepath.Join(tls, f.name)
		if _, err := os.Stat(p); err == nil {
			*f.dst = p
		}
	}
	return ep, nil
}

// Describe names the engine for messages: "the Docker engine at HOST
// (context NAME)".
func (e Endpoint) Describe() string {
	s := "the Docker engine at " + e.Host
	if e.Context != "" && e.Context != defaultContext {
		s += " (context " + e.Context + ")"
	}
	return s
}

// sshTarget returns user@host of an ssh endpoint, for messages.
func (e Endpoint) sshTarget() string {
	u, err := url.Parse(e.Host)
	if err != nil {
		return e.Host
	}
	return strings.TrimPrefix(u.String(), "ssh://")
}

const defaultHost = client.DefaultDockerHost
