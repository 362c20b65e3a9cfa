//go:build linux

package archive

import (
	"archive/tar"
	"context"
	"fmt"
	"io"
	"io/fs"
	"path"
	"strings"
	"time"

	securejoin "github.com/cyphar/filepath-securejoin"
	"golang.org/x/sys/unix"
)

// Validate reads a layer tar stream (already decompressed) to its end and
// reports the error Apply would report when applying it into an empty
// directory, without writing anything; it returns the bytes read, as Apply does.
//
// Validate replays Apply on a model of the directory held in memory (a tree
// of names, each a directory, regular file, symlink with its target, or other
// node), so that a base layer can be accepted once, when its blob is stored,
// and unpacked later. It refuses what Apply refuses for any reason that is
// the same on every host:
//
//   - every check of names and link targets, shared with Apply, with the same
//     errors (ErrUnsafePath included);
//   - what the entries do to each other: implied parent directories,
//     replacement of whatever is at a path (a directory with everything under
//     it), whiteouts, symlinks in a parent path resolved inside the root
//     exactly as securejoin resolves them for Apply (including its error when
//     a resolution follows too many symlinks), a parent that is not a
//     directory, hardlinks whose target is missing or a directory;
//   - the limits the kernel puts on every path and xattr before a file system
//     sees it: a path relative to the root of PATH_MAX bytes or more, a name
//     longer than NAME_MAX (255, the limit of every Linux file system that
//     can hold a layer), a symlink target of PATH_MAX bytes or more, an xattr
//     name longer than 255 bytes or value longer than 64 KiB, and a
//     security.capability value the kernel cannot parse;
//   - the tar format, read by the same code as Apply's: truncated or corrupt
//     archives, file contents (sparse ones included) shorter or longer than
//     their headers say.
//
// It does not check what depends on where and by whom the layer is applied:
// permissions (mknod, chown, trusted.* xattrs), file system support and
// limits below the kernel's (xattrs the file system cannot store, or not that
// large, a symlink target too long for it, too many hardlinks, file size,
// disk space), xattr values that Linux security modules or ACL support
// judge, capability root uids that the caller's user namespace cannot map,
// and paths that exceed PATH_MAX only once prefixed by the target
// directory's path: Apply uses absolute paths to resolve a symlinked parent,
// to remove a directory and to set xattrs on other nodes than regular files,
// and Validate takes the shortest possible target directory path, so that it
// refuses the paths too long wherever the layer is applied.
//
// When several entries fail, Validate reports the first, as Apply does when
// it writes every file itself; when a worker fails to write a small file,
// Apply may report the error of a later entry instead.
//
// Validate reads file contents as Apply does, to check them against their
// headers; the holes of a sparse file cost no input but are read as zeros
// (Apply writes them), so a sparse file of huge size takes long: Validate
// checks ctx while it reads.
func Validate(ctx context.Context, r io.Reader) (int64, error) {
	bufp := copyBufPool.Get().(*[]byte)
	defer copyBufPool.Put(bufp)
	v := &validator{
		ctx:     ctx,
		root:    &vnode{kind: vdir},
		buf:     *bufp,
		workers: applyWorkers > 0,
	}
	return readLayer(ctx, r, v.buf, v.entry, nil)
}

// Limits the kernel puts on system call arguments, whatever the file system.
const (
	pathMax      = 4096  // PATH_MAX, with the terminating NUL
	nameMax      = 255   // NAME_MAX: every Linux file system that can hold a layer has it
	xattrNameMax = 255   // XATTR_NAME_MAX
	xattrSizeMax = 65536 // XATTR_SIZE_MAX
	capsXattr    = "security.capability"
)

type vkind uint8

const (
	vdir vkind = iota
	vfile
	vsymlink
	vspecial // device, fifo or whiteout
)

// A vnode is a path of the model. Hardlinks are copies: Apply never changes
// a node it has not just created, except directories, which cannot be
// hardlinked.
type vnode struct {
	kind     vkind
	target   string            // of a symlink
	children map[string]*vnode // of a directory
}

func (n *vnode) set(name string, c *vnode) {
	if n.children == nil {
		n.children = map[string]*vnode{}
	}
	n.children[name] = c
}

type validator struct {
	ctx     context.Context
	root    *vnode
	buf     []byte
	workers bool // whether Apply hands small files to workers (it changes which error comes first)
}

func (v *validator) entry(hdr *tar.Header, tr *tar.Reader) error {
	e, err := checkEntry(hdr)
	if err != nil {
		return err
	}
	switch e.kind {
	case entryIgnored:
		return nil
	case entryRoot:
		return entryError(hdr, checkXattrs(".", hdr, true))
	case entryOpaque:
		prel, _, err := v.walkDir(e.dir, true, 0)
		if err != nil {
			return entryError(hdr, err)
		}
		if absTooLong(prel) {
			return fmt.Errorf("archive: tar entry %q: setting %s: %w", hdr.Name, overlayOpaqueXattr, unix.ENAMETOOLONG)
		}
		return nil
	case entryWhiteout:
		return entryError(hdr, v.whiteout(e.dir, e.base))
	}

	prel, parent, err := v.walkDir(e.dir, true, 0)
	if err != nil {
		return entryError(hdr, err)
	}
	dst := at{parent: parent, rel: joinName(prel, e.base), base: e.base}
	switch hdr.Typeflag {
	case tar.TypeReg, tar.TypeGNUSparse:
		err = v.file(dst, hdr, tr)
	case tar.TypeDir:
		err = v.dir(dst, hdr)
	case tar.TypeSymlink:
		err = v.symlink(dst, hdr)
	case tar.TypeLink:
		err = v.hardlink(dst, e.link)
	case tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
		err = v.special(dst, hdr)
	default:
		return unsupportedType(hdr)
	}
	return entryError(hdr, err)
}

// at is where an entry goes: rel, relative to the root and free of symlinks,
// is base in the directory parent.
type at struct {
	parent    *vnode
	rel, base string
}

// nameErr is the error of a system call that creates or removes a.rel,
// relative to the root, before it looks at what is there.
func (a at) nameErr() error {
	if len(a.rel) >= pathMax || len(a.base) > nameMax {
		return unix.ENAMETOOLONG
	}
	return nil
}

func (a at) node() *vnode { return a.parent.children[a.base] }

func (v *validator) file(a at, hdr *tar.Header, tr *tar.Reader) error {
	// Apply reads a small file whole before a worker creates it, and creates
	// any other one before it copies the content into it.
	queued := v.workers && hdr.Typeflag == tar.TypeReg && hdr.Size <= maxJobSize
	if n := a.node(); n != nil && n.kind == vdir {
		queued = false
	}
	if queued {
		if err := v.readContent(hdr, tr, true); err != nil {
			return fmt.Errorf("reading: %w", err)
		}
	}
	if err := a.nameErr(); err != nil {
		return &pathErr{op: "create", path: a.rel, err: err}
	}
	a.parent.set(a.base, &vnode{kind: vfile})
	if !queued {
		if err := v.readContent(hdr, tr, false); err != nil {
			return fmt.Errorf("writing %s: %w", a.rel, err)
		}
	}
	return checkXattrs(a.rel, hdr, false)
}

// readContent reads the content of a regular file entry as Apply does:
// exactly hdr.Size bytes when whole (io.ReadFull), else to its end
// (io.Copy). Sparse files are read through their holes, as Apply writes
// them; ctx is checked every 256 buffers, so that a huge one can be stopped.
func (v *validator) readContent(hdr *tar.Header, tr *tar.Reader, whole bool) error {
	if hdr.Size <= 0 {
		return nil
	}
	var n int64
	for i := 1; ; i++ {
		b := v.buf
		if whole && int64(len(b)) > hdr.Size-n {
			b = b[:hdr.Size-n]
		}
		m, err := tr.Read(b)
		n += int64(m)
		switch {
		case whole && n >= hdr.Size:
			return nil // io.ReadFull drops an error that comes with the last bytes
		case err == io.EOF && whole && n > 0:
			return io.ErrUnexpectedEOF
		case err == io.EOF && !whole:
			return nil
		case err != nil:
			return err
		}
		if i%256 == 0 {
			if err := v.ctx.Err(); err != nil {
				return err
			}
		}
	}
}

func (v *validator) dir(a at, hdr *tar.Header) error {
	if err := a.nameErr(); err != nil {
		return &pathErr{op: "mkdir", path: a.rel, err: err}
	}
	if n := a.node(); n == nil || n.kind != vdir {
		a.parent.set(a.base, &vnode{kind: vdir})
	}
	return checkXattrs(a.rel, hdr, true)
}

func (v *validator) symlink(a at, hdr *tar.Header) error {
	err := a.nameErr()
	if len(hdr.Linkname) >= pathMax {
		err = unix.ENAMETOOLONG // the kernel copies the target as a path
	}
	if err != nil {
		return &pathErr{op: "symlink", path: a.rel, err: err}
	}
	a.parent.set(a.base, &vnode{kind: vsymlink, target: hdr.Linkname})
	return checkXattrs(a.rel, hdr, true)
}

func (v *validator) special(a at, hdr *tar.Header) error {
	if err := a.nameErr(); err != nil {
		return &pathErr{op: "mknod", path: a.rel, err: err}
	}
	a.parent.set(a.base, &vnode{kind: vspecial})
	return checkXattrs(a.rel, hdr, true)
}

func (v *validator) whiteout(dir, target string) error {
	prel, parent, err := v.walkDir(dir, true, 0)
	if err != nil {
		return err
	}
	a := at{parent: parent, rel: joinName(prel, target), base: target}
	if err := a.nameErr(); err != nil {
		return &pathErr{op: "unlink", path: a.rel, err: err}
	}
	a.parent.set(a.base, &vnode{kind: vspecial})
	return nil
}

func (v *validator) hardlink(a at, target string) error {
	tdir, tbase := splitName(target)
	tparent, _, err := v.walkDir(tdir, false, 0)
	if err != nil {
		return fmt.Errorf("hardlink target: %w", err)
	}
	treal := joinName(tparent, tbase)
	if treal == a.rel {
		return nil // a link to itself: Apply does nothing
	}
	linkErr := func(err error) error {
		return &pathErr{op: "link", path: a.rel + " => " + treal, err: err}
	}
	// linkat looks up the target, then the new name, then refuses a
	// directory.
	if len(treal) >= pathMax {
		return linkErr(unix.ENAMETOOLONG)
	}
	t, err := v.lookup(treal)
	if err != nil {
		return linkErr(err)
	}
	if err := a.nameErr(); err != nil {
		return linkErr(err)
	}
	if a.node() != nil {
		// EEXIST: Apply removes what is there and links again, which no
		// longer finds the target if it was under what was removed.
		delete(a.parent.children, a.base)
		if t, err = v.lookup(treal); err != nil {
			return linkErr(err)
		}
	}
	if t.kind == vdir {
		return linkErr(unix.EPERM)
	}
	a.parent.set(a.base, &vnode{kind: t.kind, target: t.target})
	return nil
}

// walkDir is Apply's walkDir on the model: it returns the real path of
// directory rel (symlinks in it resolved inside the root) and its node,
// creating missing directories when create is set. Apply knows every
// directory on the disk (it created them all), so it looks at the disk, with
// the errors below, exactly where the model has no directory.
func (v *validator) walkDir(rel string, create bool, hops int) (string, *vnode, error) {
	n := v.root
	if rel == "." {
		return rel, n, nil
	}
	for start := 0; start < len(rel); {
		end := len(rel)
		if j := strings.IndexByte(rel[start:], '/'); j >= 0 {
			end = start + j
		}
		cur, name := rel[:end], rel[start:end]
		start = end + 1
		c := n.children[name]
		if c != nil && c.kind == vdir {
			n = c
			continue
		}
		if hops > maxSymlinkWalks {
			return "", nil, &pathErr{op: "resolve", path: rel, err: unix.ELOOP}
		}
		if len(cur) >= pathMax || len(name) > nameMax {
			return "", nil, &pathErr{op: "lstat", path: cur, err: unix.ENAMETOOLONG}
		}
		switch {
		case c == nil && create:
			c = &vnode{kind: vdir}
			n.set(name, c)
		case c == nil:
			return "", nil, &pathErr{op: "lstat", path: cur, err: unix.ENOENT}
		case c.kind == vsymlink:
			// With the root "", securejoin's paths (and errors) are those
			// it has for Apply with the target directory's path cut off.
			resolved, err := securejoin.SecureJoinVFS("", rel, modelFS{v})
			if err != nil {
				return "", nil, &pathErr{op: "resolve", path: rel, err: err}
			}
			r := strings.TrimPrefix(resolved, "/")
			if r == "" {
				r = "."
			}
			return v.walkDir(r, create, hops+1)
		default:
			return "", nil, &pathErr{op: "lookup", path: cur, err: unix.ENOTDIR}
		}
		n = c
	}
	return rel, n, nil
}

// absTooLong reports whether the absolute path of rel is too long for a
// system call wherever the target directory is: Apply builds it as the
// target directory's path, "/" and rel.
func absTooLong(rel string) bool {
	return rel != "." && 1+len(rel) >= pathMax
}

// lookup returns the node at rel, clean and relative to the root ("" or "."
// for the root), as lstat finds it, or lstat's error. Apply and securejoin
// only look up paths whose parents they have resolved, so that rel never
// goes through a symlink: one would count as a non-directory here.
func (v *validator) lookup(rel string) (*vnode, error) {
	n := v.root
	if rel == "" || rel == "." {
		return n, nil
	}
	for rest := rel; ; {
		name, tail, more := strings.Cut(rest, "/")
		switch {
		case n.kind != vdir:
			return nil, unix.ENOTDIR
		case len(name) > nameMax:
			return nil, unix.ENAMETOOLONG
		}
		if n = n.children[name]; n == nil {
			return nil, unix.ENOENT
		}
		if !more {
			return n, nil
		}
		rest = tail
	}
}

// modelFS shows the model to securejoin as the file system under the root
// "", so that Validate resolves symlinks in a parent path with the very code
// Apply resolves them with. Its errors are fs.PathErrors of errnos, as the
// os package's, so that securejoin tells a missing path (ENOENT, ENOTDIR)
// from a failure.
type modelFS struct{ v *validator }

var _ securejoin.VFS = modelFS{}

func (f modelFS) Lstat(name string) (fs.FileInfo, error) {
	n, err := f.v.lookup(strings.TrimLeft(name, "/"))
	if len(name) >= pathMax {
		err = unix.ENAMETOOLONG // longer still with the target directory's path
	}
	if err != nil {
		return nil, &fs.PathError{Op: "lstat", Path: name, Err: err}
	}
	return nodeInfo{name: path.Base(name), n: n}, nil
}

func (f modelFS) Readlink(name string) (string, error) {
	n, err := f.v.lookup(strings.TrimLeft(name, "/"))
	if len(name) >= pathMax {
		err = unix.ENAMETOOLONG
	}
	if err == nil && n.kind != vsymlink {
		err = unix.EINVAL
	}
	if err != nil {
		return "", &fs.PathError{Op: "readlink", Path: name, Err: err}
	}
	return n.target, nil
}

type nodeInfo struct {
	name string
	n    *vnode
}

func (i nodeInfo) Name() string       { return i.name }
func (i nodeInfo) Size() int64        { return int64(len(i.n.target)) }
func (i nodeInfo) ModTime() time.Time { return time.Time{} }
func (i nodeInfo) IsDir() bool        { return i.n.kind == vdir }
func (i nodeInfo) Sys() any           { return nil }

func (i nodeInfo) Mode() fs.FileMode {
	switch i.n.kind {
	case vdir:
		return fs.ModeDir | 0o755
	case vsymlink:
		return fs.ModeSymlink | 0o777
	case vspecial:
		return fs.ModeDevice | 0o600
	}
	return 0o644
}

// checkXattrs returns the error Apply gets setting the xattrs of hdr on rel
// that any Linux kernel refuses, whatever the file system: a name or value
// too long, a path too long (byPath: Apply gives the absolute path of rel),
// a security.capability value it cannot parse.
func checkXattrs(rel string, hdr *tar.Header, byPath bool) error {
	for k, val := range hdr.PAXRecords {
		name, ok := xattrName(k)
		if !ok {
			continue
		}
		var err error
		switch {
		case len(name) > xattrNameMax:
			err = unix.ERANGE
		case len(val) > xattrSizeMax:
			err = unix.E2BIG
		case byPath && absTooLong(rel):
			err = unix.ENAMETOOLONG
		case name == capsXattr && val != "" && !validFileCaps(val):
			err = unix.EINVAL
		default:
			continue
		}
		return &pathErr{op: "setxattr " + name, path: rel, err: err}
	}
	return nil
}

// validFileCaps reports whether the kernel parses v as a security.capability
// value (cap_convert_nscap): a revision 2 header of 20 bytes, or a revision
// 3 one of 24 bytes whose root uid is not -1; of the flags, only the
// effective one may be set.
func validFileCaps(v string) bool {
	le32 := func(s string) uint32 {
		return uint32(s[0]) | uint32(s[1])<<8 | uint32(s[2])<<16 | uint32(s[3])<<24
	}
	const effective = 1
	switch {
	case len(v) == 20:
		return le32(v)&^effective == 0x02000000
	case len(v) == 24:
		return le32(v)&^effective == 0x03000000 && le32(v[20:]) != 0xffffffff
	}
	return false
}
