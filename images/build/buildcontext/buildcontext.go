// Package buildcontext is the client side of a build context: it selects the
// files of a context directory that .dockerignore does not exclude (Docker's
// pattern rules, with the Dockerfile and .dockerignore always sent), checks
// that each can be read, and writes them as one tar stream. It is pure Go so
// that the CLI builds without cgo.
package buildcontext

import (
	"archive/tar"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/moby/patternmatcher"
	"github.com/moby/patternmatcher/ignorefile"
)

// IgnoreFile is the name of the exclusion file at the context's root.
const IgnoreFile = ".dockerignore"

// Context is a scanned context directory.
type Context struct {
	dir     string
	entries []entry
	extra   []extraFile
}

type entry struct {
	rel  string // slash-separated, relative to the context
	path string
	info fs.FileInfo
}

type extraFile struct {
	name string
	data []byte
}

// Scan walks dir and keeps what dir/.dockerignore does not exclude;
// dockerfile (relative to dir, "" if it lies elsewhere) is always kept.
// Every kept file is opened once, so an unreadable one is reported now,
// before anything is sent.
func Scan(dir, dockerfile string) (*Context, error) {
	fi, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("unable to prepare context: path %q not found", dir)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("unable to prepare context: %q is not a directory", dir)
	}
	patterns, err := readIgnore(filepath.Join(dir, IgnoreFile))
	if err != nil {
		return nil, err
	}
	var pm *patternmatcher.PatternMatcher
	if len(patterns) > 0 {
		if pm, err = patternmatcher.New(patterns); err != nil {
			return nil, fmt.Errorf("invalid %s: %w", IgnoreFile, err)
		}
	}
	keep := map[string]bool{IgnoreFile: true}
	if dockerfile != "" {
		keep[filepath.ToSlash(filepath.Clean(dockerfile))] = true
	}
	c := &Context{dir: dir}
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		rel, rerr := filepath.Rel(dir, p)
		if rerr != nil {
			return rerr
		}
		rel = filepath.ToSlash(rel)
		if err != nil {
			return fmt.Errorf("error checking context: can't read %s: %w", rel, unwrap(err))
		}
		if rel == "." {
			return nil
		}
		if pm != nil && !keep[rel] {
			excluded, err := pm.MatchesOrParentMatches(rel)
			if err != nil {
				return fmt.Errorf("invalid %s: %w", IgnoreFile, err)
			}
			if excluded {
				if d.IsDir() && !pm.Exclusions() {
					return filepath.SkipDir
				}
				return nil
			}
		}
		info, err := d.Info()
		if err != nil {
			return fmt.Errorf("error checking context: can't stat %s: %w", rel, unwrap(err))
		}
		if info.Mode()&fs.ModeSocket != 0 {
			return nil
		}
		if info.Mode().IsRegular() {
			f, err := os.Open(p)
			if err != nil {
				return fmt.Errorf("error checking context: can't read %s: %w", rel, unwrap(err))
			}
			f.Close()
		}
		c.entries = append(c.entries, entry{rel: rel, path: p, info: info})
		return nil
	})
	if err != nil {
		return nil, err
	}
	return c, nil
}

func readIgnore(p string) ([]string, error) {
	f, err := os.Open(p)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("error checking context: can't read %s: %w", IgnoreFile, unwrap(err))
	}
	defer f.Close()
	patterns, err := ignorefile.ReadAll(f)
	if err != nil {
		return nil, fmt.Errorf("invalid %s: %w", IgnoreFile, err)
	}
	return patterns, nil
}

// Add adds a file that is not in the directory (a Dockerfile from
// elsewhere) at the context's root.
func (c *Context) Add(name string, data []byte) {
	c.extra = append(c.extra, extraFile{name: name, data: data})
}

// Files lists the relative paths that will be sent, in order.
func (c *Context) Files() []string {
	var out []string
	for _, e := range c.entries {
		out = append(out, e.rel)
	}
	for _, x := range c.extra {
		out = append(out, x.name)
	}
	return out
}

// WriteTo writes the context as a tar stream. Owners are 0:0 (Docker's);
// modes, times and link targets are kept.
func (c *Context) WriteTo(w io.Writer) (int64, error) {
	cw := &countWriter{w: w}
	tw := tar.NewWriter(cw)
	for _, e := range c.entries {
		if err := writeEntry(tw, e); err != nil {
			return cw.n, err
		}
	}
	sort.Slice(c.extra, func(i, j int) bool { return c.extra[i].name < c.extra[j].name })
	for _, x := range c.extra {
		hdr := &tar.Header{Typeflag: tar.TypeReg, Name: x.name, Mode: 0o644, Size: int64(len(x.data)), ModTime: time.Now()}
		if err := tw.WriteHeader(hdr); err != nil {
			return cw.n, err
		}
		if _, err := tw.Write(x.data); err != nil {
			return cw.n, err
		}
	}
	err := tw.Close()
	return cw.n, err
}

func writeEntry(tw *tar.Writer, e entry) error {
	link := ""
	if e.info.Mode()&fs.ModeSymlink != 0 {
		l, err := os.Readlink(e.path)
		if err != nil {
			return fmt.Errorf("error checking context: can't read link %s: %w", e.rel, unwrap(err))
		}
		link = l
	}
	hdr, err := tar.FileInfoHeader(e.info, link)
	if err != nil {
		return fmt.Errorf("error checking context: %s: %w", e.rel, err)
	}
	hdr.Name = e.rel
	if e.info.IsDir() {
		hdr.Name += "/"
	}
	hdr.Uid, hdr.Gid, hdr.Uname, hdr.Gname = 0, 0, "", ""
	hdr.AccessTime, hdr.ChangeTime = time.Time{}, time.Time{}
	hdr.Format = tar.FormatPAX
	if err := tw.WriteHeader(hdr); err != nil {
		return err
	}
	if !e.info.Mode().IsRegular() || hdr.Size == 0 {
		return nil
	}
	f, err := os.Open(e.path)
	if err != nil {
		return fmt.Errorf("error checking context: can't read %s: %w", e.rel, unwrap(err))
	}
	defer f.Close()
	n, err := io.Copy(tw, io.LimitReader(f, hdr.Size))
	if err != nil {
		return fmt.Errorf("reading %s: %w", e.rel, err)
	}
	if n < hdr.Size {
		// The file shrank while being sent: pad it, as tar needs the size.
		_, err = io.Copy(tw, bytes.NewReader(make([]byte, hdr.Size-n)))
	}
	return err
}

// IsTar tells whether head (the first bytes of a stream, at least 512 when
// available) starts a tar archive.
func IsTar(head []byte) bool {
	if len(head) < 512 {
		return false
	}
	_, err := tar.NewReader(bytes.NewReader(head)).Next()
	return err == nil
}

// Within returns p relative to dir when p lies inside it.
func Within(dir, p string) (string, bool) {
	ad, err1 := filepath.Abs(dir)
	ap, err2 := filepath.Abs(p)
	if err1 != nil || err2 != nil {
		return "", false
	}
	if rd, err := filepath.EvalSymlinks(ad); err == nil {
		ad = rd
	}
	if rp, err := filepath.EvalSymlinks(ap); err == nil {
		ap = rp
	}
	rel, err := filepath.Rel(ad, ap)
	if err != nil || rel == ".." || strings.HasPrefix(rel, "../") {
		return "", false
	}
	return filepath.ToSlash(rel), true
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

func unwrap(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
