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

// SSHDUnavailable says why no test sshd can run here ("" when one can).
func SSHDUnavailable() string {
	_, err := sshdPath()
	_, err2 := exec.LookPath("ssh")
	switch {
	case runtime.GOOS == "windows":
		return "no sshd on Windows"
	case err != nil || err2 != nil:
		return "sshd or ssh is not installed (apt-get install openssh-server openssh-client)"
	case os.Geteuid() != 0:
		return "the test sshd logs in root and needs to run as root"
	}
	return ""
}

func sshdPath() (string, error) {
	if p, err := exec.LookPath("sshd"); err == nil {
		return p, nil
	}
	if _, err := os.Stat("/usr/sbin/sshd"); err != nil {
		return "", err
	}
	return "/usr/sbin/sshd", nil
}

// StartSSHD starts an sshd on a free loopback port that accepts root with a
// key made for the test, and stops it when the test ends. It skips loudly
// when SSHDUnavailable says why, unless EnvRequireSSHD is set.
func StartSSHD(t testing.TB) *SSHD {
	t.Helper()
	if why := SSHDUnavailable(); why != "" {
		SkipUnlessRequired(t, "remote-engine", why, EnvRequireSSHD)
	}
	s, stop, err := RunSSHD(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	return s
}

// RunSSHD starts the test sshd with its files in dir; stop ends it.
func RunSSHD(dir string) (s *SSHD, stop func(), err error) {
	sshd, err := sshdPath()
	if err != nil {
		return nil, nil, err
	}
	sshBin, err := exec.LookPath("ssh")
	if err != nil {
		return nil, nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, nil, err
	}
	for _, args := range [][]string{
		{"-q", "-t", "ed25519", "-N", "", "-f", filepath.Join(dir, "hostkey")},
		{"-q", "-t", "ed25519", "-N", "", "-f", filepath.Join(dir, "id")},
	} {
		if out, err := exec.Command("ssh-keygen", args...).CombinedOutput(); err != nil {
			return nil, nil, fmt.Errorf("ssh-keygen: %v: %s", err, out)
		}
	}
	pub, err := os.ReadFile(filepath.Join(dir, "id.pub"))
	if err != nil {
		return nil, nil, err
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, nil, err
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
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
	clientCfg := fmt.Sprintf(`Host *
  IdentityFile %s
  IdentitiesOnly yes
  StrictHostKeyChecking no
  UserKnownHostsFile /dev/null
  LogLevel ERROR
`, filepath.Join(dir, "id"))
	bin := filepath.Join(dir, "bin")
	wrapper := fmt.Sprintf("#!/bin/sh\nexec %s -F %s \"$@\"\n", sshBin, filepath.Join(dir, "ssh_config"))
	for _, step := range []func() error{
		func() error { return os.WriteFile(filepath.Join(dir, "authorized_keys"), pub, 0o600) },
		func() error { return os.WriteFile(filepath.Join(dir, "sshd_config"), []byte(cfg), 0o600) },
		func() error { return os.WriteFile(filepath.Join(dir, "ssh_config"), []byte(clientCfg), 0o600) },
		func() error { return os.MkdirAll(bin, 0o755) },
		func() error { return os.WriteFile(filepath.Join(bin, "ssh"), []byte(wrapper), 0o755) },
		func() error { return os.MkdirAll("/run/sshd", 0o755) }, // privilege separation folder
	} {
		if err := step(); err != nil {
			return nil, nil, err
		}
	}
	logf, err := os.Create(filepath.Join(dir, "sshd.log"))
	if err != nil {
		return nil, nil, err
	}
	cmd := exec.Command(sshd, "-D", "-e", "-f", filepath.Join(dir, "sshd_config"))
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, nil, err
	}
	stop = func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		logf.Close()
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(port), time.Second)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			stop()
			b, _ := os.ReadFile(logf.Name())
			return nil, nil, fmt.Errorf("sshd did not listen on 127.0.0.1:%d: %v\n%s", port, err, b)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return &SSHD{URL: fmt.Sprintf("ssh://root@127.0.0.1:%d", port), Bin: bin, Port: port}, stop, nil
}

// PathWith returns PATH with the SSHD's ssh first.
func (s *SSHD) PathWith() string {
	return s.Bin + string(os.PathListSeparator) + os.Getenv("PATH")
}
