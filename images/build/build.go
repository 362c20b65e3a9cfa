// Package build builds images from a Dockerfile with the semantics of
// Docker's classic builder: one image per step (intermediate images stay as
// the cache, linked by Parent), a layer for each step that changes files and
// an empty-layer history entry for each metadata step, and Docker's output.
//
// Parsing is buildkit's (parser and instructions packages); expansion of
// ARG and ENV values is buildkit's shell lexer; the metadata instructions are
// applied by images/config, shared with --change of import and commit. What
// is here is the dispatching: stages, ARG scoping, the cache, ADD/COPY,
// ONBUILD triggers. RUN steps are delegated to a Backend (the daemon), which
// runs them in real containers.
//
// # Cache
//
// A step's cache key is its parent image, its history line (CreatedBy) and
// the configuration it results in. CreatedBy is Docker's: the command of a
// RUN (prefixed by "|N K=V ..." when build arguments are set, so a changed
// argument misses), "#(nop) INSTRUCTION expanded-args" for metadata steps,
// and "#(nop) COPY file:<sha256> in DEST" for ADD/COPY, where the checksum
// covers the sources' names, modes, types, link targets and contents (never
// their times or owners). A cached step is a child image of the parent
// (Image.Parent) whose last history entry has that CreatedBy and whose
// config equals the expected one (Docker compared the child's
// ContainerConfig the same way). After the first miss every later step of
// the build runs (Docker's rule).
package build

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/ctrd/ctrd/api/errdefs"
	"github.com/ctrd/ctrd/images"
	"github.com/ctrd/ctrd/images/reference"
	"github.com/ctrd/ctrd/images/snapshot"
	"github.com/moby/buildkit/frontend/dockerfile/shell"
	"github.com/moby/sys/mountinfo"
	"github.com/opencontainers/go-digest"
)

// Options describe one build.
type Options struct {
	// Context is the build context: a tar archive (plain or compressed).
	Context io.Reader
	// Dockerfile is the Dockerfile's path inside the context ("" for
	// "Dockerfile").
	Dockerfile string
	// Tags name the final image.
	Tags []string
	// BuildArgs are KEY=VALUE (or a bare KEY: declared without a value).
	BuildArgs []string
	NoCache   bool
	// Pull asks for a fresh base image; ctrd has no registry client here
	// yet, so local images are used and a warning is printed.
	Pull bool
	// Target is the stage to stop after ("" for the last one).
	Target string
	// Labels are KEY=VALUE labels set on the final image.
	Labels []string
	// Out receives the build output (Docker's classic format).
	Out io.Writer
}

// RunRequest is one RUN step for a Backend.
type RunRequest struct {
	// Image is the step's parent image; ParentChain its top snapshot.
	Image       digest.Digest
	ParentChain string
	// Cmd is the full command line (shell included for the shell form).
	Cmd []string
	// Env is added to the image's environment (build arguments).
	Env        []string
	User       string
	WorkingDir string
	// Stdout and Stderr receive the command's output.
	Stdout, Stderr io.Writer
	// Started is called with the container's ID once it exists.
	Started func(id string)
}

// Backend runs RUN steps.
type Backend interface {
	// Run runs req.Cmd in a new container of req.Image, waits for it and
	// returns its file system changes as a layer pending on ParentChain.
	// The container is removed whatever happens. A non-zero exit is an
	// *ExitError.
	Run(ctx context.Context, req RunRequest) (images.PendingLayer, error)
}

// ExitError is a RUN command's non-zero exit.
type ExitError struct{ Code int }

func (e *ExitError) Error() string { return fmt.Sprintf("exit code %d", e.Code) }

// Error is a build error located in the Dockerfile.
type Error struct {
	File string
	Line int
	Msg  string
}

func (e *Error) Error() string {
	if e.File == "" {
		return e.Msg
	}
	if e.Line <= 0 {
		return e.File + ": " + e.Msg
	}
	return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
}

// Builder builds images into a store.
type Builder struct {
	Store   *images.Store
	Backend Backend
	// Root is a scratch directory: each build unpacks its context and
	// mounts image file systems below it, and removes them when done.
	Root string
	// HTTPClient downloads ADD URLs (nil: http.DefaultClient).
	HTTPClient *http.Client

	mu     sync.Mutex
	active map[string]bool
}

// scratchPrefix names the active snapshots a build mounts to look into an
// image's file system. Like the image store's own unpack snapshots
// ("extract-"), any left by a crash are removed at daemon start.
const scratchPrefix = "extract-build-"

// Build runs a build and returns the final image, tagged as asked.
func (b *Builder) Build(ctx context.Context, o Options) (images.Image, error) {
	out := o.Out
	if out == nil {
		out = io.Discard
	}
	var refs []reference.Named
	for _, t := range o.Tags {
		r, err := reference.Parse(t)
		if err != nil {
			return images.Image{}, errdefs.InvalidArgument(err)
		}
		refs = append(refs, r)
	}
	args, err := parseKVs(o.BuildArgs, "--build-arg", true)
	if err != nil {
		return images.Image{}, errdefs.InvalidArgument(err)
	}
	labels, err := parseKVs(o.Labels, "--label", false)
	if err != nil {
		return images.Image{}, errdefs.InvalidArgument(err)
	}
	dir, release, err := b.workDir()
	if err != nil {
		return images.Image{}, err
	}
	defer release()

	bd := &build{
		Builder:   b,
		ctx:       ctx,
		opts:      o,
		out:       out,
		dir:       dir,
		buildArgs: args,
		argsUsed:  map[string]bool{},
		hashes:    map[string]string{},
	}
	defer bd.releaseMounts()
	if err := bd.readContext(); err != nil {
		return images.Image{}, err
	}
	if err := bd.parse(labels); err != nil {
		return images.Image{}, err
	}
	if o.Pull {
		fmt.Fprintf(out, "[Warning] --pull: this ctrd cannot pull images; using the local base images\n")
	}
	if !o.NoCache {
		if err := bd.loadChildren(); err != nil {
			return images.Image{}, err
		}
	}
	for _, st := range bd.stages {
		if err := bd.runStage(st); err != nil {
			return images.Image{}, err
		}
	}
	final := bd.stages[len(bd.stages)-1]
	if final.img.ID == "" {
		return images.Image{}, &Error{File: bd.dfName, Msg: "No image was generated. Is your Dockerfile empty?"}
	}
	if unused := bd.unusedArgs(); len(unused) > 0 {
		fmt.Fprintf(out, "[Warning] One or more build-args [%s] were not consumed\n", strings.Join(unused, " "))
	}
	fmt.Fprintf(out, "Successfully built %s\n", short(final.img.ID))
	for _, r := range refs {
		if err := b.Store.Tag(final.img.ID.String(), r.String()); err != nil {
			return images.Image{}, err
		}
		fmt.Fprintf(out, "Successfully tagged %s\n", r.Familiar())
	}
	img, err := b.Store.Resolve(final.img.ID.String())
	if err != nil {
		return images.Image{}, err
	}
	return img, nil
}

// workDir makes this build's scratch directory, after removing those of
// earlier daemon lives.
func (b *Builder) workDir() (string, func(), error) {
	if err := os.MkdirAll(b.Root, 0o700); err != nil {
		return "", nil, fmt.Errorf("build: %w", err)
	}
	id := randomHex(8)
	b.mu.Lock()
	if b.active == nil {
		b.active = map[string]bool{}
	}
	b.active[id] = true
	stale := map[string]bool{}
	if es, err := os.ReadDir(b.Root); err == nil {
		for _, e := range es {
			if !b.active[e.Name()] {
				stale[e.Name()] = true
			}
		}
	}
	b.mu.Unlock()
	for name := range stale {
		removeScratch(filepath.Join(b.Root, name))
	}
	dir := filepath.Join(b.Root, id)
	if err := os.Mkdir(dir, 0o700); err != nil {
		return "", nil, fmt.Errorf("build: %w", err)
	}
	return dir, func() {
		removeScratch(dir)
		b.mu.Lock()
		delete(b.active, id)
		b.mu.Unlock()
	}, nil
}

// removeScratch deletes a scratch directory, unmounting what a crashed
// build left mounted below it first; it never deletes through a mount.
func removeScratch(dir string) {
	under := func(m *mountinfo.Info) (skip, stop bool) {
		return m.Mountpoint != dir && !strings.HasPrefix(m.Mountpoint, dir+"/"), false
	}
	mounts, _ := mountinfo.GetMounts(under)
	sort.Slice(mounts, func(i, j int) bool { return len(mounts[i].Mountpoint) > len(mounts[j].Mountpoint) })
	for _, m := range mounts {
		_ = snapshot.Unmount(m.Mountpoint)
	}
	if mounts, _ := mountinfo.GetMounts(under); len(mounts) > 0 {
		return
	}
	_ = os.RemoveAll(dir)
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

func short(id digest.Digest) string {
	s := id.Encoded()
	if len(s) > 12 {
		return s[:12]
	}
	return s
}

// kv is one KEY=VALUE option; Value is nil for a bare KEY.
type kv struct {
	Key   string
	Value *string
}

func parseKVs(list []string, flag string, bareOK bool) ([]kv, error) {
	var out []kv
	for _, s := range list {
		k, v, ok := strings.Cut(s, "=")
		if k == "" {
			return nil, fmt.Errorf("invalid %s %q: the name is empty", flag, s)
		}
		if !ok && !bareOK {
			return nil, fmt.Errorf("invalid %s %q: use KEY=VALUE", flag, s)
		}
		e := kv{Key: k}
		if ok {
			e.Value = &v
		}
		out = append(out, e)
	}
	return out, nil
}

// build is the state of one build.
type build struct {
	*Builder
	ctx  context.Context
	opts Options
	out  io.Writer
	dir  string

	ctxDir  string // the unpacked context
	dfName  string // the Dockerfile's name in messages
	lex     *shell.Lex
	stages  []*stage
	meta    []argValue // ARGs before the first FROM
	step    int
	total   int
	busted  bool
	nMounts int
	mounts  []*fsMount

	buildArgs []kv
	argsUsed  map[string]bool

	// children indexes the images by parent, for cache probes.
	children map[digest.Digest][]digest.Digest
	// hashes memoises content checksums of files.
	hashes map[string]string
}

func (bd *build) loadChildren() error {
	list, err := bd.Store.List()
	if err != nil {
		return err
	}
	bd.children = map[digest.Digest][]digest.Digest{}
	sort.Slice(list, func(i, j int) bool { return list[i].Created.After(list[j].Created) })
	for _, s := range list {
		bd.children[s.Parent] = append(bd.children[s.Parent], s.ID)
	}
	return nil
}

func (bd *build) printf(format string, a ...any) {
	fmt.Fprintf(bd.out, format, a...)
}

// errorf makes an error located at line of the Dockerfile.
func (bd *build) errorf(line int, format string, a ...any) error {
	return &Error{File: bd.dfName, Line: line, Msg: fmt.Sprintf(format, a...)}
}

// located turns err into a located error unless it already is one (or is a
// failed RUN, which Docker reports without a location).
func (bd *build) located(line int, err error) error {
	var e *Error
	if err == nil || errors.As(err, &e) || errors.Is(err, context.Canceled) {
		return err
	}
	var re *runError
	if errors.As(err, &re) {
		return err
	}
	return &Error{File: bd.dfName, Line: line, Msg: err.Error()}
}

// runError is a failed RUN, in Docker's words.
type runError struct {
	cmd  []string
	code int
}

func (e *runError) Error() string {
	return fmt.Sprintf("The command '%s' returned a non-zero code: %d", strings.Join(e.cmd, " "), e.code)
}

func now() *time.Time {
	t := time.Now().UTC()
	return &t
}
