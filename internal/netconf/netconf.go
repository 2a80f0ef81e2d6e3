// Package netconf is how modelhub reaches the network behind a hospital's
// proxy: the proxy comes from HTTPS_PROXY, HTTP_PROXY and NO_PROXY (Go's
// http.ProxyFromEnvironment), extra certificate authorities (a proxy that
// inspects TLS re-signs every site with its own CA) are added to the system's,
// and a proxy that refuses or a certificate that does not verify becomes one
// error naming the proxy or the CA to add. Every outgoing client (index, git,
// downloads) clones http.DefaultTransport, which Configure sets up, and wraps
// its transport with Explain.
package netconf

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"runtime"
	"strings"
)

// EnvCACert names extra CA files (PEM), separated like PATH, e.g. the
// certificate of a proxy that inspects TLS.
const EnvCACert = "MODELHUB_CACERT"

// systemBundles are the usual CA bundle files of Linux distributions. Go reads
// only SSL_CERT_FILE when it is set; modelhub adds it to these instead, so
// naming the proxy's CA there does not drop every other authority.
var systemBundles = []string{
	"/etc/ssl/certs/ca-certificates.crt",
	"/etc/pki/tls/certs/ca-bundle.crt",
	"/etc/ssl/ca-bundle.pem",
	"/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",
	"/etc/ssl/cert.pem",
}

// CAFiles lists the extra CA files: files (from --cacert), then
// $MODELHUB_CACERT, then $SSL_CERT_FILE.
func CAFiles(files []string) []string {
	out := append([]string{}, files...)
	if v := os.Getenv(EnvCACert); v != "" {
		for _, p := range strings.Split(v, string(os.PathListSeparator)) {
			if p != "" {
				out = append(out, p)
			}
		}
	}
	if v := os.Getenv("SSL_CERT_FILE"); v != "" {
		out = append(out, v)
	}
	return out
}

// Pool is the system's certificate pool with the PEM files added. A file
// that cannot be read or holds no certificate is an error naming it.
func Pool(files []string) (*x509.CertPool, error) {
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	if runtime.GOOS == "linux" && os.Getenv("SSL_CERT_FILE") != "" {
		for _, p := range systemBundles {
			if data, err := os.ReadFile(p); err == nil {
				pool.AppendCertsFromPEM(data)
			}
		}
	}
	for _, p := range files {
		data, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("read the CA file %s: %w (check --cacert, %s and SSL_CERT_FILE)", p, err, EnvCACert)
		}
		if !pool.AppendCertsFromPEM(data) {
			return nil, fmt.Errorf("the CA file %s holds no PEM certificate (-----BEGIN CERTIFICATE-----): check --cacert, %s and SSL_CERT_FILE", p, EnvCACert)
		}
	}
	return pool, nil
}

// Configure sets up http.DefaultTransport, which every outgoing client
// clones, once, before the first request: its trusted CAs (the system's plus
// the extra files, see CAFiles) and a proxy refusing a CONNECT becoming a
// *ProxyError. With no extra file the system's roots are left as Go finds them.
func Configure(files []string) error {
	t, ok := http.DefaultTransport.(*http.Transport)
	if !ok {
		return errors.New("http.DefaultTransport is not an *http.Transport")
	}
	if extra := CAFiles(files); len(extra) > 0 {
		pool, err := Pool(extra)
		if err != nil {
			return err
		}
		cfg := &tls.Config{}
		if t.TLSClientConfig != nil {
			cfg = t.TLSClientConfig.Clone()
		}
		cfg.RootCAs = pool
		t.TLSClientConfig = cfg
	}
	t.OnProxyConnectResponse = func(ctx context.Context, proxy *url.URL, req *http.Request, resp *http.Response) error {
		if resp.StatusCode == http.StatusOK {
			return nil
		}
		target := req.Host // a CONNECT names its target here (its URL is opaque)
		if target == "" {
			target = req.URL.Opaque
		}
		return &ProxyError{Proxy: Redact(proxy), Target: target, Status: resp.Status}
	}
	return nil
}

// ProxyError is a proxy refusing a request (407, 403 or another status).
type ProxyError struct {
	Proxy  string // the proxy's URL, without a password
	Target string // host:port asked for
	Status string // e.g. "407 Proxy Authentication Required"
}

func (e *ProxyError) Error() string {
	fix := "ask its administrators to allow " + e.Target + ", or set NO_PROXY if it should not go through the proxy"
	if strings.HasPrefix(e.Status, "407") {
		fix = "the proxy wants a user and password: put them in HTTPS_PROXY and HTTP_PROXY as http://USER:PASSWORD@HOST:PORT"
	}
	return fmt.Sprintf("the proxy %s refused the request for %s: %s (%s)", e.Proxy, e.Target, e.Status, fix)
}

// CertError is a server certificate that does not verify against the trusted CAs.
type CertError struct {
	Host   string
	Issuer string // the CA that signed it, when known
	Proxy  string // the proxy the request went through, if any
	Err    error
}

func (e *CertError) Error() string {
	who := "the certificate of " + e.Host
	if e.Issuer != "" {
		who += fmt.Sprintf(" is signed by %q, which is not trusted here", e.Issuer)
	} else {
		who += " does not verify"
	}
	via := ""
	if e.Proxy != "" {
		via = " (the request went through the proxy " + e.Proxy + ", which may re-sign sites with its own CA)"
	}
	return fmt.Sprintf("%s%s: add that CA's PEM file with --cacert FILE or %s=FILE (SSL_CERT_FILE works too) [%v]", who, via, EnvCACert, e.Err)
}

func (e *CertError) Unwrap() error { return e.Err }

// Explain wraps rt: a 407 answer (or a 403 the proxy itself made) becomes a
// *ProxyError, a certificate that does not verify a *CertError, and a proxy
// that does not answer an error naming it.
func Explain(rt http.RoundTripper) http.RoundTripper { return explainer{rt} }

type explainer struct{ base http.RoundTripper }

func (x explainer) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := x.base.RoundTrip(req)
	proxy := proxyFor(req)
	if err != nil {
		return nil, explainErr(err, req, proxy)
	}
	if proxy != "" && (resp.StatusCode == http.StatusProxyAuthRequired || (resp.StatusCode == http.StatusForbidden && fromProxy(resp))) {
		resp.Body.Close()
		return nil, &ProxyError{Proxy: proxy, Target: req.URL.Host, Status: resp.Status}
	}
	return resp, nil
}

func explainErr(err error, req *http.Request, proxy string) error {
	var pe *ProxyError
	if errors.As(err, &pe) {
		return pe
	}
	var ua x509.UnknownAuthorityError
	var ce x509.CertificateInvalidError
	var he x509.HostnameError
	var ve *tls.CertificateVerificationError
	switch {
	case errors.As(err, &ua):
		issuer := ""
		if ua.Cert != nil {
			issuer = ua.Cert.Issuer.CommonName
			if issuer == "" {
				issuer = ua.Cert.Issuer.String()
			}
		}
		return &CertError{Host: req.URL.Hostname(), Issuer: issuer, Proxy: proxy, Err: ua}
	case errors.As(err, &ce), errors.As(err, &he), errors.As(err, &ve):
		return &CertError{Host: req.URL.Hostname(), Proxy: proxy, Err: err}
	}
	if proxy != "" && strings.Contains(err.Error(), "proxyconnect") {
		return fmt.Errorf("the proxy %s does not answer: %w (check HTTPS_PROXY and HTTP_PROXY)", proxy, err)
	}
	return err
}

// fromProxy: a response the proxy made itself (squid's X-Squid-Error, or the
// standard Proxy-Status header).
func fromProxy(resp *http.Response) bool {
	return resp.Header.Get("X-Squid-Error") != "" || resp.Header.Get("Proxy-Status") != ""
}

// proxyFor is the proxy a request goes through (from the environment), "" when none.
func proxyFor(req *http.Request) string {
	u, err := http.ProxyFromEnvironment(req)
	if err != nil || u == nil {
		return ""
	}
	return Redact(u)
}

// Redact is u without its password.
func Redact(u *url.URL) string {
	if u == nil {
		return ""
	}
	return u.Redacted()
}
