package e2e

import (
	"bufio"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestSocketActivation starts ctrd the way systemd does with ctrd.socket: the
// listening socket inherited as fd 3, LISTEN_FDS=1 and LISTEN_PID=<ctrd's pid>.
func TestSocketActivation(t *testing.T) {
	t.Parallel()
	d := newDaemon(t)
	act := filepath.Join(d.Root, "activated.sock")
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: act, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	l.SetUnlinkOnClose(false) // the socket file stays for ctrd, as systemd's does
	f, err := l.File()
	if err != nil {
		t.Fatal(err)
	}
	notUsed := filepath.Join(d.Root, "not-used.sock")
	d.args = append(d.defaultArgs(), "-H", "unix://"+notUsed)
	d.Sock, d.Host = act, "unix://"+act
	d.files = []*os.File{f}
	d.env = []string{"LISTEN_FDS=1"}
	// LISTEN_PID must be ctrd's own pid: a shell sets it, then becomes ctrd.
	d.wrap = []string{"/bin/sh", "-c", `LISTEN_PID=$$ exec "$0" "$@"`}
	d.start(t, true)
	f.Close()
	l.Close()

	if out := d.MustCtr(t, "version"); !strings.Contains(out, "Server:") {
		t.Errorf("ctr version through the activated socket:\n%s", out)
	}
	d.ImportBusybox(t, "busybox")
	if _, err := os.Lstat(notUsed); err == nil {
		t.Errorf("ctrd listened on its --host although systemd passed a socket")
	}
	if !strings.Contains(d.LogTail(50), act) {
		t.Errorf("log does not name the activated socket:\n%s", d.LogTail(50))
	}
	d.Stop(t)
}

// TestSocketActivateTool does the same through systemd-socket-activate.
func TestSocketActivateTool(t *testing.T) {
	t.Parallel()
	tool, err := exec.LookPath("systemd-socket-activate")
	if err != nil {
		t.Skip("systemd-socket-activate not installed (Debian package systemd)")
	}
	d := newDaemon(t)
	act := filepath.Join(d.Root, "activated.sock")
	notUsed := filepath.Join(d.Root, "not-used.sock")
	d.args = append(d.defaultArgs(), "-H", "unix://"+notUsed)
	d.Sock, d.Host = act, "unix://"+act
	d.wrap = []string{tool, "-l", act}
	d.start(t, true)
	d.ImportBusybox(t, "busybox")
	if _, err := os.Lstat(notUsed); err == nil {
		t.Errorf("ctrd listened on its --host although a socket was passed")
	}
	d.Stop(t)
}

// TestNotifyReady: with NOTIFY_SOCKET set, ctrd sends READY=1, and only once
// it answers on its socket.
func TestNotifyReady(t *testing.T) {
	t.Parallel()
	d := newDaemon(t)
	ns := filepath.Join(d.Root, "notify.sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: ns, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	d.args = d.defaultArgs()
	d.env = []string{"NOTIFY_SOCKET=" + ns}
	d.start(t, false)

	_ = conn.SetReadDeadline(time.Now().Add(readyTimeout))
	buf := make([]byte, 4096)
	var got []string
	for ready := false; !ready; {
		n, err := conn.Read(buf)
		if err != nil {
			t.Fatalf("no READY=1 from ctrd (got %q): %v\nlog:\n%s", got, err, d.LogTail(30))
		}
		got = append(got, string(buf[:n]))
		sc := bufio.NewScanner(strings.NewReader(string(buf[:n])))
		for sc.Scan() {
			ready = ready || sc.Text() == "READY=1"
		}
	}
	if r := d.Ctr("version"); r.Code != 0 {
		t.Fatalf("READY=1 was sent before ctrd answered: %s", r)
	}
	d.Stop(t)
}

// TestSystemdUnits checks the unit files: the settings the design needs,
// and systemd's own verdict where systemd-analyze is installed.
func TestSystemdUnits(t *testing.T) {
	t.Parallel()
	units := map[string]map[string]string{}
	for _, name := range []string{"ctrd.service", "ctrd.socket"} {
		b, err := os.ReadFile(filepath.Join("..", "systemd", name))
		if err != nil {
			t.Fatal(err)
		}
		kv := map[string]string{}
		section := ""
		for _, line := range strings.Split(string(b), "\n") {
			line = strings.TrimSpace(line)
			switch {
			case line == "" || strings.HasPrefix(line, "#"):
			case strings.HasPrefix(line, "["):
				section = strings.Trim(line, "[]")
			default:
				k, v, _ := strings.Cut(line, "=")
				key := section + "." + strings.TrimSpace(k)
				if kv[key] != "" {
					kv[key] += " "
				}
				kv[key] += strings.TrimSpace(v)
			}
		}
		units[name] = kv
	}
	for unit, want := range map[string]map[string]string{
		"ctrd.service": {
			"Service.Type": "notify", "Service.ExecStart": "/usr/local/bin/ctrd", "Service.KillMode": "process",
			"Service.Delegate": "yes", "Service.Restart": "on-failure", "Service.TasksMax": "infinity",
		},
		"ctrd.socket": {
			"Socket.ListenStream": "/run/ctrd/ctrd.sock", "Socket.SocketMode": "0660",
			"Socket.SocketUser": "root", "Socket.SocketGroup": "root",
		},
	} {
		for k, v := range want {
			if got := units[unit][k]; got != v {
				t.Errorf("%s: %s=%q, want %q", unit, k, got, v)
			}
		}
	}
	if !strings.Contains(units["ctrd.service"]["Unit.Wants"], "ctrd.socket") || strings.Contains(units["ctrd.service"]["Unit.Requires"], "ctrd.socket") {
		t.Errorf("ctrd.service must want, not require, ctrd.socket")
	}
	if n := units["ctrd.service"]["Service.LimitNOFILE"]; n == "" || n == "infinity" || len(n) > 5 {
		t.Errorf("LimitNOFILE=%q: set one below the hard limit (20000)", n)
	}

	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		return
	}
	// Verify copies whose ExecStart exists on this machine.
	dir := t.TempDir()
	for _, name := range []string{"ctrd.service", "ctrd.socket"} {
		b, _ := os.ReadFile(filepath.Join("..", "systemd", name))
		s := strings.ReplaceAll(string(b), "ExecStart=/usr/local/bin/ctrd", "ExecStart="+ctrdBin)
		if err := os.WriteFile(filepath.Join(dir, name), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := os.Stat(ctrdBin); err != nil {
		return
	}
	out, _ := exec.Command(analyze, "verify", filepath.Join(dir, "ctrd.service"), filepath.Join(dir, "ctrd.socket")).CombinedOutput()
	for _, line := range strings.Split(string(out), "\n") {
		if strings.Contains(line, "ctrd.service") || strings.Contains(line, "ctrd.socket") {
			t.Errorf("systemd-analyze verify: %s", line)
		}
	}
}
