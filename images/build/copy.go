package build

import (
	"archive/tar"
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"mime"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/ctrd/ctrd/images"
	"github.com/ctrd/ctrd/images/archive"
	securejoin "github.com/cyphar/filepath-securejoin"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"
)

// copyInst is an ADD or COPY after expansion.
type copyInst struct {
	name         string // "ADD" or "COPY"
	add          bool
	srcs         []string
	contents     []instructions.SourceContent
	dest         string
	from         string
	chown, chmod string
}

// sourceKind is what a source is copied as.
type sourceKind int

const (
	srcFile    sourceKind = iota // a file (or other non-directory)
	srcDir                       // a directory: its contents are copied
	srcArchive                   // ADD of a local tar archive: extracted
	srcData                      // a heredoc or a downloaded URL
)

type source struct {
	kind  sourceKind
	orig  string      // as written (or the URL)
	host  string      // resolved path on the host
	info  os.FileInfo // of host
	base  string      // file name when copied into a directory
	data  string      // srcData from a heredoc
	mode  os.FileMode // srcData
	mtime time.Time   // srcData
	hash  string
}

// copy runs an ADD or COPY step.
func (bd *build) copy(st *stage, ci *copyInst) error {
	if ci.dest == "" {
		return fmt.Errorf("%s requires a destination", ci.name)
	}
	var mode *os.FileMode
	if ci.chmod != "" {
		m, err := parseChmod(ci.chmod)
		if err != nil {
			return err
		}
		mode = &m
	}
	// Where the sources come from: the context or another image.
	root := bd.ctxDir
	inContext := true
	if ci.from != "" {
		cfg, err := bd.fromImage(st, ci.from)
		if err != nil {
			return err
		}
		m, err := bd.mountImage(cfg)
		if err != nil {
			return err
		}
		defer bd.release(m)
		root, inContext = m.Root, false
	}
	srcs, err := bd.sources(ci, root, inContext)
	if err != nil {
		return fmt.Errorf("%s failed: %w", ci.name, err)
	}
	if len(srcs) > 1 && !strings.HasSuffix(ci.dest, "/") {
		return fmt.Errorf("When using %s with more than one source file, the destination must be a directory and end with a /", ci.name)
	}
	sum, err := bd.checksum(srcs)
	if err != nil {
		return fmt.Errorf("%s failed: %w", ci.name, err)
	}
	// Docker's history line: --from is not in it (the checksum covers the
	// content), and --chown is glued to the checksum, as Docker writes it.
	var flags string
	if ci.chown != "" {
		flags += "--chown=" + ci.chown
	}
	if ci.chmod != "" {
		flags += "--chmod=" + ci.chmod + " "
	}
	cfg := cloneConfig(st.cfg.Config)
	createdBy := nopFile(cfg, fmt.Sprintf("%s %s%s in %s ", ci.name, flags, sum, ci.dest))
	return bd.commit(st, createdBy, cfg, st.cfg.Author, func() (*images.PendingLayer, error) {
		m, err := bd.mountImage(st.cfg)
		if err != nil {
			return nil, err
		}
		defer bd.release(m)
		var owner *identity
		if ci.chown != "" {
			id, err := parseChown(m, ci.chown)
			if err != nil {
				return nil, err
			}
			owner = &id
		}
		destAbs := ci.dest
		if !path.IsAbs(destAbs) {
			wd := cfg.WorkingDir
			if wd == "" {
				wd = "/"
			}
			destAbs = path.Join(wd, destAbs)
		}
		destIsDir := strings.HasSuffix(ci.dest, "/") || ci.dest == "." || strings.HasSuffix(ci.dest, "/.")
		var destRel string
		if m.Root == "" {
			destRel = strings.TrimPrefix(path.Clean(destAbs), "/")
		} else {
			host, err := m.resolve(destAbs)
			if err != nil {
				return nil, err
			}
			destRel = m.rel(host)
		}
		if fi, err := m.lstat(destRel); destRel == "" || err == nil && fi.IsDir() {
			destIsDir = true
		}
		return bd.writeLayer(st, func(lt *layerTar) error {
			lt.owner, lt.chmod = owner, mode
			for _, s := range srcs {
				if err := lt.add(s, destRel, destIsDir); err != nil {
					return fmt.Errorf("%s failed: %w", ci.name, err)
				}
			}
			return nil
		}, m)
	})
}

// fromImage finds the image of COPY --from: an earlier stage (by name or
// index) or a local image.
func (bd *build) fromImage(st *stage, from string) (*images.ImageConfig, error) {
	if s, ok := bd.stageByName(from, st.index); ok {
		return s.cfg, nil
	}
	if st.name != "" && strings.EqualFold(st.name, from) {
		return nil, fmt.Errorf("invalid from flag value %s: refers to the current build stage", from)
	}
	img, err := bd.Store.Resolve(from)
	if err != nil {
		return nil, fmt.Errorf("invalid from flag value %s: no build stage or local image of that name", from)
	}
	return bd.Store.Config(img)
}

// sources resolves the sources of an ADD/COPY.
func (bd *build) sources(ci *copyInst, root string, inContext bool) ([]source, error) {
	var out []source
	for _, c := range ci.contents {
		out = append(out, source{kind: srcData, orig: c.Path, base: path.Base(c.Path), data: c.Data, mode: 0o644, mtime: time.Now().UTC()})
	}
	for _, src := range ci.srcs {
		if isURL(src) {
			if !ci.add {
				return nil, fmt.Errorf("source can't be a URL for COPY: %s", src)
			}
			s, err := bd.download(src)
			if err != nil {
				return nil, err
			}
			out = append(out, s)
			continue
		}
		if inContext {
			c := filepath.Clean(filepath.FromSlash(src))
			if c == ".." || strings.HasPrefix(c, "../") {
				return nil, fmt.Errorf("forbidden path outside the build context: %s", src)
			}
		}
		if root == "" {
			return nil, fmt.Errorf("file not found in image %s: %s", ci.from, src)
		}
		var matches []string
		if hasWildcards(src) {
			m, err := glob(root, src)
			if err != nil {
				return nil, err
			}
			if len(m) == 0 {
				return nil, fmt.Errorf("no source files were specified (%s matches nothing)", src)
			}
			matches = m
		} else {
			matches = []string{src}
		}
		for _, rel := range matches {
			host, err := securejoin.SecureJoin(root, rel)
			if err != nil {
				return nil, err
			}
			fi, err := os.Stat(host)
			if err != nil {
				if errors.Is(err, os.ErrNotExist) {
					if inContext {
						return nil, fmt.Errorf("file not found in build context or excluded by .dockerignore: stat %s: file does not exist", rel)
					}
					return nil, fmt.Errorf("file not found in image %s: stat %s: file does not exist", ci.from, rel)
				}
				return nil, fmt.Errorf("stat %s: %w", rel, unwrapPath(err))
			}
			s := source{kind: srcFile, orig: rel, host: host, info: fi, base: path.Base(path.Clean("/" + filepath.ToSlash(rel)))}
			switch {
			case fi.IsDir():
				s.kind = srcDir
			case ci.add && fi.Mode().IsRegular() && isArchive(host):
				s.kind = srcArchive
			}
			out = append(out, s)
		}
	}
	if len(out) == 0 {
		return nil, errors.New("no source files were specified")
	}
	return out, nil
}

func isURL(s string) bool {
	return strings.HasPrefix(s, "http://") || strings.HasPrefix(s, "https://")
}

// hasWildcards tells whether a source is a pattern (unescaped * ? or [).
func hasWildcards(s string) bool {
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '*', '?', '[':
			return true
		}
	}
	return false
}

// glob lists the paths under root matching pattern (path.Match on the
// whole relative path, as Docker), sorted.
func glob(root, pattern string) ([]string, error) {
	pattern = strings.TrimPrefix(path.Clean("/"+filepath.ToSlash(pattern)), "/")
	if _, err := path.Match(pattern, ""); err != nil {
		return nil, fmt.Errorf("invalid pattern %q: %w", pattern, err)
	}
	depth := strings.Count(pattern, "/") + 1
	var out []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if rel == "." {
			return nil
		}
		rel = filepath.ToSlash(rel)
		if ok, _ := path.Match(pattern, rel); ok {
			out = append(out, rel)
		}
		if d.IsDir() && strings.Count(rel, "/")+1 >= depth {
			return filepath.SkipDir
		}
		return nil
	})
	sort.Strings(out)
	return out, err
}

// isArchive tells whether a file is a tar archive, plain or compressed
// (detected by content, never by name).
func isArchive(p string) bool {
	f, err := os.Open(p)
	if err != nil {
		return false
	}
	defer f.Close()
	rd, _, err := archive.DecompressStream(bufio.NewReader(f))
	if err != nil {
		return false
	}
	defer rd.Close()
	_, err = tar.NewReader(rd).Next()
	return err == nil
}

// download fetches an ADD URL into the build directory. The file is named
// after the URL's path; its time is Last-Modified when the server sends it.
func (bd *build) download(raw string) (source, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return source{}, fmt.Errorf("invalid URL %s: %w", raw, err)
	}
	name := path.Base(u.Path)
	if name == "/" || name == "." || name == "" {
		name = ""
	}
	cl := bd.HTTPClient
	if cl == nil {
		cl = http.DefaultClient
	}
	req, err := http.NewRequestWithContext(bd.ctx, http.MethodGet, raw, nil)
	if err != nil {
		return source{}, err
	}
	resp, err := cl.Do(req)
	if err != nil {
		return source{}, fmt.Errorf("download %s: %w", raw, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return source{}, fmt.Errorf("download %s: %s", raw, resp.Status)
	}
	if cd := resp.Header.Get("Content-Disposition"); cd != "" {
		if _, params, err := mime.ParseMediaType(cd); err == nil && params["filename"] != "" {
			name = path.Base(params["filename"])
		}
	}
	if name == "" {
		return source{}, fmt.Errorf("cannot determine filename from url: %s", raw)
	}
	bd.nMounts++
	tmp := filepath.Join(bd.dir, fmt.Sprintf("download%d", bd.nMounts))
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return source{}, err
	}
	h := sha256.New()
	_, err = io.Copy(io.MultiWriter(f, h), resp.Body)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return source{}, fmt.Errorf("download %s: %w", raw, err)
	}
	mtime := time.Now().UTC()
	if lm, err := http.ParseTime(resp.Header.Get("Last-Modified")); err == nil {
		mtime = lm.UTC()
	}
	fi, err := os.Stat(tmp)
	if err != nil {
		return source{}, err
	}
	return source{kind: srcFile, orig: raw, host: tmp, info: fi, base: name, mode: 0o600, mtime: mtime,
		hash: hex.EncodeToString(h.Sum(nil))}, nil
}

// checksum is the cache checksum of the sources: names as copied, modes,
// types, link targets and contents; never times or owners.
func (bd *build) checksum(srcs []source) (string, error) {
	var parts []string
	kind := "file"
	for _, s := range srcs {
		h := sha256.New()
		switch s.kind {
		case srcData:
			fmt.Fprintf(h, "data\x00%s\x00%o\x00", s.base, s.mode)
			io.WriteString(h, s.data)
		case srcDir:
			kind = "dir"
			if err := bd.hashTree(h, s.host); err != nil {
				return "", err
			}
		default:
			fmt.Fprintf(h, "file\x00%s\x00%o\x00%d\x00", s.base, modeBits(s.info), s.info.Size())
			if s.mode != 0 {
				fmt.Fprintf(h, "mode\x00%o\x00", s.mode)
			}
			c := s.hash
			if c == "" {
				var err error
				if c, err = bd.fileHash(s.host, s.info); err != nil {
					return "", err
				}
			}
			io.WriteString(h, c)
		}
		parts = append(parts, hex.EncodeToString(h.Sum(nil)))
	}
	if len(parts) == 1 {
		return kind + ":" + parts[0], nil
	}
	h := sha256.New()
	for _, p := range parts {
		io.WriteString(h, p+"\n")
	}
	return "multi:" + hex.EncodeToString(h.Sum(nil)), nil
}

// hashTree hashes a directory's entries (relative names, modes, link
// targets, device numbers, contents) in lexical order.
func (bd *build) hashTree(h hash.Hash, root string) error {
	return filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		fi, err := d.Info()
		if err != nil {
			return err
		}
		fmt.Fprintf(h, "%s\x00%o\x00", filepath.ToSlash(rel), modeBits(fi))
		switch {
		case fi.Mode()&os.ModeSymlink != 0:
			t, err := os.Readlink(p)
			if err != nil {
				return err
			}
			fmt.Fprintf(h, "%s\x00", t)
		case fi.Mode()&(os.ModeDevice|os.ModeCharDevice) != 0:
			if st, ok := fi.Sys().(*syscall.Stat_t); ok {
				fmt.Fprintf(h, "%d\x00", st.Rdev)
			}
		case fi.Mode().IsRegular():
			c, err := bd.fileHash(p, fi)
			if err != nil {
				return err
			}
			fmt.Fprintf(h, "%d\x00%s\x00", fi.Size(), c)
		}
		h.Write([]byte{'\n'})
		return nil
	})
}

// fileHash is the SHA-256 of a file's content, memoised per build.
func (bd *build) fileHash(p string, fi os.FileInfo) (string, error) {
	key := p
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		key = fmt.Sprintf("%d:%d:%d:%d", st.Dev, st.Ino, fi.Size(), fi.ModTime().UnixNano())
	}
	if c, ok := bd.hashes[key]; ok {
		return c, nil
	}
	h := sha256.New()
	if err := copyFile(h, p); err != nil {
		return "", fmt.Errorf("read %s: %w", filepath.Base(p), unwrapPath(err))
	}
	c := hex.EncodeToString(h.Sum(nil))
	bd.hashes[key] = c
	return c, nil
}

// modeBits is a file's permission and type bits as in a tar header.
func modeBits(fi os.FileInfo) int64 {
	m := int64(fi.Mode().Perm())
	if fi.Mode()&os.ModeSetuid != 0 {
		m |= 0o4000
	}
	if fi.Mode()&os.ModeSetgid != 0 {
		m |= 0o2000
	}
	if fi.Mode()&os.ModeSticky != 0 {
		m |= 0o1000
	}
	return m | int64(fi.Mode().Type())<<12
}

// layerTar writes the tar of an ADD/COPY (or WORKDIR) layer: the new
// entries at their destination, preceded by their parent directories, which
// carry the metadata they have in the image (or, when new, 0755 and the
// --chown owner) so that the layer never changes an existing directory.
type layerTar struct {
	tw    *tar.Writer
	m     *fsMount
	owner *identity
	chmod *os.FileMode
	dirs  map[string]bool
	links map[[2]uint64]string
	now   time.Time
}

func newLayerTar(w io.Writer, m *fsMount) *layerTar {
	return &layerTar{tw: tar.NewWriter(w), m: m, dirs: map[string]bool{"": true}, links: map[[2]uint64]string{}, now: time.Now().UTC()}
}

func (lt *layerTar) ids() (int, int) {
	if lt.owner != nil {
		return lt.owner.UID, lt.owner.GID
	}
	return 0, 0
}

// mkdirAll emits rel and its parents as directories.
func (lt *layerTar) mkdirAll(rel string) error {
	if err := lt.parents(rel); err != nil {
		return err
	}
	return lt.dir(rel, nil)
}

// parents emits the parent directories of rel.
func (lt *layerTar) parents(rel string) error {
	var todo []string
	for p := path.Dir(rel); p != "." && p != "/" && !lt.dirs[p]; p = path.Dir(p) {
		todo = append(todo, p)
	}
	for i := len(todo) - 1; i >= 0; i-- {
		if err := lt.dir(todo[i], nil); err != nil {
			return err
		}
	}
	return nil
}

// dir emits directory rel: with its metadata in the image if it exists
// there, else new: 0755 (or --chmod's for the destination of a copied
// directory, src), owned by --chown's owner or root.
func (lt *layerTar) dir(rel string, src os.FileInfo) error {
	if lt.dirs[rel] {
		return nil
	}
	lt.dirs[rel] = true
	if fi, err := lt.m.lstat(rel); err == nil {
		if !fi.IsDir() {
			if src == nil {
				return fmt.Errorf("cannot copy to /%s: it is not a directory", rel)
			}
		} else {
			hdr, err := tar.FileInfoHeader(fi, "")
			if err != nil {
				return err
			}
			hdr.Name = rel + "/"
			cleanHeader(hdr)
			if st, ok := fi.Sys().(*syscall.Stat_t); ok {
				hdr.Uid, hdr.Gid = int(st.Uid), int(st.Gid)
			}
			return lt.tw.WriteHeader(hdr)
		}
	}
	uid, gid := lt.ids()
	hdr := &tar.Header{Typeflag: tar.TypeDir, Name: rel + "/", Mode: 0o755, Uid: uid, Gid: gid, ModTime: lt.now}
	if src != nil && lt.chmod != nil {
		hdr.Mode = int64(*lt.chmod)
	}
	return lt.tw.WriteHeader(hdr)
}

func cleanHeader(hdr *tar.Header) {
	hdr.Uname, hdr.Gname = "", ""
	hdr.AccessTime, hdr.ChangeTime = time.Time{}, time.Time{}
	hdr.Format = tar.FormatPAX
}

// add emits one source at its destination.
func (lt *layerTar) add(s source, destRel string, destIsDir bool) error {
	switch s.kind {
	case srcDir:
		if destRel != "" {
			if err := lt.parents(destRel); err != nil {
				return err
			}
			if err := lt.dir(destRel, s.info); err != nil {
				return err
			}
		}
		return lt.tree(s.host, destRel)
	case srcArchive:
		if destRel != "" {
			if err := lt.mkdirAll(destRel); err != nil {
				return err
			}
		}
		return lt.extract(s.host, destRel)
	}
	target := destRel
	if destIsDir {
		target = path.Join(destRel, s.base)
	}
	if err := lt.parents(target); err != nil {
		return err
	}
	uid, gid := lt.ids()
	if s.kind == srcData {
		mode := int64(s.mode)
		if lt.chmod != nil {
			mode = int64(*lt.chmod)
		}
		hdr := &tar.Header{Typeflag: tar.TypeReg, Name: target, Mode: mode, Uid: uid, Gid: gid, Size: int64(len(s.data)), ModTime: s.mtime, Format: tar.FormatPAX}
		if err := lt.tw.WriteHeader(hdr); err != nil {
			return err
		}
		_, err := io.WriteString(lt.tw, s.data)
		return err
	}
	return lt.entry(s.host, target, s.info, s.mode, s.mtime)
}

// tree emits the contents of directory root under destRel.
func (lt *layerTar) tree(root, destRel string) error {
	return filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if rel == "." {
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		target := path.Join(destRel, filepath.ToSlash(rel))
		if fi.IsDir() {
			return lt.dirEntry(target, fi)
		}
		return lt.entry(p, target, fi, 0, time.Time{})
	})
}

// dirEntry emits a copied directory with the source's metadata.
func (lt *layerTar) dirEntry(target string, fi os.FileInfo) error {
	lt.dirs[target] = true
	uid, gid := lt.ids()
	mode := modeBits(fi) & 0o7777
	if lt.chmod != nil {
		mode = int64(*lt.chmod)
	}
	return lt.tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: target + "/", Mode: mode, Uid: uid, Gid: gid, ModTime: fi.ModTime(), Format: tar.FormatPAX})
}

// entry emits one non-directory from the host. mode and mtime, when set,
// replace the file's own (downloads).
func (lt *layerTar) entry(p, target string, fi os.FileInfo, mode os.FileMode, mtime time.Time) error {
	if base := path.Base(target); strings.HasPrefix(base, ".wh.") {
		return fmt.Errorf("cannot copy %s: names starting with .wh. are reserved for layer whiteouts", target)
	}
	if fi.Mode()&os.ModeSocket != 0 {
		return nil // sockets cannot be archived (Docker skips them too)
	}
	link := ""
	if fi.Mode()&os.ModeSymlink != 0 {
		l, err := os.Readlink(p)
		if err != nil {
			return err
		}
		link = l
	}
	hdr, err := tar.FileInfoHeader(fi, link)
	if err != nil {
		return fmt.Errorf("%s: %w", target, err)
	}
	hdr.Name = target
	cleanHeader(hdr)
	hdr.Uid, hdr.Gid = lt.ids()
	if mode != 0 {
		hdr.Mode = int64(mode)
	}
	if !mtime.IsZero() {
		hdr.ModTime = mtime
	}
	if lt.chmod != nil && fi.Mode()&os.ModeSymlink == 0 {
		hdr.Mode = int64(*lt.chmod)
	}
	if fi.Mode().IsRegular() {
		if st, ok := fi.Sys().(*syscall.Stat_t); ok && st.Nlink > 1 {
			id := [2]uint64{uint64(st.Dev), st.Ino}
			if first, ok := lt.links[id]; ok {
				hdr.Typeflag = tar.TypeLink
				hdr.Linkname = first
				hdr.Size = 0
				return lt.tw.WriteHeader(hdr)
			}
			lt.links[id] = target
		}
	}
	if err := lt.tw.WriteHeader(hdr); err != nil {
		return err
	}
	if hdr.Typeflag != tar.TypeReg || hdr.Size == 0 {
		return nil
	}
	f, err := os.Open(p)
	if err != nil {
		return fmt.Errorf("open %s: %w", target, unwrapPath(err))
	}
	defer f.Close()
	n, err := io.Copy(lt.tw, f)
	if err == nil && n != hdr.Size {
		err = fmt.Errorf("%s changed size while being copied", target)
	}
	return err
}

// extract emits the entries of a local tar archive (ADD) under destRel,
// keeping their owners and modes. Names are confined to destRel.
func (lt *layerTar) extract(p, destRel string) error {
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	rd, _, err := archive.DecompressStream(bufio.NewReader(f))
	if err != nil {
		return err
	}
	defer rd.Close()
	tr := tar.NewReader(rd)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("extract %s: %w", filepath.Base(p), err)
		}
		name := strings.TrimPrefix(path.Clean("/"+hdr.Name), "/")
		if name == "" || strings.HasPrefix(path.Base(name), ".wh.") {
			continue
		}
		target := path.Join(destRel, name)
		if err := lt.parents(target); err != nil {
			return err
		}
		h := *hdr
		h.Name = target
		switch hdr.Typeflag {
		case tar.TypeDir:
			h.Name += "/"
			lt.dirs[target] = true
		case tar.TypeLink:
			h.Linkname = path.Join(destRel, strings.TrimPrefix(path.Clean("/"+hdr.Linkname), "/"))
		case tar.TypeXGlobalHeader:
			continue
		}
		h.Uname, h.Gname = "", ""
		h.Format = tar.FormatPAX
		if err := lt.tw.WriteHeader(&h); err != nil {
			return err
		}
		if h.Size > 0 && h.Typeflag != tar.TypeLink && h.Typeflag != tar.TypeSymlink && h.Typeflag != tar.TypeDir {
			if _, err := io.Copy(lt.tw, tr); err != nil {
				return err
			}
		}
	}
}
