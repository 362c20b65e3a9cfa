package build

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/ctrd/ctrd/images"
	"github.com/ctrd/ctrd/images/snapshot"
	securejoin "github.com/cyphar/filepath-securejoin"
)

// fsMount is an image's file system mounted read-only for a step: to look
// at the destination of ADD/COPY, or to copy from with COPY --from. Root is
// "" for an image without layers (an empty file system).
type fsMount struct {
	Root string
	key  string
	done bool
}

// mountImage mounts the file system of an image config read-only. The
// mount is an active snapshot named scratchPrefix..., so a crash leaves
// nothing the next daemon start does not remove.
func (bd *build) mountImage(cfg *images.ImageConfig) (*fsMount, error) {
	chain := images.ChainID(cfg)
	if chain == "" {
		return &fsMount{}, nil
	}
	if err := bd.Store.EnsureUnpacked(bd.ctx, cfg); err != nil {
		return nil, err
	}
	sn := bd.Store.Snapshotter()
	key := scratchPrefix + randomHex(12)
	mounts, err := sn.Prepare(key, chain, nil)
	if err != nil {
		return nil, fmt.Errorf("prepare image view: %w", err)
	}
	bd.nMounts++
	dir := filepath.Join(bd.dir, fmt.Sprintf("mnt%d", bd.nMounts))
	if err := os.Mkdir(dir, 0o700); err != nil {
		_ = sn.Remove(key)
		return nil, err
	}
	for i := range mounts {
		mounts[i].Options = append(append([]string{}, mounts[i].Options...), "ro")
	}
	if err := snapshot.MountAll(mounts, dir); err != nil {
		_ = sn.Remove(key)
		_ = os.Remove(dir)
		return nil, fmt.Errorf("mount image view: %w", err)
	}
	m := &fsMount{Root: dir, key: key}
	bd.mounts = append(bd.mounts, m)
	return m, nil
}

// release unmounts and removes a mount (idempotent).
func (bd *build) release(m *fsMount) {
	if m == nil || m.done || m.Root == "" {
		return
	}
	m.done = true
	if err := snapshot.Unmount(m.Root); err != nil {
		return // keep the snapshot: it is removed at the next start
	}
	_ = os.Remove(m.Root)
	_ = bd.Store.Snapshotter().Remove(m.key)
}

func (bd *build) releaseMounts() {
	for _, m := range bd.mounts {
		bd.release(m)
	}
	bd.mounts = nil
}

// resolve returns the host path of p inside the mounted file system, with
// symlinks resolved inside it; "" for an empty file system.
func (m *fsMount) resolve(p string) (string, error) {
	if m.Root == "" {
		return "", nil
	}
	return securejoin.SecureJoin(m.Root, p)
}

// lstat stats p (already resolved, relative to the root, no leading "/")
// without following a final symlink.
func (m *fsMount) lstat(rel string) (os.FileInfo, error) {
	if m.Root == "" {
		return nil, os.ErrNotExist
	}
	return os.Lstat(filepath.Join(m.Root, rel))
}

// rel turns a resolved host path back into an in-image path without the
// leading "/" ("" for the root).
func (m *fsMount) rel(host string) string {
	if m.Root == "" {
		return ""
	}
	r, err := filepath.Rel(m.Root, host)
	if err != nil || r == "." {
		return ""
	}
	return filepath.ToSlash(r)
}

// identity is a numeric owner.
type identity struct{ UID, GID int }

// parseChown resolves --chown=user[:group] against the image's /etc/passwd
// and /etc/group. Without a group, the GID is the UID (Docker's rule).
func parseChown(m *fsMount, spec string) (identity, error) {
	user, group, hasGroup := strings.Cut(spec, ":")
	if user == "" || hasGroup && group == "" {
		return identity{}, fmt.Errorf("invalid --chown value %q: use user[:group]", spec)
	}
	uid, err := lookupID(m, "/etc/passwd", user)
	if err != nil {
		return identity{}, fmt.Errorf("unable to convert uid/gid chown string to host mapping: can't find uid for user %s: %w", user, err)
	}
	gid := uid
	if hasGroup {
		gid, err = lookupID(m, "/etc/group", group)
		if err != nil {
			return identity{}, fmt.Errorf("unable to convert uid/gid chown string to host mapping: can't find gid for group %s: %w", group, err)
		}
	}
	return identity{UID: uid, GID: gid}, nil
}

func lookupID(m *fsMount, file, name string) (int, error) {
	if n, err := strconv.Atoi(name); err == nil {
		if n < 0 {
			return 0, errors.New("negative ID")
		}
		return n, nil
	}
	what := "user"
	if strings.HasSuffix(file, "group") {
		what = "group"
	}
	p, err := m.resolve(file)
	if err != nil || p == "" {
		return 0, fmt.Errorf("no such %s: %s", what, name)
	}
	f, err := os.Open(p)
	if err != nil {
		return 0, fmt.Errorf("no such %s: %s", what, name)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Split(sc.Text(), ":")
		if len(fields) >= 3 && fields[0] == name {
			if n, err := strconv.Atoi(fields[2]); err == nil {
				return n, nil
			}
		}
	}
	return 0, fmt.Errorf("no such %s: %s", what, name)
}

// parseChmod parses --chmod (octal).
func parseChmod(s string) (os.FileMode, error) {
	n, err := strconv.ParseUint(s, 8, 32)
	if err != nil || n > 0o7777 {
		return 0, fmt.Errorf("invalid --chmod value %q: use an octal mode like 0755", s)
	}
	return os.FileMode(n), nil
}
