package logfile

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"
)

// Entry is one log record.
type Entry struct {
	Stream string // "stdout" or "stderr"
	Line   []byte // the output, with its trailing "\n" when it had one
	Time   time.Time
}

// ReadOptions selects what Read returns.
type ReadOptions struct {
	// Tail is how many entries (of those selected by the other options) to
	// return from the end of the log; -1 (any negative) means all, 0 none
	// (only new ones, when following).
	Tail int
	// Since and Until, when set, drop entries older than Since and stop at
	// the first entry newer than Until (also ending a follow at that time).
	Since, Until time.Time
	// Follow keeps reading as the log grows, across rotations, until ctx is
	// done (Read then returns ctx.Err()) or Done is closed.
	Follow bool
	// Stdout and Stderr select the streams; both false means both.
	Stdout, Stderr bool
	// Done, when closed, ends a follow: Read returns nil once it has read
	// everything already in the files. Close it after the writer has written
	// its last record (the container exited and its output was copied).
	Done <-chan struct{}
}

// Poll intervals for following: with inotify the poll is only a safety net.
var (
	pollInterval       = 200 * time.Millisecond
	safetyPollInterval = time.Second
)

// errStop ends a read early without an error (Until reached).
var errStop = errors.New("stop")

type fileID struct{ dev, ino uint64 }

type logFile struct {
	f       *os.File
	id      fileID
	pending []byte // an incomplete last line
}

func (lf *logFile) close() {
	if lf != nil {
		lf.f.Close()
	}
}

type reader struct {
	path string
	o    ReadOptions
	fn   func(Entry) error
	buf  []byte
}

// Read calls fn for each selected entry of the log at path, oldest first:
// the rotated files (path.N ... path.1) then path. An error from fn stops
// the read and is returned. Records that cannot be parsed are skipped. A
// missing log reads as empty (and, when following, is waited for).
func Read(ctx context.Context, path string, o ReadOptions, fn func(Entry) error) error {
	if !o.Stdout && !o.Stderr {
		o.Stdout, o.Stderr = true, true
	}
	r := &reader{path: path, o: o, fn: fn, buf: make([]byte, 64<<10)}
	err := r.run(ctx)
	if errors.Is(err, errStop) {
		return nil
	}
	return err
}

func (r *reader) run(ctx context.Context) error {
	cur, rotated, err := openChain(r.path, nil)
	if err != nil {
		return err
	}
	defer func() { cur.close() }()
	defer func() {
		for _, lf := range rotated {
			lf.close()
		}
	}()

	if r.o.Tail >= 0 {
		if err := r.tail(cur, rotated); err != nil {
			return err
		}
	} else {
		for _, lf := range rotated {
			if !r.o.Since.IsZero() {
				last, ok := lastEntryTime(lf)
				if ok && last.Before(r.o.Since) {
					continue
				}
			}
			if err := r.readAll(lf); err != nil {
				return err
			}
		}
		if cur != nil {
			if err := r.readAvailable(cur); err != nil {
				return err
			}
		}
	}
	for _, lf := range rotated {
		lf.close()
	}
	rotated = nil

	if !r.o.Follow || (!r.o.Until.IsZero() && time.Now().After(r.o.Until)) {
		if cur != nil {
			return r.flush(cur)
		}
		return nil
	}
	return r.follow(ctx, &cur)
}

// openChain opens the log files newest first (path, path.1, path.2 ...) so
// that a rotation during the scan can only produce duplicates (dropped by
// inode), never a gap. It stops at the first missing index or at stopAt (a
// file already being read, not returned). It returns the current file (nil
// if path is missing) and the rotated files oldest first.
func openChain(path string, stopAt *fileID) (cur *logFile, rotated []*logFile, err error) {
	seen := map[fileID]bool{}
	var newestFirst []*logFile
	for i := 0; ; i++ {
		name := path
		if i > 0 {
			name = rotatedName(path, i)
		}
		lf, err := openLogFile(name)
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				if i == 0 {
					newestFirst = append(newestFirst, nil)
					continue
				}
				break
			}
			for _, f := range newestFirst {
				f.close()
			}
			return nil, nil, err
		}
		if stopAt != nil && lf.id == *stopAt {
			lf.close()
			break
		}
		if seen[lf.id] {
			lf.close()
			continue
		}
		seen[lf.id] = true
		newestFirst = append(newestFirst, lf)
	}
	cur = newestFirst[0]
	for i := len(newestFirst) - 1; i >= 1; i-- {
		rotated = append(rotated, newestFirst[i])
	}
	return cur, rotated, nil
}

func openLogFile(name string) (*logFile, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	id, err := fdID(f)
	if err != nil {
		f.Close()
		return nil, err
	}
	return &logFile{f: f, id: id}, nil
}

func fdID(f *os.File) (fileID, error) {
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		return fileID{}, err
	}
	return fileID{dev: uint64(st.Dev), ino: st.Ino}, nil
}

func pathID(name string) (fileID, error) {
	var st unix.Stat_t
	if err := unix.Stat(name, &st); err != nil {
		return fileID{}, err
	}
	return fileID{dev: uint64(st.Dev), ino: st.Ino}, nil
}

// handle parses one raw record and passes it to fn if selected.
func (r *reader) handle(raw []byte) error {
	e, err := parseEntry(raw)
	if err != nil {
		return nil
	}
	if !r.selected(e) {
		return nil
	}
	if !r.o.Until.IsZero() && e.Time.After(r.o.Until) {
		return errStop
	}
	return r.fn(e)
}

func (r *reader) selected(e Entry) bool {
	switch e.Stream {
	case "stdout":
		if !r.o.Stdout {
			return false
		}
	case "stderr":
		if !r.o.Stderr {
			return false
		}
	}
	return r.o.Since.IsZero() || !e.Time.Before(r.o.Since)
}

// readAvailable reads lf from its offset to EOF, handling every complete
// line and keeping an incomplete last one for later.
func (r *reader) readAvailable(lf *logFile) error {
	for {
		n, err := lf.f.Read(r.buf)
		if n > 0 {
			data := r.buf[:n]
			for {
				i := bytes.IndexByte(data, '\n')
				if i < 0 {
					lf.pending = append(lf.pending, data...)
					break
				}
				line := data[:i]
				if len(lf.pending) > 0 {
					line = append(lf.pending, line...)
					lf.pending = lf.pending[:0]
				}
				if err := r.handle(line); err != nil {
					return err
				}
				data = data[i+1:]
			}
		}
		if err == io.EOF || n == 0 && err == nil {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// flush handles an incomplete last line (a file that ends without "\n").
func (r *reader) flush(lf *logFile) error {
	if len(lf.pending) == 0 {
		return nil
	}
	line := lf.pending
	lf.pending = nil
	return r.handle(line)
}

func (r *reader) readAll(lf *logFile) error {
	if err := r.readAvailable(lf); err != nil {
		return err
	}
	return r.flush(lf)
}

// tail returns the last Tail selected entries, scanning the files backwards
// (newest first) and stopping as soon as it has enough, or reaches entries
// older than Since. cur is left positioned after its last complete line.
func (r *reader) tail(cur *logFile, rotated []*logFile) error {
	need := r.o.Tail
	var got []Entry // newest first
	done := false
	visit := func(raw []byte) (bool, error) {
		if need == 0 {
			return true, nil
		}
		e, err := parseEntry(raw)
		if err != nil {
			return false, nil
		}
		if !r.o.Since.IsZero() && e.Time.Before(r.o.Since) {
			done = true // everything before is older still
			return true, nil
		}
		if !r.selected(e) || (!r.o.Until.IsZero() && e.Time.After(r.o.Until)) {
			return false, nil
		}
		got = append(got, e)
		return len(got) >= need, nil
	}
	if cur != nil {
		st, err := cur.f.Stat()
		if err != nil {
			return err
		}
		resume, err := scanBackward(cur.f, st.Size(), true, visit)
		if err != nil {
			return err
		}
		if _, err := cur.f.Seek(resume, io.SeekStart); err != nil {
			return err
		}
	}
	for i := len(rotated) - 1; i >= 0 && !done && len(got) < need; i-- {
		st, err := rotated[i].f.Stat()
		if err != nil {
			return err
		}
		if _, err := scanBackward(rotated[i].f, st.Size(), false, visit); err != nil {
			return err
		}
	}
	for i := len(got) - 1; i >= 0; i-- {
		if err := r.fn(got[i]); err != nil {
			return err
		}
	}
	return nil
}

// scanBackward calls visit for the lines of f[0:end), last first, until
// visit says stop. With skipPartial, a last line without "\n" (a record being
// written) is not visited. It returns the offset just after the last
// complete line (end when the region ends with "\n" or !skipPartial).
func scanBackward(f io.ReaderAt, end int64, skipPartial bool, visit func([]byte) (bool, error)) (int64, error) {
	const chunk = 32 << 10
	resume := end
	pos := end
	var data []byte // f[pos : pos+len(data)], not visited yet
	first := true
	for {
		if len(data) == 0 && pos == 0 {
			return resume, nil
		}
		body := data
		terminated := len(body) > 0 && body[len(body)-1] == '\n'
		if terminated {
			body = body[:len(body)-1]
		}
		i := bytes.LastIndexByte(body, '\n')
		if i < 0 && pos > 0 {
			n := int64(chunk)
			if n > pos {
				n = pos
			}
			pos -= n
			nb := make([]byte, int(n)+len(data))
			if _, err := f.ReadAt(nb[:n], pos); err != nil && err != io.EOF {
				return resume, err
			}
			copy(nb[n:], data)
			data = nb
			continue
		}
		line := body[i+1:]
		if first && !terminated && skipPartial {
			resume = pos + int64(i+1)
		} else {
			stop, err := visit(line)
			if err != nil || stop {
				return resume, err
			}
		}
		first = false
		data = data[:i+1]
	}
}

// lastEntryTime returns the time of the last parseable record of lf,
// leaving its offset untouched.
func lastEntryTime(lf *logFile) (time.Time, bool) {
	st, err := lf.f.Stat()
	if err != nil {
		return time.Time{}, false
	}
	var t time.Time
	found := false
	_, _ = scanBackward(lf.f, st.Size(), false, func(raw []byte) (bool, error) {
		e, err := parseEntry(raw)
		if err != nil {
			return false, nil
		}
		t, found = e.Time, true
		return true, nil
	})
	return t, found
}

func (r *reader) follow(ctx context.Context, cur **logFile) error {
	w := newWatcher(filepath.Dir(r.path))
	defer w.close()
	return r.followWith(ctx, cur, w)
}

func (r *reader) followWith(ctx context.Context, cur **logFile, w *watcher) error {
	interval := pollInterval
	if w.f != nil {
		interval = safetyPollInterval
	}
	timer := time.NewTimer(interval)
	defer timer.Stop()
	var untilC <-chan time.Time
	if !r.o.Until.IsZero() {
		ut := time.NewTimer(time.Until(r.o.Until))
		defer ut.Stop()
		untilC = ut.C
	}
	done := r.o.Done
	finishing := false
	for {
		if *cur != nil {
			if err := r.readAvailable(*cur); err != nil {
				return err
			}
		}
		changed, err := r.checkRotation(cur)
		if err != nil {
			return err
		}
		if changed {
			continue
		}
		if finishing {
			if *cur != nil {
				return r.flush(*cur)
			}
			return nil
		}
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
		timer.Reset(interval)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-done:
			finishing = true // one last pass over what is there
		case <-untilC:
			return nil
		case <-w.ch:
		case <-timer.C:
		}
	}
}

// checkRotation notices that path is no longer the file being read (the
// writer rotated it, or it appeared): it finishes the old file, reads the
// files rotated in between, and makes the newest the current one.
func (r *reader) checkRotation(cur **logFile) (bool, error) {
	id, err := pathID(r.path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return false, nil // mid-rotation (max files 1) or removed
		}
		return false, err
	}
	old := *cur
	if old != nil && id == old.id {
		return false, nil
	}
	var stopAt *fileID
	if old != nil {
		// All the writer wrote to the old file is there now: it renamed
		// the file after its last write.
		if err := r.readAll(old); err != nil {
			return false, err
		}
		old.close()
		*cur = nil
		stopAt = &old.id
	}
	next, between, err := openChain(r.path, stopAt)
	if err != nil {
		return false, err
	}
	if old == nil {
		// The log just appeared: only path itself is new to us.
		for _, lf := range between {
			lf.close()
		}
		between = nil
	}
	defer func() {
		for _, lf := range between {
			lf.close()
		}
	}()
	for _, lf := range between {
		if err := r.readAll(lf); err != nil {
			next.close()
			return false, err
		}
	}
	*cur = next
	return next != nil || len(between) > 0, nil
}

// watcher wakes a follower when something changes in the log's directory
// (inotify); without inotify, followers poll.
type watcher struct {
	f  *os.File
	ch chan struct{}
}

func newWatcher(dir string) *watcher {
	w := &watcher{ch: make(chan struct{}, 1)}
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		return w
	}
	const mask = unix.IN_MODIFY | unix.IN_CREATE | unix.IN_MOVED_TO | unix.IN_MOVED_FROM | unix.IN_DELETE | unix.IN_CLOSE_WRITE
	if _, err := unix.InotifyAddWatch(fd, dir, mask); err != nil {
		unix.Close(fd)
		return w
	}
	// Non-blocking, so the runtime poller handles it and Close interrupts Read.
	w.f = os.NewFile(uintptr(fd), "inotify")
	go w.loop(w.f)
	return w
}

func (w *watcher) loop(f *os.File) {
	buf := make([]byte, 4096)
	for {
		if _, err := f.Read(buf); err != nil {
			return
		}
		select {
		case w.ch <- struct{}{}:
		default:
		}
	}
}

func (w *watcher) close() {
	if w.f != nil {
		w.f.Close()
	}
}
