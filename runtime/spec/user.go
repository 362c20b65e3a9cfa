package spec

import (
	"errors"
	"fmt"
	"io"
	"os"

	pathrs "github.com/cyphar/filepath-securejoin/pathrs-lite"
	"github.com/moby/sys/user"
	"golang.org/x/sys/unix"
)

// maxIDFileSize bounds how much of a container's /etc/passwd or /etc/group is
// read: these files come from images and may be hostile.
const maxIDFileSize = 64 << 20

// ResolveUser turns a Docker user spec ("", "name", "uid", "uid:gid",
// "name:group", "uid:group"...) into numeric ids, using the /etc/passwd and
// /etc/group of the container's rootfs. The files are opened with every path
// component (symlinks included) resolved inside rootfs, so an image cannot
// make the daemon read a host file.
//
// An empty user means root. additionalGids starts with the primary gid,
// followed by the groups that list the user as a member (when the group was
// not given explicitly), as Docker does. Numeric ids need no entry in the
// files; a name that has none is an error worded like Docker's:
// "unable to find user nosuch: no matching entries in passwd file".
func ResolveUser(rootfs, userSpec string) (uid, gid uint32, additionalGids []uint32, err error) {
	passwd, err := openInRoot(rootfs, "/etc/passwd")
	if err != nil {
		return 0, 0, nil, err
	}
	if passwd != nil {
		defer passwd.Close()
	}
	group, err := openInRoot(rootfs, "/etc/group")
	if err != nil {
		return 0, 0, nil, err
	}
	if group != nil {
		defer group.Close()
	}
	// A nil *os.File must reach GetExecUser as a nil io.Reader.
	var pr, gr io.Reader
	if passwd != nil {
		pr = io.LimitReader(passwd, maxIDFileSize)
	}
	if group != nil {
		gr = io.LimitReader(group, maxIDFileSize)
	}
	eu, err := user.GetExecUser(userSpec, nil, pr, gr)
	if err != nil {
		return 0, 0, nil, err
	}
	uid, gid = uint32(eu.Uid), uint32(eu.Gid)
	additionalGids = []uint32{gid}
	for _, g := range eu.Sgids {
		if !containsU32(additionalGids, uint32(g)) {
			additionalGids = append(additionalGids, uint32(g))
		}
	}
	return uid, gid, additionalGids, nil
}

func containsU32(s []uint32, v uint32) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// openInRoot opens name for reading with all its components resolved inside
// root. A missing file (or rootfs) gives (nil, nil); anything other than a
// regular file is refused (a FIFO or device could hang or harm the daemon).
func openInRoot(root, name string) (*os.File, error) {
	h, err := pathrs.OpenInRoot(root, name)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) || errors.Is(err, unix.ENOTDIR) {
			return nil, nil
		}
		return nil, fmt.Errorf("open %s in container rootfs: %w", name, err)
	}
	defer h.Close()
	var st unix.Stat_t
	if err := unix.Fstat(int(h.Fd()), &st); err != nil {
		return nil, fmt.Errorf("stat %s in container rootfs: %w", name, err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return nil, fmt.Errorf("%s in container rootfs is not a regular file", name)
	}
	f, err := pathrs.Reopen(h, unix.O_RDONLY|unix.O_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("open %s in container rootfs: %w", name, err)
	}
	return f, nil
}
