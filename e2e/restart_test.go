package e2e

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestRestartPolicyBadInput(t *testing.T) {
	d := busyboxDaemon(t)
	for _, p := range []string{"sometimes", "on-failure:-1", "always:3", "on-failure:x"} {
		r := d.Ctr("run", "-d", "--restart", p, "busybox", "true")
		if r.Code != 125 || strings.Count(strings.TrimSpace(r.Stderr), "\n") != 0 || r.Stderr == "" {
			t.Errorf("--restart %s: %s", p, r)
		}
	}
	r := d.Ctr("run", "--restart=always", "--rm", "busybox", "true")
	if r.Code != 125 {
		t.Errorf("--restart=always --rm accepted: %s", r)
	}
	if out := d.MustCtr(t, "ps", "-aq"); out != "" {
		t.Errorf("bad input left containers: %q", out)
	}
}

func TestRestartOnFailure(t *testing.T) {
	d := busyboxDaemon(t)
	d.MustCtr(t, "run", "-d", "--name", "fail", "--restart", "on-failure:3", "busybox", "sh", "-c", "exit 1")
	waitFor(t, 20*time.Second, func() bool {
		return d.MustCtr(t, "inspect", "-f", "{{.State.Status}} {{.RestartCount}}", "fail") == "exited 3"
	})
	time.Sleep(1500 * time.Millisecond)
	if got := d.MustCtr(t, "inspect", "-f", "{{.State.Status}} {{.RestartCount}} {{.State.ExitCode}} {{.HostConfig.RestartPolicy.Name}} {{.HostConfig.RestartPolicy.MaximumRetryCount}}", "fail"); got != "exited 3 1 on-failure 3" {
		t.Fatalf("on-failure:3 ended as %q", got)
	}
	// Exit 0 is not a failure.
	d.MustCtr(t, "run", "-d", "--name", "ok", "--restart", "on-failure", "busybox", "true")
	time.Sleep(time.Second)
	if got := d.MustCtr(t, "inspect", "-f", "{{.State.Status}} {{.RestartCount}}", "ok"); got != "exited 0" {
		t.Fatalf("on-failure after exit 0: %q", got)
	}
	// update --restart changes it.
	d.MustCtr(t, "update", "--restart", "always", "ok")
	if got := d.MustCtr(t, "inspect", "-f", "{{.HostConfig.RestartPolicy.Name}}", "ok"); got != "always" {
		t.Fatalf("update: %q", got)
	}
	r := d.Ctr("update", "--restart", "bogus", "ok")
	if r.Code == 0 {
		t.Fatalf("update with a bad policy: %s", r)
	}
}

func TestRestartAlwaysAfterKill9(t *testing.T) {
	d := busyboxDaemon(t)
	d.MustCtr(t, "run", "-d", "--name", "svc", "--restart", "always", "busybox", "sleep", "1000")
	pid := atoi(t, d.MustCtr(t, "inspect", "-f", "{{.State.Pid}}", "svc"))
	start := time.Now()
	syscall.Kill(pid, syscall.SIGKILL)
	waitFor(t, 10*time.Second, func() bool {
		out := d.MustCtr(t, "inspect", "-f", "{{.State.Running}} {{.State.Pid}}", "svc")
		return strings.HasPrefix(out, "true ") && out != "true "+strconv.Itoa(pid)
	})
	t.Logf("restarted %v after kill -9", time.Since(start))
	if got := d.MustCtr(t, "inspect", "-f", "{{.RestartCount}}", "svc"); got != "1" {
		t.Fatalf("RestartCount %s", got)
	}
	// A user stop is final while the daemon runs.
	d.MustCtr(t, "stop", "-t", "0", "svc")
	time.Sleep(time.Second)
	if got := d.MustCtr(t, "inspect", "-f", "{{.State.Status}}", "svc"); got != "exited" {
		t.Fatalf("after stop: %s", got)
	}
}

func TestRestartAcrossDaemonRestart(t *testing.T) {
	d := busyboxDaemon(t)
	d.MustCtr(t, "run", "-d", "--name", "us", "--restart", "unless-stopped", "busybox", "sleep", "1000")
	d.MustCtr(t, "run", "-d", "--name", "al", "--restart", "always", "busybox", "sleep", "1000")
	d.MustCtr(t, "stop", "-t", "0", "us", "al")
	d.Stop(t)
	d.Restart(t)
	waitFor(t, 10*time.Second, func() bool {
		return d.MustCtr(t, "inspect", "-f", "{{.State.Running}}", "al") == "true"
	})
	if got := d.MustCtr(t, "inspect", "-f", "{{.State.Status}}", "us"); got != "exited" {
		t.Fatalf("unless-stopped + stop came back after a daemon restart: %s", got)
	}
}

// TestRestartStorm: a container that exits at once, with always, backs off;
// ctrd stays cheap and ctr stop ends it within a second.
func TestRestartStorm(t *testing.T) {
	d := busyboxDaemon(t)
	d.MustCtr(t, "run", "-d", "--name", "storm", "--restart", "always", "busybox", "true")
	before := daemonCPU(t, d)
	time.Sleep(4 * time.Second)
	used := daemonCPU(t, d) - before
	if used > 2*time.Second {
		t.Errorf("ctrd used %v CPU in 4 s of a restart storm", used)
	}
	sawRestarting := false
	waitFor(t, 5*time.Second, func() bool {
		st := d.MustCtr(t, "ps", "-a", "--format", "{{.Status}}")
		sawRestarting = strings.HasPrefix(st, "Restarting (0) ")
		return sawRestarting
	})
	n := atoi(t, d.MustCtr(t, "inspect", "-f", "{{.RestartCount}}", "storm"))
	if n < 3 || n > 40 {
		t.Errorf("RestartCount %d after 4 s: back-off not applied?", n)
	}
	start := time.Now()
	d.MustCtr(t, "stop", "storm")
	if el := time.Since(start); el > time.Second {
		t.Errorf("stop during a restart storm took %v", el)
	}
	time.Sleep(500 * time.Millisecond)
	if got := d.MustCtr(t, "inspect", "-f", "{{.State.Status}}", "storm"); got != "exited" {
		t.Fatalf("after stop: %s", got)
	}
}

// TestRebootSimulation: containers and shims die, exec-root is wiped; at
// start ctrd runs always and unless-stopped (not stopped by the user) again.
func TestRebootSimulation(t *testing.T) {
	d := busyboxDaemon(t)
	for _, p := range []string{"always", "unless-stopped", "on-failure", "no"} {
		d.MustCtr(t, "run", "-d", "--name", "c-"+p, "--restart", p, "-v", "vol-"+p+":/data", "busybox", "sh", "-c", "echo up >> /data/boots; sleep 1000")
	}
	d.MustCtr(t, "run", "-d", "--name", "c-us-stopped", "--restart", "unless-stopped", "busybox", "sleep", "1000")
	d.MustCtr(t, "stop", "-t", "0", "c-us-stopped")
	d.Kill9(t)
	killCgroupProcs(t, d)
	killShims(t, d)
	time.Sleep(300 * time.Millisecond)
	unmountBelow(t, d.ExecRoot)
	if err := os.RemoveAll(d.ExecRoot); err != nil {
		t.Fatal(err)
	}
	d.Restart(t)
	want := map[string]string{"c-always": "running", "c-unless-stopped": "running", "c-on-failure": "exited", "c-no": "exited", "c-us-stopped": "exited"}
	waitFor(t, 15*time.Second, func() bool {
		for name, st := range want {
			if d.MustCtr(t, "inspect", "-f", "{{.State.Status}}", name) != st {
				return false
			}
		}
		return true
	})
	if out := d.MustCtr(t, "exec", "c-always", "cat", "/data/boots"); out != "up\nup" {
		t.Fatalf("volume after reboot: %q", out)
	}
}

func daemonCPU(t *testing.T, d *Daemon) time.Duration {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(d.Pid()), "stat"))
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(string(b)[strings.LastIndexByte(string(b), ')')+2:])
	ut, _ := strconv.Atoi(f[11])
	st, _ := strconv.Atoi(f[12])
	return time.Duration(ut+st) * 10 * time.Millisecond
}

// killCgroupProcs kills every process in the daemon's containers.
func killCgroupProcs(t *testing.T, d *Daemon) {
	root := filepath.Join("/sys/fs/cgroup/pids", d.CgroupParent)
	filepath.Walk(root, func(p string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() || info.Name() != "cgroup.procs" {
			return nil
		}
		b, _ := os.ReadFile(p)
		for _, f := range strings.Fields(string(b)) {
			if pid, err := strconv.Atoi(f); err == nil {
				syscall.Kill(pid, syscall.SIGKILL)
			}
		}
		return nil
	})
}

func killShims(t *testing.T, d *Daemon) {
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if strings.Contains(string(b), "shim") && strings.Contains(string(b), d.ExecRoot) {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

func unmountBelow(t *testing.T, dir string) {
	b, _ := os.ReadFile("/proc/self/mountinfo")
	lines := strings.Split(string(b), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		f := strings.Fields(lines[i])
		if len(f) > 4 && strings.HasPrefix(f[4], dir+"/") {
			syscall.Unmount(f[4], syscall.MNT_DETACH)
		}
	}
}

// TestCrashWithManyContainers: SIGKILL of ctrd with ten containers of mixed
// policies publishing ports; after the restart all still run, every port
// answers, and no rule or container is duplicated.
func TestCrashWithManyContainers(t *testing.T) {
	d := busyboxDaemon(t)
	www := filepath.Join(d.Root, "www")
	os.MkdirAll(www, 0o755)
	os.WriteFile(filepath.Join(www, "index.html"), []byte("ok\n"), 0o644)
	policies := []string{"no", "always", "unless-stopped", "on-failure", "on-failure:3"}
	ports := map[string]int{}
	for i := 0; i < 10; i++ {
		name := "m" + strconv.Itoa(i)
		port := freePort(t)
		ports[name] = port
		d.MustCtr(t, "run", "-d", "--name", name, "--restart", policies[i%len(policies)], "-p", strconv.Itoa(port)+":80",
			"-v", www+":/www:ro", "busybox", "httpd", "-f", "-p", "80", "-h", "/www")
	}
	pids := map[string]string{}
	for name := range ports {
		pids[name] = d.MustCtr(t, "inspect", "-f", "{{.State.Pid}}", name)
	}
	table := "ctrd_" + d.Bridge
	rulesBefore := strings.Count(nftTable(t, table), "dnat to")
	d.Kill9(t)
	d.Restart(t)
	for name, port := range ports {
		if got := d.MustCtr(t, "inspect", "-f", "{{.State.Status}} {{.State.Pid}} {{.RestartCount}}", name); got != "running "+pids[name]+" 0" {
			t.Errorf("%s after the crash: %q (pid was %s)", name, got, pids[name])
		}
		url := "http://127.0.0.1:" + strconv.Itoa(port) + "/"
		waitFor(t, 5*time.Second, func() bool { s, _ := httpGet(url); return s == "ok\n" })
	}
	if n := len(strings.Fields(d.MustCtr(t, "ps", "-q"))); n != 10 {
		t.Errorf("%d containers running after the restart, want 10", n)
	}
	if after := strings.Count(nftTable(t, table), "dnat to"); after != rulesBefore || after < 10 {
		t.Errorf("DNAT rules: %d before the crash, %d after", rulesBefore, after)
	}
}
