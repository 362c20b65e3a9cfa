package shim

import (
	"fmt"
	"os"
	"sync"
	"time"
)

// localLog is a stand-in json-file writer with size rotation, used until
// runtime/logfile is available.
type localLog struct {
	mu       sync.Mutex
	path     string
	maxSize  int64
	maxFiles int
	f        *os.File
	size     int64
}

func openLocalLog(path string, maxSize int64, maxFiles int) (*localLog, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if maxFiles < 1 {
		maxFiles = 1
	}
	return &localLog{path: path, maxSize: maxSize, maxFiles: maxFiles, f: f, size: fi.Size()}, nil
}

func (l *localLog) WriteLine(stream string, line []byte, t time.Time) error {
	b, err := marshalLine(stream, line, t)
	if err != nil {
		return err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return os.ErrClosed
	}
	if l.maxSize > 0 && l.size > 0 && l.size+int64(len(b)) > l.maxSize {
		if err := l.rotate(); err != nil {
			return err
		}
	}
	n, err := l.f.Write(b)
	l.size += int64(n)
	return err
}

func (l *localLog) rotate() error {
	if err := l.f.Close(); err != nil {
		return err
	}
	l.f = nil
	if l.maxFiles > 1 {
		for i := l.maxFiles - 1; i > 1; i-- {
			_ = os.Rename(fmt.Sprintf("%s.%d", l.path, i-1), fmt.Sprintf("%s.%d", l.path, i))
		}
		if err := os.Rename(l.path, l.path+".1"); err != nil {
			return err
		}
	}
	f, err := os.OpenFile(l.path, os.O_WRONLY|os.O_TRUNC|os.O_CREATE, 0o640)
	if err != nil {
		return err
	}
	l.f, l.size = f, 0
	return nil
}

func (l *localLog) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return nil
	}
	err := l.f.Close()
	l.f = nil
	return err
}

func openLog(path string, maxSize int64, maxFiles int) (lineLog, error) {
	return openLocalLog(path, maxSize, maxFiles)
}
