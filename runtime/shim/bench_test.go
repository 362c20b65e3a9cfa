package shim

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/runc/libcontainer"
	"github.com/opencontainers/runc/libcontainer/specconv"
)

// BenchmarkStartWait measures what `ctr run --rm IMAGE /bin/true` costs in
// the runtime: spawn the shim (container created), start, wait, delete.
// It reports the median as ms/median.
func BenchmarkStartWait(b *testing.B) {
	dir := b.TempDir()
	rootfs := filepath.Join(dir, "rootfs")
	makeRootfs(b, rootfs)
	exe, err := os.Executable()
	if err != nil {
		b.Fatal(err)
	}
	var times []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		id := fmt.Sprintf("bench%d-%d", os.Getpid(), i)
		bundle := filepath.Join(dir, id)
		if err := os.Mkdir(bundle, 0o700); err != nil {
			b.Fatal(err)
		}
		spec := testSpec(rootfs, id, "/bin/true")
		cfg, _ := json.Marshal(spec)
		if err := os.WriteFile(filepath.Join(bundle, "config.json"), cfg, 0o600); err != nil {
			b.Fatal(err)
		}
		o := StartOptions{ID: id, Bundle: bundle, StateRoot: filepath.Join(dir, "state"), Binary: exe, LogPath: filepath.Join(bundle, "log.json")}
		ctx := context.Background()
		b.StartTimer()

		t0 := time.Now()
		c, err := Start(ctx, o)
		if err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		if _, err := c.Start(ctx); err != nil {
			b.Fatal(err)
		}
		t2 := time.Now()
		st, err := c.Wait(ctx)
		if err != nil || st.Code != 0 {
			b.Fatalf("wait: %+v %v", st, err)
		}
		t3 := time.Now()
		if _, err := c.Delete(ctx); err != nil {
			b.Fatal(err)
		}
		if os.Getenv("BENCH_PHASES") != "" {
			b.Logf("create %v start %v wait %v delete %v", t1.Sub(t0), t2.Sub(t1), t3.Sub(t2), time.Since(t3))
		}
		times = append(times, time.Since(t0))

		b.StopTimer()
		if err := Cleanup(o.StateRoot, bundle, id); err != nil {
			b.Fatal(err)
		}
		os.RemoveAll(bundle)
		b.StartTimer()
	}
	b.StopTimer()
	sort.Slice(times, func(i, j int) bool { return times[i] < times[j] })
	b.ReportMetric(float64(times[len(times)/2].Microseconds())/1000, "ms/median")
}

// TestShimRSS reports the resident memory of a shim with one idle
// container (VmRSS, and Pss which discounts the binary's pages shared
// with the other shims).
func TestShimRSS(t *testing.T) {
	c := newCtr(t, "sleep", "1000")
	c.run()
	st, err := c.c.State(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond)
	rss := procField(t, "/proc/"+strconv.Itoa(st.ShimPid)+"/status", "VmRSS:")
	pss := procField(t, "/proc/"+strconv.Itoa(st.ShimPid)+"/smaps_rollup", "Pss:")
	anon := procField(t, "/proc/"+strconv.Itoa(st.ShimPid)+"/status", "RssAnon:")
	file := procField(t, "/proc/"+strconv.Itoa(st.ShimPid)+"/status", "RssFile:")
	threads := procField(t, "/proc/"+strconv.Itoa(st.ShimPid)+"/status", "Threads:")
	t.Logf("idle shim: VmRSS %d KiB (anon %d, file %d), Pss %d KiB, %d threads", rss, anon, file, pss, threads)
	if os.Getenv("SHIM_SMAPS") != "" {
		b, _ := os.ReadFile("/proc/" + strconv.Itoa(st.ShimPid) + "/smaps")
		t.Logf("%s", b)
	}
}

func procField(t *testing.T, path, key string) int {
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), key); ok {
			n, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
			return n
		}
	}
	t.Fatalf("%s: no %s", path, key)
	return 0
}

// BenchmarkLibcontainerDirect is the baseline for BenchmarkStartWait:
// the same container run by libcontainer in this process, without a shim.
func BenchmarkLibcontainerDirect(b *testing.B) {
	dir := b.TempDir()
	rootfs := filepath.Join(dir, "rootfs")
	makeRootfs(b, rootfs)
	var times []time.Duration
	for i := 0; i < b.N; i++ {
		id := fmt.Sprintf("direct%d-%d", os.Getpid(), i)
		spec := testSpec(rootfs, id, "/bin/true")
		t0 := time.Now()
		cfg, err := specconv.CreateLibcontainerConfig(&specconv.CreateOpts{CgroupName: id, Spec: spec})
		if err != nil {
			b.Fatal(err)
		}
		c, err := libcontainer.Create(filepath.Join(dir, "state"), id, cfg)
		if err != nil {
			b.Fatal(err)
		}
		p, err := processFromSpec(spec.Process)
		if err != nil {
			b.Fatal(err)
		}
		p.Init = true
		if err := c.Run(p); err != nil {
			b.Fatal(err)
		}
		if _, err := p.Wait(); err != nil {
			b.Fatal(err)
		}
		if err := c.Destroy(); err != nil {
			b.Fatal(err)
		}
		times = append(times, time.Since(t0))
	}
	sort.Slice(times, func(i, j int) bool { return times[i] < times[j] })
	b.ReportMetric(float64(times[len(times)/2].Microseconds())/1000, "ms/median")
}
