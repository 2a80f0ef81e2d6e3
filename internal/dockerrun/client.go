// Package dockerrun is the only package that talks to the Docker Engine API.
// It exposes a small interface of its own (ping, images, containers) with its
// own option and result types, and never prints: progress is reported through
// callbacks and failures through typed errors.
package dockerrun

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"os"
	"runtime"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/cli/cli/connhelper"
	"github.com/docker/docker/client"
)

// Client talks to one Docker Engine. Build it with New or Connect.
type Client struct {
	api  *client.Client
	ep   Endpoint
	ping time.Duration // Ping's bound (0: DefaultPingTimeout)
}

// New builds a client of the engine the Docker CLI would use (see
// ResolveEndpoint) with API version negotiation. It does not connect: the
// first call does.
func New() (*Client, error) {
	ep, err := ResolveEndpoint(EndpointOptions{})
	if err != nil {
		return nil, err
	}
	return NewFor(ep)
}

// NewFor builds a client of one endpoint. An ssh:// engine is reached as the
// Docker CLI reaches it: the system ssh runs `docker system dial-stdio` on
// the server.
func NewFor(ep Endpoint) (*Client, error) {
	opts := []client.Opt{client.WithAPIVersionNegotiation()}
	if ep.Context == defaultContext || ep.Context == "" {
		opts = append(opts, client.FromEnv)
	}
	if ep.Kind() == EngineSSH {
		helper, err := connhelper.GetConnectionHelper(ep.Host)
		if err != nil {
			return nil, fmt.Errorf("docker host %s: %w; use ssh://[user@]host[:port]", ep.Host, err)
		}
		hc := &http.Client{Transport: &http.Transport{DialContext: helper.Dialer}}
		opts = append(opts, client.WithHTTPClient(hc), client.WithHost(helper.Host), client.WithDialContext(helper.Dialer))
	} else {
		opts = append(opts, client.WithHost(ep.Host))
		if ep.CAFile != "" || ep.CertFile != "" || ep.SkipTLSVerify {
			opts = append(opts, withContextTLS(ep))
		}
	}
	api, err := client.NewClientWithOpts(opts...)
	if err != nil {
		return nil, fmt.Errorf("docker client for %s: %w (check DOCKER_HOST, DOCKER_CERT_PATH or the context)", ep.Describe(), err)
	}
	return &Client{api: api, ep: ep}, nil
}

// withContextTLS sets the client TLS of a Docker context's files.
func withContextTLS(ep Endpoint) client.Opt {
	return func(c *client.Client) error {
		cfg := &tls.Config{InsecureSkipVerify: ep.SkipTLSVerify} //nolint:gosec // the context asks for it
		if ep.CAFile != "" {
			pem, err := os.ReadFile(ep.CAFile)
			if err != nil {
				return err
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return fmt.Errorf("%s holds no certificate", ep.CAFile)
			}
			cfg.RootCAs = pool
		}
		if ep.CertFile != "" && ep.KeyFile != "" {
			cert, err := tls.LoadX509KeyPair(ep.CertFile, ep.KeyFile)
			if err != nil {
				return err
			}
			cfg.Certificates = []tls.Certificate{cert}
		}
		hc := &http.Client{Transport: &http.Transport{TLSClientConfig: cfg}}
		if err := client.WithHTTPClient(hc)(c); err != nil {
			return err
		}
		return client.WithScheme("https")(c)
	}
}

// Endpoint is the engine this client talks to.
func (c *Client) Endpoint() Endpoint { return c.ep }

// DefaultPingTimeout bounds Ping: connecting to the daemon and its first
// answer. A daemon that accepts the connection and never answers is then
// reported as an *UnreachableError instead of hanging the command.
const DefaultPingTimeout = 10 * time.Second

// ConnectOptions tune Connect and ConnectTo.
type ConnectOptions struct {
	// PingTimeout bounds each Ping (0: DefaultPingTimeout; three times it
	// for an ssh:// engine, where an ssh login comes first).
	PingTimeout time.Duration
}

// Connect is New followed by Ping, so an unreachable daemon is reported once,
// up front, as an *UnreachableError.
func Connect(ctx context.Context, o ...ConnectOptions) (*Client, error) {
	c, err := New()
	if err != nil {
		return nil, err
	}
	return connected(ctx, c, o)
}

// ConnectTo is NewFor followed by Ping.
func ConnectTo(ctx context.Context, ep Endpoint, o ...ConnectOptions) (*Client, error) {
	c, err := NewFor(ep)
	if err != nil {
		return nil, err
	}
	return connected(ctx, c, o)
}

func connected(ctx context.Context, c *Client, o []ConnectOptions) (*Client, error) {
	for _, o := range o {
		c.ping = o.PingTimeout
	}
	if err := c.Ping(ctx); err != nil {
		c.Close()
		return nil, err
	}
	// Settle the API version now, before the client is shared: left to the
	// first request, two goroutines' first requests race on it (the SDK
	// writes the version it negotiates while another request reads it; the
	// race detector caught it when cmd/cli's e2e tests ran in parallel).
	c.api.NegotiateAPIVersion(ctx)
	return c, nil
}

// Close releases the client's connections.
func (c *Client) Close() error { return c.api.Close() }

// Host is the daemon address in use, e.g. unix:///var/run/docker.sock.
func (c *Client) Host() string {
	if c.ep.Host != "" {
		return c.ep.Host
	}
	return c.api.DaemonHost()
}

// Ping checks that the daemon answers within its ping timeout (and negotiates the
// API version). A cancelled ctx gives ctx's error, never an *UnreachableError:
// an interrupted command must not take an unanswered ping for "no daemon".
func (c *Client) Ping(ctx context.Context) error {
	timeout := c.ping
	if timeout <= 0 {
		timeout = DefaultPingTimeout
	}
	if c.ep.Kind() == EngineSSH {
		timeout *= 3 // an ssh login comes first
	}
	pctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	_, err := c.api.Ping(pctx)
	switch {
	case err == nil:
		return nil
	case ctx.Err() != nil:
		return ctx.Err()
	case pctx.Err() != nil:
		return &UnreachableError{Host: c.Host(), FromEnv: os.Getenv("DOCKER_HOST") != "", Timeout: timeout, Err: err}
	}
	return c.wrap(err)
}

// ErrUnreachable matches an *UnreachableError with errors.Is.
var ErrUnreachable = errors.New("docker daemon unreachable")

// UnreachableError says that the Docker daemon did not answer, and how to fix it.
type UnreachableError struct {
	Host       string // daemon address tried
	FromEnv    bool   // Host came from DOCKER_HOST
	Permission bool   // the socket exists but we may not use it
	// Timeout is set when the daemon did not answer within it (it may have
	// accepted the connection): a daemon may be there, stuck or starting.
	Timeout time.Duration
	Err     error
}

func (e *UnreachableError) Error() string {
	if e.Timeout > 0 {
		switch {
		case e.FromEnv:
			return fmt.Sprintf("the Docker daemon at %s (DOCKER_HOST) did not answer within %s; check that DOCKER_HOST names a running Docker daemon (unset it to use the local daemon)", e.Host, e.Timeout)
		case runtime.GOOS == "linux":
			return fmt.Sprintf("the Docker daemon at %s did not answer within %s; it may be starting or stuck: check it (`systemctl status docker`, or Docker Desktop) and try again", e.Host, e.Timeout)
		default:
			return fmt.Sprintf("the Docker daemon at %s did not answer within %s; it may be starting or stuck: check Docker Desktop and try again", e.Host, e.Timeout)
		}
	}
	reason := rootCause(e.Host, e.Err)
	switch {
	case e.Permission:
		return fmt.Sprintf("cannot use the Docker daemon at %s: permission denied; add your user to the docker group (then log in again) or run Docker Desktop", e.Host)
	case e.FromEnv:
		return fmt.Sprintf("cannot reach the Docker daemon at %s (DOCKER_HOST): %s; check DOCKER_HOST (unset it to use the local daemon) or start Docker there", e.Host, reason)
	case runtime.GOOS == "linux":
		return fmt.Sprintf("cannot reach the Docker daemon at %s: %s; start Docker (`sudo systemctl start docker`, or Docker Desktop) and try again", e.Host, reason)
	default:
		return fmt.Sprintf("cannot reach the Docker daemon at %s: %s; start Docker Desktop and try again", e.Host, reason)
	}
}

func (e *UnreachableError) Unwrap() error { return e.Err }

// ErrNoAnswer matches an *UnreachableError whose daemon did not answer in
// time: unlike a refused connection, a daemon may be there and running containers.
var ErrNoAnswer = errors.New("docker daemon did not answer")

// Is makes errors.Is(err, ErrUnreachable) true, and errors.Is(err, ErrNoAnswer)
// after a timeout.
func (e *UnreachableError) Is(target error) bool {
	return target == ErrUnreachable || (target == ErrNoAnswer && e.Timeout > 0)
}

// rootCause says in a few words why host did not answer. The SDK drops the
// network reason for refused connections, so dial once more to find it.
func rootCause(host string, err error) string {
	if r := netReason(err); r != "" {
		return r
	}
	u, perr := url.Parse(host)
	if perr != nil {
		return "invalid address"
	}
	var derr error
	switch u.Scheme {
	case "unix":
		if _, serr := os.Stat(u.Path); serr != nil {
			return "no such socket"
		}
		var conn net.Conn
		if conn, derr = net.DialTimeout("unix", u.Path, time.Second); derr == nil {
			conn.Close()
		}
	case "tcp", "http", "https":
		var conn net.Conn
		if conn, derr = net.DialTimeout("tcp", u.Host, time.Second); derr == nil {
			conn.Close()
		}
	}
	if r := netReason(derr); r != "" {
		return r
	}
	return "no answer"
}

func netReason(err error) string {
	var op *net.OpError
	if errors.As(err, &op) && op.Err != nil {
		var sys *os.SyscallError
		if errors.As(op.Err, &sys) {
			return sys.Err.Error()
		}
		return op.Err.Error()
	}
	return ""
}

// wrap turns connection failures into *UnreachableError and leaves other
// errors alone.
func (c *Client) wrap(err error) error {
	if err == nil {
		return nil
	}
	perm := errors.Is(err, fs.ErrPermission) || strings.Contains(err.Error(), "permission denied while trying to connect")
	if client.IsErrConnectionFailed(err) || perm || isDialError(err) {
		return &UnreachableError{Host: c.Host(), FromEnv: os.Getenv("DOCKER_HOST") != "", Permission: perm, Err: err}
	}
	return err
}

func isDialError(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

// Typed errors callers test with errors.Is.
var (
	ErrImageNotFound     = errors.New("image not found")
	ErrContainerNotFound = errors.New("container not found")
	ErrImageInUse        = errors.New("image is used by a container")
	ErrPortBusy          = errors.New("port is already in use")
	// ErrNameInUse: a container of that name exists (Docker's 409 conflict).
	ErrNameInUse = errors.New("container name is already in use")
)

func isNotFound(err error) bool { return cerrdefs.IsNotFound(err) }
