package build

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/ctrd/ctrd/api/errdefs"
	"github.com/ctrd/ctrd/images/archive"
	securejoin "github.com/cyphar/filepath-securejoin"
	"github.com/moby/patternmatcher"
	"github.com/moby/patternmatcher/ignorefile"
)

// DefaultDockerfile is the Dockerfile's name when none is given.
const DefaultDockerfile = "Dockerfile"

// readContext unpacks the context archive into the build's directory.
func (bd *build) readContext() error {
	bd.ctxDir = filepath.Join(bd.dir, "context")
	if err := os.Mkdir(bd.ctxDir, 0o700); err != nil {
		return err
	}
	if bd.opts.Context == nil {
		return nil
	}
	rd, _, err := archive.DecompressStream(bd.opts.Context)
	if err != nil {
		return errdefs.InvalidArgument(fmt.Errorf("read build context: %w", err))
	}
	defer rd.Close()
	if _, err := archive.Apply(bd.ctx, bd.ctxDir, rd); err != nil {
		return errdefs.InvalidArgument(fmt.Errorf("read build context: %w", err))
	}
	return nil
}

// readDockerfile reads the Dockerfile from the context, then removes it and
// .dockerignore from the context if .dockerignore excludes them (the client
// sends them anyway, as Docker's does).
func (bd *build) readDockerfile() ([]byte, error) {
	name := bd.opts.Dockerfile
	if name == "" {
		name = DefaultDockerfile
	}
	bd.dfName = displayName(name)
	if rel := path.Clean("/" + filepath.ToSlash(name)); rel == "/" || strings.HasPrefix(filepath.Clean(name), "..") {
		return nil, &Error{Msg: fmt.Sprintf("the Dockerfile (%s) must be within the build context", name)}
	}
	p, err := securejoin.SecureJoin(bd.ctxDir, name)
	if err != nil {
		return nil, err
	}
	data, err := os.ReadFile(p)
	if errors.Is(err, os.ErrNotExist) && bd.opts.Dockerfile == "" {
		if p2, err2 := securejoin.SecureJoin(bd.ctxDir, "dockerfile"); err2 == nil {
			if data2, err2 := os.ReadFile(p2); err2 == nil {
				data, err, p = data2, nil, p2
			}
		}
	}
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, &Error{Msg: fmt.Sprintf("Cannot locate specified Dockerfile: %s", name)}
		}
		return nil, &Error{Msg: fmt.Sprintf("cannot read the Dockerfile %s: %v", name, unwrapPath(err))}
	}
	ignore := filepath.Join(bd.ctxDir, ".dockerignore")
	f, err := os.Open(ignore)
	if err == nil {
		patterns, err := ignorefile.ReadAll(f)
		f.Close()
		if err == nil && len(patterns) > 0 {
			if pm, err := patternmatcher.New(patterns); err == nil {
				rel, _ := filepath.Rel(bd.ctxDir, p)
				if m, _ := pm.MatchesOrParentMatches(filepath.ToSlash(rel)); m {
					_ = os.Remove(p)
				}
				if m, _ := pm.MatchesOrParentMatches(".dockerignore"); m {
					_ = os.Remove(ignore)
				}
			}
		}
	}
	return data, nil
}

// displayName is how errors name the Dockerfile: a Dockerfile the client
// added to the context under a generated name is just "Dockerfile".
func displayName(name string) string {
	base := path.Base(filepath.ToSlash(name))
	if strings.HasPrefix(base, ".dockerfile.") {
		return DefaultDockerfile
	}
	return filepath.ToSlash(path.Clean(filepath.ToSlash(name)))
}

func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// copyFile is io.Copy from a file path.
func copyFile(w io.Writer, p string) error {
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.Copy(w, f)
	return err
}
