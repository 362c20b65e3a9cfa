package archive

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// WriteDiff writes the changes recorded in an overlayfs upper directory as an
// OCI layer tar to w and returns the number of bytes written.
//
// Overlay whiteouts (character devices 0/0) become empty ".wh.NAME" files;
// a directory with trusted.overlay.opaque=y becomes the directory entry
// directly followed by "DIR/.wh..wh..opq"; everything else is written as it
// is, with numeric owner, mode, mtime, xattrs (except trusted.overlay.*),
// device numbers and symlink targets; paths sharing an inode become one file
// and hardlinks to it. Sockets are skipped.
//
// The output is reproducible: entries are sorted by path, PAX format, mtimes
// truncated to seconds, no atime/ctime, no user or group names, so the same
// upper directory always gives a byte-identical tar. The upper directory must
// not be in use by a mounted overlay, and must not have been written with
// redirect_dir or metacopy (WriteDiff fails on such xattrs, as their meaning
// cannot be expressed in a layer).
func WriteDiff(ctx context.Context, w io.Writer, upper string) (int64, error) {
	root, err := filepath.Abs(upper)
	if err != nil {
		return 0, fmt.Errorf("archive: diff: %w", err)
	}
	entries, err := scanTree(ctx, root)
	if err != nil {
		return 0, fmt.Errorf("archive: diff of %s: %w", upper, err)
	}

	cw := &countingWriter{w: w}
	bw := bufio.NewWriterSize(cw, readBufSize)
	tw := tar.NewWriter(bw)
	bufp := copyBufPool.Get().(*[]byte)
	defer copyBufPool.Put(bufp)
	d := &differ{root: root, tw: tw, buf: *bufp, links: map[devIno]string{}}
	for i := range entries {
		if err := ctx.Err(); err != nil {
			return cw.n, err
		}
		if err := d.entry(&entries[i]); err != nil {
			return cw.n, fmt.Errorf("archive: diff of %s: %w", upper, err)
		}
	}
	if err := tw.Close(); err != nil {
		return cw.n, fmt.Errorf("archive: diff: %w", err)
	}
	if err := bw.Flush(); err != nil {
		return cw.n, fmt.Errorf("archive: diff: %w", err)
	}
	return cw.n, nil
}

type treeEntry struct {
	rel string // relative to the tree's root, never "."
	st  unix.Stat_t
}

func isWhiteout(st *unix.Stat_t) bool {
	return st.Mode&unix.S_IFMT == unix.S_IFCHR && st.Rdev == 0
}

// scanTree lists every path under root (not root itself), sorted by path.
func scanTree(ctx context.Context, root string) ([]treeEntry, error) {
	var entries []treeEntry
	var walk func(rel string) error
	walk = func(rel string) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		dir := root
		if rel != "" {
			dir = root + "/" + rel
		}
		f, err := os.Open(dir)
		if err != nil {
			return err
		}
		names, err := f.Readdirnames(-1)
		f.Close()
		if err != nil {
			return err
		}
		for _, name := range names {
			e := treeEntry{rel: name}
			if rel != "" {
				e.rel = rel + "/" + name
			}
			if err := unix.Lstat(root+"/"+e.rel, &e.st); err != nil {
				return &pathErr{op: "lstat", path: root + "/" + e.rel, err: err}
			}
			entries = append(entries, e)
			if e.st.Mode&unix.S_IFMT == unix.S_IFDIR {
				if err := walk(e.rel); err != nil {
					return err
				}
			}
		}
		return nil
	}
	if err := walk(""); err != nil {
		return nil, err
	}
	slices.SortFunc(entries, func(a, b treeEntry) int { return strings.Compare(a.rel, b.rel) })
	return entries, nil
}

type devIno struct{ dev, ino uint64 }

type differ struct {
	root  string
	tw    *tar.Writer
	buf   []byte
	xbuf  []byte
	links map[devIno]string
}

func (d *differ) entry(e *treeEntry) error {
	p := d.root + "/" + e.rel
	st := &e.st
	hdr := &tar.Header{
		Name:    e.rel,
		Mode:    int64(st.Mode & 0o7777),
		Uid:     int(st.Uid),
		Gid:     int(st.Gid),
		ModTime: time.Unix(st.Mtim.Sec, 0),
		Format:  tar.FormatPAX,
	}
	if isWhiteout(st) {
		dir, base := splitName(e.rel)
		hdr.Name = joinName(dir, whiteoutPrefix+base)
		hdr.Typeflag = tar.TypeReg
		hdr.Mode, hdr.Uid, hdr.Gid = 0, 0, 0
		return d.writeHeader(hdr)
	}
	xattrs, opaque, err := d.readXattrs(p)
	if err != nil {
		return err
	}
	hdr.PAXRecords = xattrs
	mode := st.Mode & unix.S_IFMT
	if mode != unix.S_IFDIR && st.Nlink > 1 {
		key := devIno{dev: st.Dev, ino: st.Ino}
		if first, ok := d.links[key]; ok {
			hdr.Typeflag = tar.TypeLink
			hdr.Linkname = first
			hdr.PAXRecords = nil
			return d.writeHeader(hdr)
		}
		d.links[key] = e.rel
	}
	switch mode {
	case unix.S_IFDIR:
		hdr.Typeflag = tar.TypeDir
		hdr.Name += "/"
		if err := d.writeHeader(hdr); err != nil {
			return err
		}
		if opaque {
			return d.writeHeader(&tar.Header{
				Typeflag: tar.TypeReg,
				Name:     e.rel + "/" + whiteoutOpaque,
				ModTime:  hdr.ModTime,
				Format:   tar.FormatPAX,
			})
		}
		return nil
	case unix.S_IFREG:
		hdr.Typeflag = tar.TypeReg
		hdr.Size = st.Size
		if err := d.writeHeader(hdr); err != nil {
			return err
		}
		return d.copyFile(p, st.Size)
	case unix.S_IFLNK:
		target, err := os.Readlink(p)
		if err != nil {
			return err
		}
		hdr.Typeflag = tar.TypeSymlink
		hdr.Linkname = target
	case unix.S_IFCHR, unix.S_IFBLK:
		hdr.Typeflag = tar.TypeChar
		if mode == unix.S_IFBLK {
			hdr.Typeflag = tar.TypeBlock
		}
		hdr.Devmajor = int64(unix.Major(st.Rdev))
		hdr.Devminor = int64(unix.Minor(st.Rdev))
	case unix.S_IFIFO:
		hdr.Typeflag = tar.TypeFifo
	default: // sockets
		return nil
	}
	return d.writeHeader(hdr)
}

func (d *differ) writeHeader(hdr *tar.Header) error {
	if err := d.tw.WriteHeader(hdr); err != nil {
		return fmt.Errorf("writing %q: %w", hdr.Name, err)
	}
	return nil
}

func (d *differ) copyFile(p string, size int64) error {
	if size == 0 {
		return nil
	}
	fd, err := unix.Open(p, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return &pathErr{op: "open", path: p, err: err}
	}
	defer unix.Close(fd)
	n, err := io.CopyBuffer(d.tw, io.LimitReader(fdReader(fd), size), d.buf)
	if err != nil {
		return fmt.Errorf("copying %s: %w", p, err)
	}
	if n != size {
		return fmt.Errorf("%s shrank while being read", p)
	}
	return nil
}

// readXattrs returns the xattrs of p as PAX records (nil if none), leaving
// out trusted.overlay.*, and whether p is an opaque overlay directory.
func (d *differ) readXattrs(p string) (map[string]string, bool, error) {
	names, err := listXattrs(p, &d.xbuf)
	if err != nil || len(names) == 0 {
		return nil, false, err
	}
	var recs map[string]string
	opaque := false
	for _, name := range names {
		if strings.HasPrefix(name, overlayXattrPrefix) {
			switch name {
			case overlayOpaqueXattr:
				v, err := getXattr(p, name)
				if err != nil {
					return nil, false, err
				}
				opaque = string(v) == "y"
			case overlayXattrPrefix + "redirect", overlayXattrPrefix + "metacopy":
				return nil, false, fmt.Errorf("%s has %s: upper dirs written with redirect_dir or metacopy are not supported", p, name)
			}
			continue
		}
		v, err := getXattr(p, name)
		if err != nil {
			return nil, false, err
		}
		if recs == nil {
			recs = map[string]string{}
		}
		recs[paxXattrPrefix+name] = string(v)
	}
	return recs, opaque, nil
}

// listXattrs lists the xattr names of p (not following a final symlink).
func listXattrs(p string, buf *[]byte) ([]string, error) {
	if *buf == nil {
		*buf = make([]byte, 4096)
	}
	for {
		n, err := unix.Llistxattr(p, *buf)
		if err == unix.ERANGE {
			n, err = unix.Llistxattr(p, nil)
			if err == nil {
				*buf = make([]byte, n*2)
				continue
			}
		}
		switch err {
		case nil:
		case unix.ENOTSUP:
			return nil, nil
		default:
			return nil, &pathErr{op: "listxattr", path: p, err: err}
		}
		if n == 0 {
			return nil, nil
		}
		var names []string
		for _, b := range bytes.Split((*buf)[:n], []byte{0}) {
			if len(b) > 0 {
				names = append(names, string(b))
			}
		}
		slices.Sort(names)
		return names, nil
	}
}

// getXattr reads one xattr of p (not following a final symlink).
func getXattr(p, name string) ([]byte, error) {
	buf := make([]byte, 256)
	for {
		n, err := unix.Lgetxattr(p, name, buf)
		if err == unix.ERANGE {
			if n, err = unix.Lgetxattr(p, name, nil); err == nil {
				buf = make([]byte, n*2)
				continue
			}
		}
		if err != nil {
			return nil, &pathErr{op: "getxattr " + name, path: p, err: err}
		}
		return buf[:n], nil
	}
}
