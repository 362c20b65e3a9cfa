// Package logfile writes and reads container logs in Docker's json-file
// format, one JSON object per line, with size-based rotation
// (path, path.1, path.2 ... oldest last).
package logfile

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// Writer appends records to a json-file log. It is safe for concurrent use
// (the stdout and stderr copiers share one). Every record is one write(2),
// unbuffered, so readers in other processes see it at once.
type Writer struct {
	mu       sync.Mutex
	path     string
	f        *os.File
	size     int64
	maxSize  int64
	maxFiles int
	buf      []byte
	closed   bool
}

// NewWriter opens (appending) or creates the log at path. maxSize <= 0
// means no rotation; otherwise a file never grows past maxSize (unless one
// record alone is bigger): the writer renames path to path.1, path.1 to
// path.2 and so on, keeping maxFiles files in all (path included), and starts
// a new path. maxFiles must be >= 1; with 1, the old file is dropped.
func NewWriter(path string, maxSize int64, maxFiles int) (*Writer, error) {
	if maxFiles < 1 {
		return nil, fmt.Errorf("logfile: max files must be at least 1, got %d", maxFiles)
	}
	f, err := openLog(path)
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	w := &Writer{path: path, f: f, size: st.Size(), maxSize: maxSize, maxFiles: maxFiles, buf: make([]byte, 0, 4096)}
	if maxSize > 0 {
		// Files beyond maxFiles (left by an earlier, larger setting) would
		// never be rotated away: drop them now.
		for i := maxFiles; ; i++ {
			if err := os.Remove(rotatedName(path, i)); err != nil {
				break
			}
		}
	}
	return w, nil
}

func openLog(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE|unix.O_CLOEXEC, 0o640)
}

func rotatedName(path string, i int) string {
	return path + "." + strconv.Itoa(i)
}

// WriteLine appends one record. line is the raw output, with its trailing
// "\n" when it had one (a partial line has none, as in Docker). Empty lines
// are not recorded.
func (w *Writer) WriteLine(stream string, line []byte, t time.Time) error {
	if len(line) == 0 {
		return nil
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return os.ErrClosed
	}
	w.buf = appendEntry(w.buf[:0], stream, line, t)
	if w.maxSize > 0 && w.size > 0 && w.size+int64(len(w.buf)) > w.maxSize {
		if err := w.rotate(); err != nil {
			return err
		}
	}
	n, err := w.f.Write(w.buf)
	w.size += int64(n)
	if cap(w.buf) > 1<<20 { // do not keep a huge buffer after a huge line
		w.buf = make([]byte, 0, 4096)
	}
	return err
}

// rotate shifts path.N-1 -> path.N ... path -> path.1 and opens a new path.
// Readers following the old file notice the rename and move on.
func (w *Writer) rotate() error {
	if w.maxFiles == 1 {
		if err := os.Remove(w.path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("logfile: rotate: %w", err)
		}
	} else {
		for i := w.maxFiles - 1; i > 1; i-- {
			err := os.Rename(rotatedName(w.path, i-1), rotatedName(w.path, i))
			if err != nil && !errors.Is(err, os.ErrNotExist) {
				return fmt.Errorf("logfile: rotate: %w", err)
			}
		}
		// A log removed behind our back just gets a new file.
		if err := os.Rename(w.path, rotatedName(w.path, 1)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("logfile: rotate: %w", err)
		}
	}
	f, err := openLog(w.path)
	if err != nil {
		return fmt.Errorf("logfile: rotate: %w", err)
	}
	w.f.Close()
	w.f, w.size = f, 0
	return nil
}

// Close closes the file; later writes fail with os.ErrClosed.
func (w *Writer) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return nil
	}
	w.closed = true
	return w.f.Close()
}
