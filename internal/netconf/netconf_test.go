package netconf

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCAFiles(t *testing.T) {
	t.Setenv(EnvCACert, "a.pem"+string(os.PathListSeparator)+"b.pem")
	t.Setenv("SSL_CERT_FILE", "c.pem")
	if got := strings.Join(CAFiles([]string{"flag.pem"}), ","); got != "flag.pem,a.pem,b.pem,c.pem" {
		t.Errorf("CAFiles = %s", got)
	}
}

func TestPoolErrors(t *testing.T) {
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "x.pem")
	os.WriteFile(notPEM, []byte("hello"), 0o644)
	if _, err := Pool([]string{notPEM}); err == nil || !strings.Contains(err.Error(), "holds no PEM certificate") {
		t.Errorf("not PEM: %v", err)
	}
	if _, err := Pool([]string{filepath.Join(dir, "missing.pem")}); err == nil || !strings.Contains(err.Error(), "read the CA file") {
		t.Errorf("missing: %v", err)
	}
}

// Without a proxy, a 407 or 403 is the server's answer: passed on as it is.
func TestExplainNoProxy(t *testing.T) {
	t.Setenv("HTTP_PROXY", "")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Squid-Error", "ERR_ACCESS_DENIED 0")
		w.WriteHeader(http.StatusForbidden)
	}))
	defer srv.Close()
	c := &http.Client{Transport: Explain(http.DefaultTransport)}
	resp, err := c.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("status %d", resp.StatusCode)
	}
}

func TestErrorsNameTheFix(t *testing.T) {
	pe := &ProxyError{Proxy: "http://proxy:3128", Target: "h:443", Status: "407 Proxy Authentication Required"}
	if !strings.Contains(pe.Error(), "http://USER:PASSWORD@HOST:PORT") || !strings.Contains(pe.Error(), "the proxy http://proxy:3128") {
		t.Errorf("407: %s", pe)
	}
	ce := &CertError{Host: "h", Issuer: "Hospital CA", Err: os.ErrInvalid}
	if !strings.Contains(ce.Error(), `signed by "Hospital CA"`) || !strings.Contains(ce.Error(), "--cacert FILE") {
		t.Errorf("cert: %s", ce)
	}
}
