// Package engine is the one client of a modelhub engine's REST API (the
// routes of the engine's modelhubapi/restapi.py: get_config, get_legal,
// get_model_io, get_samples, predict, predict_sample, samples/, output/) and
// the one HTTP set-up for engines on this machine (NewHTTP). Everyone who talks
// to an engine goes through it: predict, modeltest, launch's readiness poll,
// the web UI and the CLI; no other package spells an /api/ route.
//
// The package is a leaf: it imports nothing of modelhub, so the leaf packages
// (webui, kube) may import it.
package engine

import (
	"net/http"
	"net/url"
	"strings"
	"time"
)

// The engine's routes.
const (
	RouteConfig        = "/api/get_config"
	RouteLegal         = "/api/get_legal"
	RouteModelIO       = "/api/get_model_io"
	RouteSamples       = "/api/get_samples"
	RoutePredict       = "/api/predict"
	RoutePredictSample = "/api/predict_sample"
	// SamplesPrefix is where the engine serves its sample files
	// (/api/samples/NAME, the URLs get_samples lists).
	SamplesPrefix = "/api/samples/"
	// OutputPrefix is where the engine serves a prediction's output files
	// (/api/output/NAME, the URLs an answer gives for large outputs).
	OutputPrefix = "/api/output/"
	// ReadyRoute answers 200 once the engine serves its model: the route
	// readiness polls (launch, kube's probes) ask.
	ReadyRoute = RouteConfig
)

// ConfigURL is the address of the model's config on an engine at base: the
// REST API address `modelhub run` prints.
func ConfigURL(base string) string { return strings.TrimRight(base, "/") + RouteConfig }

// ReadyURL is the address readiness polls ask on an engine at base.
func ReadyURL(base string) string { return strings.TrimRight(base, "/") + ReadyRoute }

// NewHTTP is the HTTP client for engines on this machine (loopback or a
// forwarded port): no proxy (a hospital's proxy must never see a model's
// traffic), conns connections kept alive per engine (one per request in
// flight; at least 2), idle ones closed after 30 s, no transparent
// compression and no overall timeout: each request carries its own deadline
// in its context, as a prediction may take minutes.
func NewHTTP(conns int) *http.Client {
	return &http.Client{Transport: NewTransport(conns)}
}

// NewTransport is NewHTTP's transport, for a reverse proxy to engines.
func NewTransport(conns int) *http.Transport {
	return &http.Transport{
		Proxy:               nil,
		MaxIdleConns:        100,
		MaxIdleConnsPerHost: max(conns, 2),
		IdleConnTimeout:     30 * time.Second,
		DisableCompression:  true,
	}
}

// shared is the client of a Client without its own HTTP.
var shared = NewHTTP(8)

// Client talks to one engine's REST API.
type Client struct {
	// Base is the engine's base URL, e.g. http://127.0.0.1:8000.
	Base string
	// HTTP makes the requests; nil: a shared NewHTTP client.
	HTTP *http.Client
	// MaxAnswer bounds a JSON answer; 0: MaxAnswer.
	MaxAnswer int64
}

// New is a client for the engine at base with the shared loopback HTTP client.
func New(base string) *Client { return &Client{Base: base} }

func (c *Client) http() *http.Client {
	if c.HTTP != nil {
		return c.HTTP
	}
	return shared
}

func (c *Client) limit() int64 {
	if c.MaxAnswer > 0 {
		return c.MaxAnswer
	}
	return MaxAnswer
}

// url is the address of route (with query q) on the engine.
func (c *Client) url(route string, q url.Values) string {
	u := strings.TrimRight(c.Base, "/") + route
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	return u
}

// URL is the address of route on the engine, e.g. URL(OutputPrefix+name).
func (c *Client) URL(route string) string { return c.url(route, nil) }

// IsOutputURL reports whether s is the URL of an output file the engine saved.
func IsOutputURL(s string) bool { return strings.Contains(s, OutputPrefix) }

// OutputPath is the /api/output/… part of an engine's output URL (the host
// differs between the engine's view and ours), or u itself when it has none.
func OutputPath(u string) string {
	if i := strings.Index(u, OutputPrefix); i >= 0 {
		return u[i:]
	}
	return u
}

// SampleName is the name of a sample file from its URL as get_samples lists
// it (…/api/samples/NAME), "" when u is not such a URL.
func SampleName(u string) string {
	pu, err := url.Parse(u)
	if err != nil {
		return ""
	}
	_, name, ok := strings.Cut(pu.Path, SamplesPrefix)
	if !ok || name == "" {
		return ""
	}
	return name
}

// Loopback is the shared NewHTTP client, for a request to an engine that
// is not one of Client's (a readiness poll through a forward).
func Loopback() *http.Client { return shared }
