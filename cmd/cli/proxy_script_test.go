package cli

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/modelhub-ai/modelhub/internal/testutil"
)

// Behind a hospital proxy: a real squid (Debian's) on 127.0.0.1, whose
// hosts_file alone resolves the made-up names below, so a request that does
// not go through the proxy fails (Go never proxies loopback addresses, hence
// the names). The scripts read squid's access log to prove each request went
// through it.
const (
	proxyHost   = "models.hospital.test"  // allowed
	blockedHost = "blocked.hospital.test" // squid answers 403
	authHost    = "auth.hospital.test"    // squid wants credentials: 407 without
)

func squidPath() string { return testutil.SystemProgram("squid") }

func init() {
	scriptConds["squid"] = func() (bool, error) {
		if squidPath() != "" {
			return true, nil
		}
		if os.Getenv("MODELHUB_REQUIRE_SQUID") != "" {
			return false, fmt.Errorf("MODELHUB_REQUIRE_SQUID is set but squid is not installed (apt-get install squid)")
		}
		fmt.Fprintln(os.Stderr, "SKIP (squid is not installed: the proxy tests did not run; apt-get install squid)")
		return false, nil
	}
	scriptCmds["squid-start"] = cmdSquidStart
	scriptCmds["squid-log"] = cmdSquidLog
	scriptCmds["proxy-host"] = cmdProxyHost
	scriptCmds["serve-tls-index"] = cmdServeTLSIndex
	scriptCmds["tls-front"] = cmdTLSFront
}

// squid-start: start squid on 127.0.0.1 (stopped when the script ends); set
// $SQUID_URL, and HTTP_PROXY, HTTPS_PROXY to it with NO_PROXY empty.
func cmdSquidStart(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 0 {
		ts.Fatalf("usage: squid-start")
	}
	bin := squidPath()
	if bin == "" {
		ts.Fatalf("squid is not installed: guard the script with [!squid] skip")
	}
	// squid drops root for the user "proxy": its folder must be open to it
	dir, err := os.MkdirTemp("", "modelhub-squid-")
	ts.Check(err)
	ts.Defer(func() { os.RemoveAll(dir) })
	ts.Check(os.Chmod(dir, 0o777))
	port := freePortTS(ts)
	hosts := "127.0.0.1 " + proxyHost + " " + blockedHost + " " + authHost + "\n"
	ts.Check(os.WriteFile(filepath.Join(dir, "hosts"), []byte(hosts), 0o644))
	for _, f := range []string{"access.log", "cache.log"} {
		ts.Check(os.WriteFile(filepath.Join(dir, f), nil, 0o666))
		ts.Check(os.Chmod(filepath.Join(dir, f), 0o666))
	}
	conf := strings.NewReplacer("DIR", dir, "PORT", strconv.Itoa(port), "BLOCKED", blockedHost, "AUTH", authHost).Replace(`http_port 127.0.0.1:PORT
pid_filename DIR/squid.pid
access_log stdio:DIR/access.log
cache_log DIR/cache.log
cache_store_log none
strip_query_terms off
cache deny all
hosts_file DIR/hosts
dns_nameservers 127.0.0.1
coredump_dir DIR
shutdown_lifetime 0 seconds
auth_param basic program /usr/lib/squid/basic_fake_auth
acl authed proxy_auth REQUIRED
acl needauth dstdomain AUTH
acl blocked dstdomain BLOCKED
http_access deny blocked
http_access deny needauth !authed
http_access allow all
`)
	if os.Geteuid() == 0 {
		conf += "cache_effective_user proxy\n"
	}
	ts.Check(os.WriteFile(filepath.Join(dir, "squid.conf"), []byte(conf), 0o644))
	cmd := exec.Command(bin, "-f", filepath.Join(dir, "squid.conf"), "-N")
	out, err := os.Create(filepath.Join(dir, "squid.out"))
	ts.Check(err)
	cmd.Stdout, cmd.Stderr = out, out
	ts.Check(cmd.Start())
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	ts.Defer(func() {
		cmd.Process.Signal(os.Interrupt)
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-done
		}
		out.Close()
	})
	addr := "127.0.0.1:" + strconv.Itoa(port)
	deadline := time.Now().Add(60 * time.Second)
	for {
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			break
		}
		select {
		case <-done:
			log, _ := os.ReadFile(filepath.Join(dir, "squid.out"))
			clog, _ := os.ReadFile(filepath.Join(dir, "cache.log"))
			ts.Fatalf("squid exited at start:\n%s\n%s", log, clog)
		default:
		}
		if time.Now().After(deadline) {
			ts.Fatalf("squid does not listen on %s after a minute", addr)
		}
		time.Sleep(100 * time.Millisecond)
	}
	u := "http://" + addr
	ts.Setenv("SQUID_URL", u)
	ts.Setenv("SQUID_PORT", strconv.Itoa(port))
	ts.Setenv("SQUID_LOG", filepath.Join(dir, "access.log"))
	for _, k := range []string{"HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"} {
		ts.Setenv(k, u)
	}
	ts.Setenv("NO_PROXY", "")
	ts.Setenv("no_proxy", "")
}

// squid-log [-wait REGEX]...: print squid's access log as "RESULT METHOD URL"
// lines. Squid logs a transaction when it ends (a CONNECT tunnel when the
// tunnel closes, a moment after the client has gone), so each -wait REGEX
// makes it wait (up to 30 s) until some line matches; then it prints the log
// as it is, and the script's stdout checks say what is missing.
func cmdSquidLog(ts *testscript.TestScript, neg bool, args []string) {
	var wait []*regexp.Regexp
	for len(args) > 1 && args[0] == "-wait" {
		wait = append(wait, regexp.MustCompile(args[1]))
		args = args[2:]
	}
	if neg || len(args) != 0 {
		ts.Fatalf("usage: squid-log [-wait REGEX]...")
	}
	var lines []string
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		data, err := os.ReadFile(ts.Getenv("SQUID_LOG"))
		ts.Check(err)
		lines = lines[:0]
		for _, l := range strings.Split(strings.TrimSpace(string(data)), "\n") {
			if f := strings.Fields(l); len(f) >= 7 {
				lines = append(lines, fmt.Sprintf("%s %s %s", f[3], f[5], f[6]))
			}
		}
		if allMatch(wait, lines) || time.Now().After(deadline) {
			break
		}
	}
	for _, l := range lines {
		fmt.Fprintln(ts.Stdout(), l)
	}
}

// allMatch reports whether each of res matches one of lines.
func allMatch(res []*regexp.Regexp, lines []string) bool {
	for _, re := range res {
		if !slices.ContainsFunc(lines, re.MatchString) {
			return false
		}
	}
	return true
}

// proxy-host [-host NAME] [-as NEW] VAR...: replace the host (127.0.0.1) of
// each URL variable by NAME (default models.hospital.test), so that only the proxy
// resolves it; with -as, set NEW instead of changing VAR (one VAR).
func cmdProxyHost(ts *testscript.TestScript, neg bool, args []string) {
	host, as := proxyHost, ""
	for len(args) > 1 && strings.HasPrefix(args[0], "-") {
		switch args[0] {
		case "-host":
			host = args[1]
		case "-as":
			as = args[1]
		default:
			ts.Fatalf("proxy-host: unknown flag %s", args[0])
		}
		args = args[2:]
	}
	if neg || len(args) == 0 || (as != "" && len(args) != 1) {
		ts.Fatalf("usage: proxy-host [-host NAME] [-as NEW] VAR...")
	}
	for _, k := range args {
		u, err := url.Parse(ts.Getenv(k))
		ts.Check(err)
		u.Host = host + ":" + u.Port()
		if as != "" {
			k = as
		}
		ts.Setenv(k, u.String())
	}
}

// serve-tls-index FILE: serve FILE over https at $TLS_INDEX_URL
// (https://models.hospital.test:PORT/models.json) with a certificate of a CA of
// its own, written to $WORK/ca.pem, that nothing else trusts.
func cmdServeTLSIndex(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: serve-tls-index FILE")
	}
	body := []byte(ts.ReadFile(args[0]))
	cert := scriptCert(ts)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/models.json" {
			http.NotFound(w, r)
			return
		}
		w.Write(body)
	}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	srv.StartTLS()
	ts.Defer(srv.Close)
	u, _ := url.Parse(srv.URL)
	ts.Setenv("TLS_INDEX_URL", "https://"+proxyHost+":"+u.Port()+"/models.json")
}

// scriptCerts holds each script's certificate for proxyHost, signed by a CA
// of the script's own (written to $WORK/ca.pem when first made).
var scriptCerts sync.Map // *testscript.TestScript -> tls.Certificate

func scriptCert(ts *testscript.TestScript) tls.Certificate {
	if c, ok := scriptCerts.Load(ts); ok {
		return c.(tls.Certificate)
	}
	caPEM, cert, err := testCA(proxyHost)
	ts.Check(err)
	ts.Check(os.WriteFile(ts.MkAbs("ca.pem"), caPEM, 0o644))
	scriptCerts.Store(ts, cert)
	ts.Defer(func() { scriptCerts.Delete(ts) })
	return cert
}

// tls-front VAR...: for each VAR holding an http URL (e.g. GIT_URL, FILES_URL
// after proxy-host), serve https in front of it, with the script's
// certificate of a CA only $WORK/ca.pem holds, and set VAR to
// https://models.hospital.test:PORT (its path kept) and VAR_TLS_PORT to PORT.
func cmdTLSFront(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) == 0 {
		ts.Fatalf("usage: tls-front VAR...")
	}
	cert := scriptCert(ts)
	for _, k := range args {
		u, err := url.Parse(ts.Getenv(k))
		ts.Check(err)
		if u.Scheme != "http" {
			ts.Fatalf("tls-front: $%s is %q, not an http URL", k, u)
		}
		// the front reaches its server directly, not through the made-up name
		target := &url.URL{Scheme: "http", Host: "127.0.0.1:" + u.Port()}
		srv := httptest.NewUnstartedServer(&httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.Out.Host = target.Host
		}})
		srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
		srv.StartTLS()
		ts.Defer(srv.Close)
		port := srv.Listener.Addr().(*net.TCPAddr).Port
		u.Scheme, u.Host = "https", proxyHost+":"+strconv.Itoa(port)
		ts.Setenv(k, u.String())
		ts.Setenv(k+"_TLS_PORT", strconv.Itoa(port))
	}
}

// testCA makes a CA ("modelhub test proxy CA") and a certificate for host signed by it.
func testCA(host string) (caPEM []byte, leaf tls.Certificate, err error) {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, leaf, err
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "modelhub test proxy CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, leaf, err
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, leaf, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: host}, DNSNames: []string{host},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return nil, leaf, err
	}
	leaf = tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), leaf, nil
}

func freePortTS(ts *testscript.TestScript) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	ts.Check(err)
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
