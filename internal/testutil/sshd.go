package testutil

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"
	"time"
)

// SSHD is an sshd on 127.0.0.1 in front of this machine's Docker daemon: the
// "GPU server down the hall" of the remote-engine tests.
type SSHD struct {
	URL  string // ssh://root@127.0.0.1:PORT, a DOCKER_HOST
	Bin  string // a folder to put first on PATH: its `ssh` knows the test's key
	Port int
}

// EnvRequireSSHD makes a missing sshd fail the tests instead of skipping
// them (.ci/run sets it after installing openssh-server).
const EnvRequireSSHD = "MODELHUB_REQUIRE_SSHD"

// StartSSHD starts an sshd on a free loopback port that accepts root with a
// key made for the test, and stops it when the test ends. It skips loudly
// when sshd or ssh is missing, or when not running as root (sshd must be
// able to log root in), unless EnvRequireSSHD is set.
func StartSSHD(t testing.TB) *SSHD {
	t.Helper()
	sshd, err := exec.LookPath("sshd")
	if err != nil {
		if _, serr := os.Stat("/usr/sbin/sshd"); serr == nil {
			sshd, err = "/usr/sbin/sshd", nil
		}
	}
	sshBin, err2 := exec.LookPath("ssh")
	why := ""
	switch {
	case runtime.GOOS == "windows":
		why = "no sshd on Windows"
	case err != nil || err2 != nil:
		why = "sshd or ssh is not installed (apt-get install openssh-server openssh-client)"
	case os.Geteuid() != 0:
		why = "the test sshd logs in root and needs to run as root"
	}
	if why != "" {
		msg := "SKIP (this remote-engine test did not run): " + why
		if os.Getenv(EnvRequireSSHD) != "" {
			t.Fatal(msg + " — and " + EnvRequireSSHD + " is set")
		}
		fmt.Fprintln(os.Stderr, msg)
		t.Skip(msg)
	}
	dir := t.TempDir()
	run := func(name string, args ...string) {
		t.Helper()
		if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
			t.Fatalf("%s %v: %v\n%s", name, args, err, out)
		}
	}
	run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", filepath.Join(dir, "hostkey"))
	run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", filepath.Join(dir, "id"))
	pub, err := os.ReadFile(filepath.Join(dir, "id.pub"))
	if err != nil {
		t.Fatal(err)
	}
	must(t, os.WriteFile(filepath.Join(dir, "authorized_keys"), pub, 0o600))
	port := FreePort(t)
	cfg := fmt.Sprintf(`Port %d
ListenAddress 127.0.0.1
HostKey %s
PidFile %s
AuthorizedKeysFile %s
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
StrictModes no
UsePAM no
LogLevel ERROR
`, port, filepath.Join(dir, "hostkey"), filepath.Join(dir, "sshd.pid"), filepath.Join(dir, "authorized_keys"))
	must(t, os.WriteFile(filepath.Join(dir, "sshd_config"), []byte(cfg), 0o600))
	must(t, os.MkdirAll("/run/sshd", 0o755)) // privilege separation folder
	cmd := exec.Command(sshd, "-D", "-e", "-f", filepath.Join(dir, "sshd_config"))
	logf, err := os.Create(filepath.Join(dir, "sshd.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		logf.Close()
		if t.Failed() {
			b, _ := os.ReadFile(logf.Name())
			t.Logf("sshd log:\n%s", b)
		}
	})
	clientCfg := fmt.Sprintf(`Host *
  IdentityFile %s
  IdentitiesOnly yes
  StrictHostKeyChecking no
  UserKnownHostsFile /dev/null
  LogLevel ERROR
`, filepath.Join(dir, "id"))
	must(t, os.WriteFile(filepath.Join(dir, "ssh_config"), []byte(clientCfg), 0o600))
	bin := filepath.Join(dir, "bin")
	must(t, os.MkdirAll(bin, 0o755))
	wrapper := fmt.Sprintf("#!/bin/sh\nexec %s -F %s \"$@\"\n", sshBin, filepath.Join(dir, "ssh_config"))
	must(t, os.WriteFile(filepath.Join(bin, "ssh"), []byte(wrapper), 0o755))
	deadline := time.Now().Add(20 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(port), time.Second)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(logf.Name())
			t.Fatalf("sshd did not listen on 127.0.0.1:%d: %v\n%s", port, err, b)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return &SSHD{URL: fmt.Sprintf("ssh://root@127.0.0.1:%d", port), Bin: bin, Port: port}
}

// PathWith returns PATH with the SSHD's ssh first.
func (s *SSHD) PathWith() string {
	return s.Bin + string(os.PathListSeparator) + os.Getenv("PATH")
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
