// Package content is ctrd's content-addressed blob store.
//
// Blobs live at <root>/blobs/sha256/<hex>. New blobs are written to a
// temporary file in <root>/ingest, hashed while they are written, flushed to
// disk and only then renamed into place, so a blob path that exists always
// holds complete, verified content, even after a SIGKILL or power loss.
// Whatever a crash leaves in ingest/ is removed by the next Open.
package content

import (
	_ "crypto/sha256" // registers sha256 for go-digest (it imports no hash itself)
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/opencontainers/go-digest"
	"golang.org/x/sys/unix"
)

var (
	// ErrNotFound is returned (wrapped) when a blob is absent.
	ErrNotFound = errors.New("content: blob not found")
	// ErrInvalidDigest is returned (wrapped) for malformed digests and for
	// algorithms other than sha256.
	ErrInvalidDigest = errors.New("content: invalid digest")
	// ErrDigestMismatch is returned (wrapped) by Commit and Put when the
	// written data does not hash to the expected digest.
	ErrDigestMismatch = errors.New("content: digest mismatch")
)

const (
	blobsDir  = "blobs"
	ingestDir = "ingest"
	// blobMode: committed blobs are immutable.
	blobMode = 0o444
)

// Store is a content-addressed blob store rooted at a directory.
// It is safe for concurrent use.
type Store struct {
	blobs  string // <root>/blobs/sha256
	ingest string // <root>/ingest
}

// Open opens (creating if needed) the store at root and removes every stale
// file left in ingest/ by an interrupted writer. Open must not be called
// while another Store on the same root has writers in progress.
func Open(root string) (*Store, error) {
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("content: %w", err)
	}
	s := &Store{
		blobs:  filepath.Join(abs, blobsDir, string(digest.SHA256)),
		ingest: filepath.Join(abs, ingestDir),
	}
	for _, d := range []string{s.blobs, s.ingest} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("content: %w", err)
		}
	}
	entries, err := os.ReadDir(s.ingest)
	if err != nil {
		return nil, fmt.Errorf("content: %w", err)
	}
	for _, e := range entries {
		if err := os.RemoveAll(filepath.Join(s.ingest, e.Name())); err != nil {
			return nil, fmt.Errorf("content: removing stale ingest file: %w", err)
		}
	}
	return s, nil
}

// validate accepts only well-formed sha256 digests. go-digest's Validate
// checks the encoded part against the algorithm's anchored pattern (64
// lowercase hex characters for sha256), so a validated digest can never
// contain '/' or '..' and cannot build a path outside the store.
func validate(d digest.Digest) error {
	if err := d.Validate(); err != nil {
		return fmt.Errorf("%w %q: %v", ErrInvalidDigest, string(d), err)
	}
	if d.Algorithm() != digest.SHA256 {
		return fmt.Errorf("%w %q: unsupported algorithm %q (only sha256)", ErrInvalidDigest, string(d), d.Algorithm())
	}
	return nil
}

// Path returns the file path of blob d (whether or not it exists), or "" if
// d is not a valid sha256 digest.
func (s *Store) Path(d digest.Digest) string {
	if validate(d) != nil {
		return ""
	}
	return filepath.Join(s.blobs, d.Encoded())
}

func (s *Store) path(d digest.Digest) (string, error) {
	if err := validate(d); err != nil {
		return "", err
	}
	return filepath.Join(s.blobs, d.Encoded()), nil
}

func notFound(d digest.Digest, err error) error {
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%w: %s", ErrNotFound, d)
	}
	return fmt.Errorf("content: %s: %w", d, err)
}

// Put stores a small in-memory blob. If expected is non-empty the data must
// hash to it; if that blob is already present nothing is written.
func (s *Store) Put(data []byte, expected digest.Digest) (digest.Digest, error) {
	if expected != "" {
		p, err := s.path(expected)
		if err != nil {
			return "", err
		}
		if _, err := os.Lstat(p); err == nil {
			// Present blobs were verified when committed; still refuse
			// data that does not match what the caller claims.
			if got := digest.SHA256.FromBytes(data); got != expected {
				return "", fmt.Errorf("%w: expected %s, got %s", ErrDigestMismatch, expected, got)
			}
			return expected, nil
		}
	}
	w, err := s.Writer()
	if err != nil {
		return "", err
	}
	defer w.Close()
	if _, err := w.Write(data); err != nil {
		return "", err
	}
	return w.Commit(expected)
}

// ReadAll returns the whole content of blob d after checking that it still
// hashes to d (meant for small JSON blobs: manifests, configs, indexes).
func (s *Store) ReadAll(d digest.Digest) ([]byte, error) {
	p, err := s.path(d)
	if err != nil {
		return nil, err
	}
	data, err := os.ReadFile(p)
	if err != nil {
		return nil, notFound(d, err)
	}
	if got := digest.SHA256.FromBytes(data); got != d {
		return nil, fmt.Errorf("content: blob %s is corrupt (hashes to %s)", d, got)
	}
	return data, nil
}

// Open opens blob d for reading.
func (s *Store) Open(d digest.Digest) (*os.File, error) {
	p, err := s.path(d)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(p)
	if err != nil {
		return nil, notFound(d, err)
	}
	return f, nil
}

// Info returns the size of blob d, or an error wrapping ErrNotFound.
func (s *Store) Info(d digest.Digest) (int64, error) {
	p, err := s.path(d)
	if err != nil {
		return 0, err
	}
	fi, err := os.Lstat(p)
	if err != nil {
		return 0, notFound(d, err)
	}
	return fi.Size(), nil
}

// Delete removes blob d. A missing blob is not an error.
func (s *Store) Delete(d digest.Digest) error {
	p, err := s.path(d)
	if err != nil {
		return err
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("content: delete %s: %w", d, err)
	}
	return nil
}

// Walk calls fn for every blob in the store. Files in the blob directory
// whose names are not valid sha256 hex strings are skipped. The directory is
// listed first, so fn may add or delete blobs; a blob deleted concurrently
// before fn sees it is skipped. An error from fn stops the walk and is
// returned.
func (s *Store) Walk(fn func(d digest.Digest, size int64) error) error {
	entries, err := os.ReadDir(s.blobs)
	if err != nil {
		return fmt.Errorf("content: walk: %w", err)
	}
	for _, e := range entries {
		if !e.Type().IsRegular() {
			continue
		}
		d := digest.NewDigestFromEncoded(digest.SHA256, e.Name())
		if validate(d) != nil {
			continue
		}
		fi, err := e.Info()
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				continue
			}
			return fmt.Errorf("content: walk: %w", err)
		}
		if err := fn(d, fi.Size()); err != nil {
			return err
		}
	}
	return nil
}

// Writer starts a new blob. The caller must Commit or Close it; Close
// without a successful Commit discards the data.
func (s *Store) Writer() (*Writer, error) {
	f, err := os.CreateTemp(s.ingest, "w-")
	if err != nil {
		return nil, fmt.Errorf("content: new writer: %w", err)
	}
	return &Writer{s: s, f: f, digester: digest.SHA256.Digester()}, nil
}

// Writer writes one blob. It is not safe for concurrent use.
type Writer struct {
	s        *Store
	f        *os.File // nil once committed or closed
	digester digest.Digester
	size     int64
	err      error // sticky write error
}

var errWriterDone = errors.New("content: writer already committed or closed")

// Write appends p to the blob and to its running hash.
func (w *Writer) Write(p []byte) (int, error) {
	if w.f == nil {
		return 0, errWriterDone
	}
	if w.err != nil {
		return 0, w.err
	}
	n, err := w.f.Write(p)
	w.digester.Hash().Write(p[:n])
	w.size += int64(n)
	if err != nil {
		w.err = fmt.Errorf("content: write: %w", err)
		return n, w.err
	}
	return n, nil
}

// Digest returns the digest of the data written so far.
func (w *Writer) Digest() digest.Digest { return w.digester.Digest() }

// Size returns the number of bytes written so far.
func (w *Writer) Size() int64 { return w.size }

// Commit makes the blob visible: it flushes the data to disk, checks it
// against expected (when non-empty), renames the temp file into blobs/ and
// syncs the directory so the rename survives a crash. If the blob already
// exists the temp file is just dropped. On any error the temp file is
// removed and the writer is finished.
func (w *Writer) Commit(expected digest.Digest) (digest.Digest, error) {
	if w.f == nil {
		return "", errWriterDone
	}
	d, err := w.commit(expected)
	if err != nil {
		w.abort()
		return "", err
	}
	return d, nil
}

func (w *Writer) commit(expected digest.Digest) (digest.Digest, error) {
	if w.err != nil {
		return "", w.err
	}
	if expected != "" {
		if err := validate(expected); err != nil {
			return "", err
		}
	}
	d := w.Digest()
	if expected != "" && d != expected {
		return "", fmt.Errorf("%w: expected %s, got %s (%d bytes)", ErrDigestMismatch, expected, d, w.size)
	}
	target := filepath.Join(w.s.blobs, d.Encoded())
	if _, err := os.Lstat(target); err == nil {
		// Already present (complete: only complete blobs are ever renamed
		// into place). Drop the temp file.
		w.abort()
		return d, nil
	}
	// fdatasync is enough: it flushes the data and the file size; the
	// other inode metadata (times) does not matter for a blob.
	if err := unix.Fdatasync(int(w.f.Fd())); err != nil {
		return "", fmt.Errorf("content: sync: %w", err)
	}
	if err := w.f.Chmod(blobMode); err != nil {
		return "", fmt.Errorf("content: chmod: %w", err)
	}
	tmp := w.f.Name()
	if err := w.f.Close(); err != nil {
		w.f = nil
		os.Remove(tmp)
		return "", fmt.Errorf("content: close: %w", err)
	}
	w.f = nil
	if err := os.Rename(tmp, target); err != nil {
		os.Remove(tmp)
		return "", fmt.Errorf("content: commit %s: %w", d, err)
	}
	if err := syncDir(w.s.blobs); err != nil {
		return "", fmt.Errorf("content: commit %s: %w", d, err)
	}
	return d, nil
}

// abort closes and removes the temp file, if still open.
func (w *Writer) abort() error {
	if w.f == nil {
		return nil
	}
	name := w.f.Name()
	cerr := w.f.Close()
	w.f = nil
	rerr := os.Remove(name)
	if rerr != nil && !errors.Is(rerr, fs.ErrNotExist) {
		return fmt.Errorf("content: discard temp: %w", rerr)
	}
	if cerr != nil {
		return fmt.Errorf("content: discard temp: %w", cerr)
	}
	return nil
}

// Close discards the blob unless it was committed. It is safe to call after
// Commit and more than once.
func (w *Writer) Close() error { return w.abort() }

func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}
