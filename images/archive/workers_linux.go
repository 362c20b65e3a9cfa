package archive

import (
	"archive/tar"
	"fmt"
	"hash/fnv"
	"io"
	"math/bits"
	"os"
	"strings"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// Apply writes small regular files on a few worker goroutines: creating a
// file costs far more in the kernel than reading it from the tar, and the
// file system work of several files overlaps well, even on two cores.
//
// The main goroutine keeps reading the tar in order and does everything
// else itself. The rules that keep the result identical to a sequential
// apply, and keep workers from ever writing outside the root:
//
//   - a job is only queued for a path whose parent is a known real directory
//     (dirs) and which is not itself a known directory; so nothing queued or
//     known lies under a queued path, and a worker may replace whatever it
//     finds there (unlink, or RemoveAll of an unknown directory);
//   - pending records queued paths; any later entry that touches a pending
//     path (same name, hardlink target, parent lookup) first waits for every
//     queued job (wait);
//   - the main goroutine waits before removing a directory (queued files may
//     be inside), before resolving a symlinked parent, and before setting
//     directory times at the end; no directory known to workers' paths is
//     ever replaced while jobs are in flight.
var applyWorkers = 4

const (
	maxJobClass = 18 // largest queued file: 256 KiB; larger ones are streamed by the main goroutine
	minJobClass = 12 // smallest pooled buffer: 4 KiB
	maxJobSize  = 1 << maxJobClass
)

type workerPool struct {
	queues    []chan *fileJob // one per worker; nil: no workers
	pending   map[string]struct{}
	jobsWG    sync.WaitGroup // queued, unfinished jobs
	workersWG sync.WaitGroup // running workers
	failed    atomic.Bool
	errMu     sync.Mutex
	err       error
}

type fileJob struct {
	rel  string
	hdr  *tar.Header
	data *[]byte
}

// dataPools[i] holds buffers of 1<<(minJobClass+i) bytes.
var dataPools [maxJobClass - minJobClass + 1]sync.Pool

func getData(n int) *[]byte {
	c := 0
	if n > 1<<minJobClass {
		c = bits.Len(uint(n-1)) - minJobClass
	}
	if b, ok := dataPools[c].Get().(*[]byte); ok {
		*b = (*b)[:n]
		return b
	}
	b := make([]byte, n, 1<<(minJobClass+c))
	return &b
}

func putData(b *[]byte) {
	if b == nil {
		return
	}
	c := bits.Len(uint(cap(*b))) - 1 - minJobClass
	if c >= 0 && c < len(dataPools) && cap(*b) == 1<<(minJobClass+c) {
		dataPools[c].Put(b)
	}
}

func (a *applier) startWorkers(n int) {
	if n <= 0 {
		return
	}
	// Each worker has its own queue and takes every file of some
	// directories: files created in one directory on several threads
	// only contend for its lock (spinning on it, on few cores).
	a.pending = map[string]struct{}{}
	a.queues = make([]chan *fileJob, n)
	for i := range a.queues {
		a.queues[i] = make(chan *fileJob, 8)
		a.workersWG.Add(1)
		go a.worker(a.queues[i])
	}
}

// queueFor is the queue of the worker that creates rel's directory's files.
func (a *applier) queueFor(rel string) chan *fileJob {
	dir := rel[:max(strings.LastIndexByte(rel, '/'), 0)]
	h := fnv.New32a()
	h.Write([]byte(dir))
	return a.queues[h.Sum32()%uint32(len(a.queues))]
}

// stopWorkers ends the workers once they have finished every queued job.
func (a *applier) stopWorkers() {
	if a.queues != nil {
		for _, q := range a.queues {
			close(q)
		}
		a.workersWG.Wait()
	}
}

func (a *applier) worker(queue <-chan *fileJob) {
	defer a.workersWG.Done()
	for j := range queue {
		if !a.failed.Load() {
			if err := a.writeJob(j); err != nil {
				a.errMu.Lock()
				if a.err == nil {
					a.err = fmt.Errorf("archive: tar entry %q: %w", j.hdr.Name, err)
				}
				a.errMu.Unlock()
				a.failed.Store(true)
			}
		}
		putData(j.data)
		a.jobsWG.Done()
	}
}

// wait waits for every queued job and returns the first error of a job.
func (a *applier) wait() error {
	if a.queues == nil {
		return nil
	}
	a.jobsWG.Wait()
	clear(a.pending)
	a.errMu.Lock()
	defer a.errMu.Unlock()
	return a.err
}

// waitFor waits for the queued jobs if rel is one of their paths.
func (a *applier) waitFor(rel string) error {
	if _, ok := a.pending[rel]; ok {
		return a.wait()
	}
	return nil
}

// queueFile reads the content of a small regular file and queues it.
func (a *applier) queueFile(rel string, hdr *tar.Header, tr io.Reader) error {
	j := &fileJob{rel: rel, hdr: hdr}
	if hdr.Size > 0 {
		j.data = getData(int(hdr.Size))
		if _, err := io.ReadFull(tr, *j.data); err != nil {
			putData(j.data)
			return fmt.Errorf("reading: %w", err)
		}
	}
	a.pending[rel] = struct{}{}
	a.jobsWG.Add(1)
	a.queueFor(rel) <- j
	return nil
}

// writeJob creates one file; it runs on a worker goroutine.
func (a *applier) writeJob(j *fileJob) error {
	const flags = unix.O_WRONLY | unix.O_CREAT | unix.O_EXCL | unix.O_NOFOLLOW | unix.O_CLOEXEC
	fd, err := unix.Openat(a.rootfd, j.rel, flags, 0o600)
	if err == unix.EEXIST {
		// Whatever is there is not a directory this Apply knows, so nothing
		// queued or known lies under it (see the rules above).
		err = unix.Unlinkat(a.rootfd, j.rel, 0)
		if err == unix.EISDIR {
			err = os.RemoveAll(a.abs(j.rel))
		}
		if err == nil || err == unix.ENOENT {
			fd, err = unix.Openat(a.rootfd, j.rel, flags, 0o600)
		}
	}
	if err != nil {
		return &pathErr{op: "create", path: j.rel, err: err}
	}
	if j.data != nil {
		if _, err = fdWriter(fd).Write(*j.data); err != nil {
			err = fmt.Errorf("writing %s: %w", j.rel, err)
		}
	}
	if err == nil {
		err = a.fileMeta(fd, j.rel, j.hdr)
	}
	if cerr := unix.Close(fd); err == nil && cerr != nil {
		err = &pathErr{op: "close", path: j.rel, err: cerr}
	}
	return err
}
