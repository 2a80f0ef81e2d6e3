package dockerrun

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeContext writes a context as `docker context create` does.
func writeContext(t *testing.T, dir, name, host string, tlsFiles ...string) {
	t.Helper()
	sum := sha256.Sum256([]byte(name))
	id := hex.EncodeToString(sum[:])
	meta := filepath.Join(dir, "contexts", "meta", id)
	if err := os.MkdirAll(meta, 0o755); err != nil {
		t.Fatal(err)
	}
	body := `{"Name":"` + name + `","Metadata":{"Description":""},"Endpoints":{"docker":{"Host":"` + host + `","SkipTLSVerify":false}}}`
	if err := os.WriteFile(filepath.Join(meta, "meta.json"), []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, f := range tlsFiles {
		d := filepath.Join(dir, "contexts", "tls", id, "docker")
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(d, f), []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

func TestResolveEndpoint(t *testing.T) {
	dir := t.TempDir()
	writeContext(t, dir, "gpu", "ssh://me@gpu-server")
	writeContext(t, dir, "tls", "tcp://build:2376", "ca.pem", "cert.pem", "key.pem")
	writeContext(t, dir, "current", "tcp://current:2375")
	if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte(`{"auths":{},"currentContext":"current"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		flag    string
		env     map[string]string
		noCfg   bool
		want    string
		context string
		kind    EngineKind
	}{
		{name: "flag wins over everything", flag: "gpu", env: map[string]string{"DOCKER_HOST": "tcp://x:1", "DOCKER_CONTEXT": "tls"}, want: "ssh://me@gpu-server", context: "gpu", kind: EngineSSH},
		{name: "DOCKER_HOST over DOCKER_CONTEXT", env: map[string]string{"DOCKER_HOST": "tcp://10.1.2.3:2375", "DOCKER_CONTEXT": "gpu"}, want: "tcp://10.1.2.3:2375", context: "default", kind: EngineTCP},
		{name: "DOCKER_CONTEXT over config", env: map[string]string{"DOCKER_CONTEXT": "gpu"}, want: "ssh://me@gpu-server", context: "gpu", kind: EngineSSH},
		{name: "config's current context", want: "tcp://current:2375", context: "current", kind: EngineTCP},
		{name: "default context by name", flag: "default", want: defaultHost, context: "default", kind: EngineLocal},
		{name: "no config: the local socket", noCfg: true, want: defaultHost, context: "default", kind: EngineLocal},
		{name: "tcp on loopback is local", env: map[string]string{"DOCKER_HOST": "tcp://127.0.0.1:2375"}, want: "tcp://127.0.0.1:2375", context: "default", kind: EngineLocal},
		{name: "ssh on loopback is remote", env: map[string]string{"DOCKER_HOST": "ssh://root@127.0.0.1"}, want: "ssh://root@127.0.0.1", context: "default", kind: EngineSSH},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := dir
			if tt.noCfg {
				cfg = t.TempDir()
			}
			ep, err := ResolveEndpoint(EndpointOptions{Context: tt.flag, ConfigDir: cfg, Getenv: func(k string) string { return tt.env[k] }})
			if err != nil {
				t.Fatal(err)
			}
			if ep.Host != tt.want || ep.Context != tt.context || ep.Kind() != tt.kind {
				t.Errorf("got host %q context %q kind %v, want %q %q %v", ep.Host, ep.Context, ep.Kind(), tt.want, tt.context, tt.kind)
			}
			if ep.Remote() != (tt.kind != EngineLocal) {
				t.Errorf("Remote() = %v for kind %v", ep.Remote(), tt.kind)
			}
		})
	}

	ep, err := ResolveEndpoint(EndpointOptions{Context: "tls", ConfigDir: dir, Getenv: func(string) string { return "" }})
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Base(ep.CAFile) != "ca.pem" || filepath.Base(ep.CertFile) != "cert.pem" || filepath.Base(ep.KeyFile) != "key.pem" {
		t.Errorf("TLS files not found: %+v", ep)
	}
}

func TestResolveEndpointErrors(t *testing.T) {
	dir := t.TempDir()
	_, err := ResolveEndpoint(EndpointOptions{Context: "nope", ConfigDir: dir, Getenv: func(string) string { return "" }})
	if !errors.Is(err, ErrContextNotFound) || !strings.Contains(err.Error(), `"nope" (from --context)`) || !strings.Contains(err.Error(), "docker context ls") {
		t.Errorf("unknown --context: %v", err)
	}
	_, err = ResolveEndpoint(EndpointOptions{ConfigDir: dir, Getenv: func(k string) string {
		if k == "DOCKER_CONTEXT" {
			return "gone"
		}
		return ""
	}})
	if !errors.Is(err, ErrContextNotFound) || !strings.Contains(err.Error(), "DOCKER_CONTEXT") {
		t.Errorf("unknown DOCKER_CONTEXT: %v", err)
	}
	writeContext(t, dir, "bad", "")
	if _, err := ResolveEndpoint(EndpointOptions{Context: "bad", ConfigDir: dir}); err == nil || !strings.Contains(err.Error(), "no Docker endpoint") {
		t.Errorf("context without a host: %v", err)
	}
}

func TestNewForSSHDescribesTheServer(t *testing.T) {
	c, err := NewFor(Endpoint{Context: "gpu", Host: "ssh://me@gpu-server:2222"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if c.Host() != "ssh://me@gpu-server:2222" {
		t.Errorf("Host() = %q, want the ssh URL (not the SDK's dummy host)", c.Host())
	}
	if got := c.Endpoint().Describe(); got != "the Docker engine at ssh://me@gpu-server:2222 (context gpu)" {
		t.Errorf("Describe() = %q", got)
	}
}
