package shim

import (
	"bytes"
	"time"

	"github.com/ctrd/ctrd/runtime/logfile"
)

// lineLog is where the shim writes the container's output lines: a
// runtime/logfile Writer.
type lineLog interface {
	WriteLine(stream string, line []byte, t time.Time) error
	Close() error
}

// maxPartial is the longest log entry: longer lines are cut into entries
// of this size (without "\n"), as Docker does.
const maxPartial = 16 * 1024

// lineSplitter cuts a stream into log lines ('\n' included) for a lineLog.
// Not safe for concurrent use; one per stream.
type lineSplitter struct {
	log     lineLog
	stream  string
	partial []byte
	err     error // first write error, reported once
}

func (s *lineSplitter) write(p []byte) {
	now := time.Now().UTC()
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 || len(s.partial)+i+1 > maxPartial {
			// No line end within the limit: hold the bytes, writing out
			// every full maxPartial piece as an entry of its own.
			n := min(maxPartial-len(s.partial), len(p))
			s.partial = append(s.partial, p[:n]...)
			p = p[n:]
			if len(s.partial) == maxPartial {
				s.emit(s.partial, now)
				s.partial = s.partial[:0]
			}
			continue
		}
		if len(s.partial) > 0 {
			s.partial = append(s.partial, p[:i+1]...)
			s.emit(s.partial, now)
			s.partial = s.partial[:0]
		} else {
			s.emit(p[:i+1], now)
		}
		p = p[i+1:]
	}
}

// flush writes a held partial line (at EOF).
func (s *lineSplitter) flush() {
	if len(s.partial) > 0 {
		s.emit(s.partial, time.Now().UTC())
		s.partial = nil
	}
}

func (s *lineSplitter) emit(line []byte, t time.Time) {
	if err := s.log.WriteLine(s.stream, line, t); err != nil && s.err == nil {
		s.err = err
		logf("log %s: %v", s.stream, err)
	}
}

func openLog(path string, maxSize int64, maxFiles int) (lineLog, error) {
	if maxFiles < 1 {
		maxFiles = 1
	}
	return logfile.NewWriter(path, maxSize, maxFiles)
}
