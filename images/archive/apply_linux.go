package archive

import (
	"archive/tar"
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"

	securejoin "github.com/cyphar/filepath-securejoin"
	"golang.org/x/sys/unix"
)

// ErrUnsafePath is matched (errors.Is) by the error Apply returns for an
// entry that would create or reach something outside the target directory:
// a name or hardlink target that is absolute or climbs above the root with
// "..", a relative symlink target that climbs above the root, or an invalid
// whiteout name.
var ErrUnsafePath = errors.New("archive: unsafe path in tar entry")

type unsafePathError struct{ name, reason string }

func (e *unsafePathError) Error() string {
	return fmt.Sprintf("archive: tar entry %q %s", e.name, e.reason)
}

func (e *unsafePathError) Is(target error) bool { return target == ErrUnsafePath }

const (
	whiteoutPrefix     = ".wh."
	whiteoutMetaPrefix = ".wh..wh."
	whiteoutOpaque     = ".wh..wh..opq"
	overlayXattrPrefix = "trusted.overlay."
	overlayOpaqueXattr = "trusted.overlay.opaque"
	paxXattrPrefix     = "SCHILY.xattr."

	copyBufSize     = 1 << 20
	readBufSize     = 256 << 10
	maxSymlinkWalks = 40
)

var (
	copyBufPool = sync.Pool{New: func() any { b := make([]byte, copyBufSize); return &b }}
	readBufPool = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, readBufSize) }}
)

// Apply unpacks an OCI/Docker layer tar stream (already decompressed) into
// dir, an overlayfs upper directory (or the single directory of a bottom
// layer), and returns the number of bytes read from r (the whole stream: the
// padding after the end-of-archive marker is drained too, so that a caller
// hashing r sees every byte).
//
// OCI whiteouts become overlay whiteouts: ".wh.NAME" replaces NAME by a
// character device 0/0; ".wh..wh..opq" in D sets trusted.overlay.opaque=y on
// D (entries of the same tar inside D stay). Other ".wh..wh.*" (AUFS
// metadata) entries are ignored. Ownership (numeric), modes including
// setuid/setgid/sticky, access and modification times, xattrs from PAX
// SCHILY.xattr.* records (except trusted.overlay.*, which only whiteouts may
// produce), hardlinks, symlinks, devices and fifos are restored. A
// non-directory replaces whatever was at its path; a directory over a
// directory only updates its metadata. Implied parent directories are created
// 0755 root:root. Files are not fsynced: see Sync.
//
// Safety. Entry names and hardlink targets that are absolute or climb above
// the root, and relative symlink targets that climb above the symlink's root
// (e.g. "a/l -> ../.."), are rejected with an error matching ErrUnsafePath.
// Absolute symlink targets are allowed. When a parent component of an entry
// (or of a hardlink target) is a symlink, the path is resolved *inside* dir,
// with securejoin semantics: symlinks are followed as if dir were "/" and
// ".." stops at dir. We chose resolving over rejecting because it is exactly
// how the path resolves inside the container at run time, so a layer (valid
// or not) gets the same meaning on disk as in the container, and nothing can
// ever be reached outside dir. The last component of an entry is never
// followed: a file, link, node or directory replaces a symlink at its path.
//
// Apply expects to be the only writer of dir while it runs (dir is not yet
// visible to any container); under that assumption it keeps a cache of the
// directories it has created or verified to be real directories, so most
// entries cost no path resolution at all, and writes small files on a few
// worker goroutines (see workers_linux.go). All of them have stopped when
// Apply returns.
func Apply(ctx context.Context, dir string, r io.Reader) (int64, error) {
	root, err := filepath.Abs(dir)
	if err == nil {
		root, err = filepath.EvalSymlinks(root)
	}
	if err != nil {
		return 0, fmt.Errorf("archive: apply: %w", err)
	}
	rootfd, err := unix.Open(root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return 0, fmt.Errorf("archive: apply: %w", &pathErr{op: "open", path: root, err: err})
	}
	defer unix.Close(rootfd)

	bufp := copyBufPool.Get().(*[]byte)
	defer copyBufPool.Put(bufp)

	a := &applier{
		root:   root,
		rootfd: rootfd,
		dirs:   map[string]struct{}{".": {}},
		buf:    *bufp,
	}
	a.startWorkers(applyWorkers)
	defer a.stopWorkers() // before rootfd is closed
	entry := func(hdr *tar.Header, tr *tar.Reader) error {
		if err := a.entry(hdr, tr); err != nil {
			// Files still queued come before this entry: their error,
			// if any, is the first, whatever the workers' timing.
			if werr := a.wait(); werr != nil {
				return werr
			}
			return err
		}
		if a.failed.Load() {
			return a.wait()
		}
		return nil
	}
	end := func() error {
		if err := a.wait(); err != nil {
			return err
		}
		return a.setDirTimes()
	}
	return readLayer(ctx, r, a.buf, entry, end)
}

// readLayer reads the layer tar stream r to its end: it calls entry for each
// entry in order, then end, then drains r, and returns the number of bytes
// read from r. It stops at the first error, of entry, of end or of the tar
// format ("archive: reading tar: ..."), or when ctx is done. Apply and
// Validate share it so that they read a stream the same way: the same bytes,
// the same format errors.
func readLayer(ctx context.Context, r io.Reader, buf []byte, entry func(*tar.Header, *tar.Reader) error, end func() error) (int64, error) {
	cr := &countingReader{r: r}
	br := readBufPool.Get().(*bufio.Reader)
	br.Reset(cr)
	defer func() { br.Reset(nil); readBufPool.Put(br) }()
	tr := tar.NewReader(br)
	for {
		if err := ctx.Err(); err != nil {
			return cr.n, err
		}
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return cr.n, fmt.Errorf("archive: reading tar: %w", err)
		}
		if err := entry(hdr, tr); err != nil {
			return cr.n, err
		}
	}
	if end != nil {
		if err := end(); err != nil {
			return cr.n, err
		}
	}
	// The padding after the end-of-archive marker is drained too, so that a
	// caller hashing r sees every byte.
	if _, err := io.CopyBuffer(io.Discard, br, buf); err != nil {
		return cr.n, fmt.Errorf("archive: reading tar: %w", err)
	}
	return cr.n, nil
}

type applier struct {
	root   string // absolute, clean, symlink-free path of the target dir
	rootfd int    // O_PATH descriptor of root; every *at call is relative to it

	// dirs holds the paths (relative to root, "." for root) that this Apply
	// has created or checked to be real directories, whose ancestors are
	// real directories too. Removing a directory drops it and everything
	// under it, so a path in dirs can be used as a parent without any
	// symlink check.
	dirs map[string]struct{}

	dirTimes []dirTime
	buf      []byte

	workerPool
}

type dirTime struct {
	rel string
	ts  [2]unix.Timespec
}

func (a *applier) abs(rel string) string {
	if rel == "." {
		return a.root
	}
	if a.root == "/" {
		return "/" + rel
	}
	return a.root + "/" + rel
}

// cleanName validates a tar entry name and returns it clean and relative
// ("." for the root itself).
func cleanName(name string) (string, error) {
	if name == "" {
		return "", &unsafePathError{name: name, reason: "has an empty name"}
	}
	if strings.HasPrefix(name, "/") {
		return "", &unsafePathError{name: name, reason: "escapes the root (absolute path)"}
	}
	p := path.Clean(name)
	if p == ".." || strings.HasPrefix(p, "../") {
		return "", &unsafePathError{name: name, reason: "escapes the root"}
	}
	return p, nil
}

func splitName(p string) (dir, base string) {
	i := strings.LastIndexByte(p, '/')
	if i < 0 {
		return ".", p
	}
	return p[:i], p[i+1:]
}

func joinName(dir, base string) string {
	if dir == "." {
		return base
	}
	return dir + "/" + base
}

// An entryKind says what Apply does with a tar entry, as far as the header
// alone tells.
type entryKind int

const (
	entryIgnored  entryKind = iota // PAX global header, AUFS metadata whiteout
	entryRoot                      // the root directory itself
	entryOpaque                    // opaque whiteout of dir
	entryWhiteout                  // whiteout of dir/base
	entryNode                      // anything else: created at dir/base
)

// A layerEntry is a tar entry that passed checkEntry.
type layerEntry struct {
	kind entryKind
	dir  string // clean parent directory, "." for the root
	base string // last name component; for a whiteout, the name it removes
	link string // clean hardlink target
}

// checkEntry classifies hdr and makes every check of its name and link
// target that needs no look at the disk. Apply makes all of them before it
// touches the disk for the entry; Validate makes the same.
func checkEntry(hdr *tar.Header) (layerEntry, error) {
	if hdr.Typeflag == tar.TypeXGlobalHeader {
		return layerEntry{kind: entryIgnored}, nil
	}
	name, err := cleanName(hdr.Name)
	if err != nil {
		return layerEntry{}, err
	}
	if name == "." {
		if hdr.Typeflag != tar.TypeDir {
			return layerEntry{}, fmt.Errorf("archive: tar entry %q: the root can only be a directory", hdr.Name)
		}
		return layerEntry{kind: entryRoot}, nil
	}
	dirName, base := splitName(name)
	if strings.HasPrefix(base, whiteoutPrefix) {
		switch {
		case base == whiteoutOpaque:
			return layerEntry{kind: entryOpaque, dir: dirName}, nil
		case strings.HasPrefix(base, whiteoutMetaPrefix):
			return layerEntry{kind: entryIgnored}, nil // AUFS metadata (.wh..wh.plnk, .wh..wh.aufs): meaningless here
		}
		target := base[len(whiteoutPrefix):]
		if target == "" || target == "." || target == ".." {
			return layerEntry{}, &unsafePathError{name: hdr.Name, reason: "is an invalid whiteout"}
		}
		return layerEntry{kind: entryWhiteout, dir: dirName, base: target}, nil
	}

	e := layerEntry{kind: entryNode, dir: dirName, base: base}
	switch hdr.Typeflag {
	case tar.TypeLink:
		if e.link, err = cleanName(hdr.Linkname); err != nil || e.link == "." {
			return layerEntry{}, &unsafePathError{name: hdr.Name, reason: fmt.Sprintf("is a hardlink to %q, which escapes the root", hdr.Linkname)}
		}
	case tar.TypeSymlink:
		if hdr.Linkname == "" {
			return layerEntry{}, fmt.Errorf("archive: tar entry %q: empty symlink target", hdr.Name)
		}
		if !path.IsAbs(hdr.Linkname) {
			t := path.Join(dirName, hdr.Linkname)
			if t == ".." || strings.HasPrefix(t, "../") {
				return layerEntry{}, &unsafePathError{name: hdr.Name, reason: fmt.Sprintf("is a symlink to %q, which escapes the root", hdr.Linkname)}
			}
		}
	}
	return e, nil
}

func unsupportedType(hdr *tar.Header) error {
	return fmt.Errorf("archive: tar entry %q: unsupported type %q", hdr.Name, hdr.Typeflag)
}

func (a *applier) entry(hdr *tar.Header, tr *tar.Reader) error {
	// Check names and link targets before anything touches the disk.
	e, err := checkEntry(hdr)
	if err != nil {
		return err
	}
	switch e.kind {
	case entryIgnored:
		return nil
	case entryRoot:
		return a.entryErr(hdr, a.dirMeta(".", hdr))
	case entryOpaque:
		return a.opaque(hdr, e.dir)
	case entryWhiteout:
		return a.whiteout(hdr, e.dir, e.base)
	}

	parent, err := a.ensureDir(e.dir, true)
	if err != nil {
		return a.entryErr(hdr, err)
	}
	rel := joinName(parent, e.base)
	if err := a.waitFor(rel); err != nil {
		return err
	}
	switch hdr.Typeflag {
	case tar.TypeReg, tar.TypeGNUSparse:
		if _, isDir := a.dirs[rel]; a.queues != nil && !isDir && hdr.Typeflag == tar.TypeReg && hdr.Size <= maxJobSize {
			err = a.queueFile(rel, hdr, tr)
			break
		}
		err = a.file(rel, hdr, tr)
	case tar.TypeDir:
		err = a.dir(rel, hdr)
	case tar.TypeSymlink:
		err = a.symlink(rel, hdr)
	case tar.TypeLink:
		err = a.hardlink(rel, e.link)
	case tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
		err = a.node(rel, hdr)
	default:
		return unsupportedType(hdr)
	}
	return a.entryErr(hdr, err)
}

// entryErr names the entry in err, unless err is a worker's error coming
// through a wait (which names its own entry).
func (a *applier) entryErr(hdr *tar.Header, err error) error {
	if err == nil {
		return nil
	}
	if a.failed.Load() {
		return a.wait()
	}
	return entryError(hdr, err)
}

// entryError names the entry in err, unless err is an unsafe path error
// (which names its own entry).
func entryError(hdr *tar.Header, err error) error {
	var up *unsafePathError
	if err == nil || errors.As(err, &up) {
		return err
	}
	return fmt.Errorf("archive: tar entry %q: %w", hdr.Name, err)
}

// ensureDir returns the real path (relative to the root, symlinks resolved
// inside the root) of directory rel, creating missing directories (0755) when
// create is set.
func (a *applier) ensureDir(rel string, create bool) (string, error) {
	if _, ok := a.dirs[rel]; ok {
		return rel, nil
	}
	return a.walkDir(rel, create, 0)
}

func (a *applier) walkDir(rel string, create bool, hops int) (string, error) {
	if _, ok := a.dirs[rel]; ok {
		return rel, nil
	}
	if hops > maxSymlinkWalks {
		return "", &pathErr{op: "resolve", path: rel, err: unix.ELOOP}
	}
	// Start after the deepest known ancestor.
	start := 0
	for i := len(rel); ; {
		j := strings.LastIndexByte(rel[:i], '/')
		if j < 0 {
			break
		}
		if _, ok := a.dirs[rel[:j]]; ok {
			start = j + 1
			break
		}
		i = j
	}
	for start <= len(rel) {
		end := len(rel)
		if j := strings.IndexByte(rel[start:], '/'); j >= 0 {
			end = start + j
		}
		cur := rel[:end]
		start = end + 1
		if _, ok := a.dirs[cur]; ok {
			continue
		}
		if err := a.waitFor(cur); err != nil {
			return "", err
		}
		var st unix.Stat_t
		err := unix.Fstatat(a.rootfd, cur, &st, unix.AT_SYMLINK_NOFOLLOW)
		switch {
		case err == unix.ENOENT && create:
			if err := unix.Mkdirat(a.rootfd, cur, 0o755); err != nil {
				return "", &pathErr{op: "mkdir", path: cur, err: err}
			}
		case err != nil:
			return "", &pathErr{op: "lstat", path: cur, err: err}
		case st.Mode&unix.S_IFMT == unix.S_IFDIR:
		case st.Mode&unix.S_IFMT == unix.S_IFLNK:
			// A symlink in the parent path: resolve the whole path inside
			// the root (securejoin semantics) and walk the result, which
			// has no symlinks left in its existing components. (Let queued
			// files land first, as the resolution may look at their paths.)
			if err := a.wait(); err != nil {
				return "", err
			}
			resolved, err := securejoin.SecureJoin(a.root, rel)
			if err != nil {
				return "", &pathErr{op: "resolve", path: rel, err: err}
			}
			r, ok := a.relOf(resolved)
			if !ok {
				return "", &unsafePathError{name: rel, reason: "resolves outside the root"}
			}
			return a.walkDir(r, create, hops+1)
		default:
			return "", &pathErr{op: "lookup", path: cur, err: unix.ENOTDIR}
		}
		a.dirs[cur] = struct{}{}
	}
	return rel, nil
}

// relOf turns an absolute path under the root into a root-relative one.
func (a *applier) relOf(p string) (string, bool) {
	if p == a.root {
		return ".", true
	}
	prefix := a.root + "/"
	if a.root == "/" {
		prefix = "/"
	}
	if !strings.HasPrefix(p, prefix) {
		return "", false
	}
	return path.Clean(p[len(prefix):]), true
}

// remove removes whatever is at rel (nothing if there is nothing).
func (a *applier) remove(rel string) error {
	if err := a.waitFor(rel); err != nil {
		return err
	}
	err := unix.Unlinkat(a.rootfd, rel, 0)
	switch err {
	case nil, unix.ENOENT:
		return nil
	case unix.EISDIR:
		// Queued files may be inside: let them land before removing the
		// directory and forgetting it.
		if err := a.wait(); err != nil {
			return err
		}
		a.forgetDirs(rel)
		if err := os.RemoveAll(a.abs(rel)); err != nil {
			return fmt.Errorf("removing %s: %w", rel, err)
		}
		return nil
	}
	return &pathErr{op: "unlink", path: rel, err: err}
}

// forgetDirs drops rel and everything under it from the directory cache.
func (a *applier) forgetDirs(rel string) {
	prefix := rel + "/"
	for d := range a.dirs {
		if d == rel || strings.HasPrefix(d, prefix) {
			delete(a.dirs, d)
		}
	}
}

// opaque marks directory dirName opaque.
func (a *applier) opaque(hdr *tar.Header, dirName string) error {
	parent, err := a.ensureDir(dirName, true)
	if err != nil {
		return a.entryErr(hdr, err)
	}
	if err := unix.Lsetxattr(a.abs(parent), overlayOpaqueXattr, []byte("y"), 0); err != nil {
		return fmt.Errorf("archive: tar entry %q: setting %s: %w", hdr.Name, overlayOpaqueXattr, err)
	}
	return nil
}

// whiteout replaces dirName/target by a whiteout.
func (a *applier) whiteout(hdr *tar.Header, dirName, target string) error {
	parent, err := a.ensureDir(dirName, true)
	if err != nil {
		return a.entryErr(hdr, err)
	}
	rel := joinName(parent, target)
	if err := a.remove(rel); err != nil {
		return a.entryErr(hdr, err)
	}
	if err := unix.Mknodat(a.rootfd, rel, unix.S_IFCHR, 0); err != nil {
		return fmt.Errorf("archive: tar entry %q: whiteout: %w", hdr.Name, err)
	}
	if err := unix.Fchownat(a.rootfd, rel, hdr.Uid, hdr.Gid, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("archive: tar entry %q: whiteout: %w", hdr.Name, err)
	}
	// The entry's times too, so that the diff of an applied layer is
	// the diff it was applied from, whenever it is applied.
	ts := tarTimes(hdr)
	if err := unix.UtimesNanoAt(a.rootfd, rel, ts[:], unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("archive: tar entry %q: whiteout: %w", hdr.Name, err)
	}
	return nil
}

func tarMode(hdr *tar.Header) uint32 { return uint32(hdr.Mode) & 0o7777 }

func tarTimes(hdr *tar.Header) [2]unix.Timespec {
	at := hdr.AccessTime
	if at.IsZero() {
		at = hdr.ModTime
	}
	return [2]unix.Timespec{timespec(at), timespec(hdr.ModTime)}
}

func (a *applier) file(rel string, hdr *tar.Header, tr *tar.Reader) error {
	const flags = unix.O_WRONLY | unix.O_CREAT | unix.O_EXCL | unix.O_NOFOLLOW | unix.O_CLOEXEC
	fd, err := unix.Openat(a.rootfd, rel, flags, 0o600)
	if err == unix.EEXIST {
		if err := a.remove(rel); err != nil {
			return err
		}
		fd, err = unix.Openat(a.rootfd, rel, flags, 0o600)
	}
	if err != nil {
		return &pathErr{op: "create", path: rel, err: err}
	}
	err = a.fileContent(fd, rel, hdr, tr)
	if cerr := unix.Close(fd); err == nil && cerr != nil {
		err = &pathErr{op: "close", path: rel, err: cerr}
	}
	return err
}

func (a *applier) fileContent(fd int, rel string, hdr *tar.Header, tr *tar.Reader) error {
	if hdr.Size > 0 {
		if _, err := io.CopyBuffer(fdWriter(fd), tr, a.buf); err != nil {
			return fmt.Errorf("writing %s: %w", rel, err)
		}
	}
	return a.fileMeta(fd, rel, hdr)
}

// fileMeta sets the metadata of the regular file open as fd, once written.
// It may run on a worker goroutine.
func (a *applier) fileMeta(fd int, rel string, hdr *tar.Header) error {
	// Order matters: chown clears setuid/setgid, and chown or write clear
	// security.capability, so mode and xattrs come after both.
	if err := unix.Fchown(fd, hdr.Uid, hdr.Gid); err != nil {
		return &pathErr{op: "chown", path: rel, err: err}
	}
	if err := unix.Fchmod(fd, tarMode(hdr)); err != nil {
		return &pathErr{op: "chmod", path: rel, err: err}
	}
	if err := a.xattrs(rel, hdr, fd); err != nil {
		return err
	}
	ts := tarTimes(hdr)
	if err := futimens(fd, &ts); err != nil {
		return &pathErr{op: "utimes", path: rel, err: err}
	}
	return nil
}

func (a *applier) dir(rel string, hdr *tar.Header) error {
	err := unix.Mkdirat(a.rootfd, rel, 0o700)
	if err == unix.EEXIST {
		var st unix.Stat_t
		if err = unix.Fstatat(a.rootfd, rel, &st, unix.AT_SYMLINK_NOFOLLOW); err == nil && st.Mode&unix.S_IFMT != unix.S_IFDIR {
			if err = a.remove(rel); err == nil {
				err = unix.Mkdirat(a.rootfd, rel, 0o700)
			}
		}
	}
	if err != nil {
		return &pathErr{op: "mkdir", path: rel, err: err}
	}
	a.dirs[rel] = struct{}{}
	return a.dirMeta(rel, hdr)
}

// dirMeta sets the metadata of directory rel; its times are set at the end
// of Apply, as creating entries inside it changes them.
func (a *applier) dirMeta(rel string, hdr *tar.Header) error {
	if err := a.meta(rel, hdr, false); err != nil {
		return err
	}
	a.dirTimes = append(a.dirTimes, dirTime{rel: rel, ts: tarTimes(hdr)})
	return nil
}

func (a *applier) setDirTimes() error {
	for i := range a.dirTimes {
		d := &a.dirTimes[i]
		if _, ok := a.dirs[d.rel]; !ok {
			continue // removed or replaced by a later entry
		}
		if err := unix.UtimesNanoAt(a.rootfd, d.rel, d.ts[:], unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return &pathErr{op: "utimes", path: d.rel, err: err}
		}
	}
	return nil
}

func (a *applier) symlink(rel string, hdr *tar.Header) error {
	err := unix.Symlinkat(hdr.Linkname, a.rootfd, rel)
	if err == unix.EEXIST {
		if err = a.remove(rel); err == nil {
			err = unix.Symlinkat(hdr.Linkname, a.rootfd, rel)
		}
	}
	if err != nil {
		return &pathErr{op: "symlink", path: rel, err: err}
	}
	if err := a.meta(rel, hdr, true); err != nil {
		return err
	}
	ts := tarTimes(hdr)
	if err := unix.UtimesNanoAt(a.rootfd, rel, ts[:], unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return &pathErr{op: "utimes", path: rel, err: err}
	}
	return nil
}

func (a *applier) hardlink(rel, target string) error {
	tdir, tbase := splitName(target)
	tparent, err := a.ensureDir(tdir, false)
	if err != nil {
		return fmt.Errorf("hardlink target: %w", err)
	}
	treal := joinName(tparent, tbase)
	if err := a.waitFor(treal); err != nil {
		return err
	}
	if treal == rel {
		return nil // a link to itself: nothing to do
	}
	// linkat without AT_SYMLINK_FOLLOW links a symlink itself, never what
	// it points to.
	err = unix.Linkat(a.rootfd, treal, a.rootfd, rel, 0)
	if err == unix.EEXIST {
		if err = a.remove(rel); err == nil {
			err = unix.Linkat(a.rootfd, treal, a.rootfd, rel, 0)
		}
	}
	if err != nil {
		return &pathErr{op: "link", path: rel + " => " + treal, err: err}
	}
	return nil
}

func (a *applier) node(rel string, hdr *tar.Header) error {
	mode := tarMode(hdr) & 0o777
	switch hdr.Typeflag {
	case tar.TypeChar:
		mode |= unix.S_IFCHR
	case tar.TypeBlock:
		mode |= unix.S_IFBLK
	default:
		mode |= unix.S_IFIFO
	}
	dev := int(unix.Mkdev(uint32(hdr.Devmajor), uint32(hdr.Devminor)))
	err := unix.Mknodat(a.rootfd, rel, mode, dev)
	if err == unix.EEXIST {
		if err = a.remove(rel); err == nil {
			err = unix.Mknodat(a.rootfd, rel, mode, dev)
		}
	}
	if err != nil {
		return &pathErr{op: "mknod", path: rel, err: err}
	}
	if err := a.meta(rel, hdr, false); err != nil {
		return err
	}
	ts := tarTimes(hdr)
	if err := unix.UtimesNanoAt(a.rootfd, rel, ts[:], unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return &pathErr{op: "utimes", path: rel, err: err}
	}
	return nil
}

// meta sets owner, mode (not for symlinks) and xattrs of rel, which this
// Apply has just created or checked, so it is known not to be a symlink
// unless isSymlink.
func (a *applier) meta(rel string, hdr *tar.Header, isSymlink bool) error {
	if err := unix.Fchownat(a.rootfd, rel, hdr.Uid, hdr.Gid, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return &pathErr{op: "chown", path: rel, err: err}
	}
	if !isSymlink {
		if err := unix.Fchmodat(a.rootfd, rel, tarMode(hdr), 0); err != nil {
			return &pathErr{op: "chmod", path: rel, err: err}
		}
	}
	return a.xattrs(rel, hdr, -1)
}

// xattrs sets the SCHILY.xattr.* PAX records of hdr on rel (through fd when
// fd >= 0).
func (a *applier) xattrs(rel string, hdr *tar.Header, fd int) error {
	if len(hdr.PAXRecords) == 0 {
		return nil
	}
	for k, v := range hdr.PAXRecords {
		name, ok := xattrName(k)
		if !ok {
			continue
		}
		var err error
		if fd >= 0 {
			err = unix.Fsetxattr(fd, name, []byte(v), 0)
		} else {
			err = unix.Lsetxattr(a.abs(rel), name, []byte(v), 0)
		}
		switch {
		case err == nil:
		case err == unix.ENOTSUP:
			// The file system cannot store it (e.g. no user xattrs): lose it,
			// as Docker does.
		case err == unix.EPERM && strings.HasPrefix(name, "user.") && fd < 0 && hdr.Typeflag != tar.TypeDir:
			// user.* xattrs are only allowed on regular files and dirs.
		default:
			return &pathErr{op: "setxattr " + name, path: rel, err: err}
		}
	}
	return nil
}

// xattrName returns the name of the xattr that PAX record key sets, unless
// Apply does not set it: overlay xattrs only come from whiteouts, so that a
// layer cannot forge them.
func xattrName(key string) (string, bool) {
	name, ok := strings.CutPrefix(key, paxXattrPrefix)
	if !ok || name == "" || strings.HasPrefix(name, overlayXattrPrefix) {
		return "", false
	}
	return name, true
}
