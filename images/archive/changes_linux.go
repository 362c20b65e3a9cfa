package archive

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"

	"golang.org/x/sys/unix"
)

// ChangeKind is the kind of a Change, printed like `docker diff` does.
type ChangeKind byte

// Change kinds.
const (
	ChangeAdd    ChangeKind = 'A' // the path exists in no lower layer
	ChangeModify ChangeKind = 'C' // the path exists in a lower layer
	ChangeDelete ChangeKind = 'D' // the path is whited out
)

// String returns "A", "C" or "D".
func (k ChangeKind) String() string { return string(rune(k)) }

// Change is one changed path; Path starts with "/".
type Change struct {
	Kind ChangeKind
	Path string
}

func (c Change) String() string { return c.Kind.String() + " " + c.Path }

// Changes lists what an overlayfs upper directory changes relative to its
// lower directories (lowers ordered top first), like `docker diff`: every
// path in upper is 'A' if no lower has it (as seen through the lowers' own
// whiteouts and opaque directories) and 'C' if one does (this includes the
// parent directories that overlayfs copied up); a whiteout is 'D'. An opaque
// directory is 'C' (or 'A'), and every path below it in the lowers that upper
// does not have is 'D'. The result is sorted by path.
func Changes(ctx context.Context, upper string, lowers []string) ([]Change, error) {
	changes, err := listChanges(ctx, upper, lowers)
	if err != nil {
		return nil, fmt.Errorf("archive: changes of %s: %w", upper, err)
	}
	return changes, nil
}

func listChanges(ctx context.Context, upper string, lowers []string) ([]Change, error) {
	entries, err := scanTree(ctx, upper)
	if err != nil {
		return nil, err
	}
	inUpper := make(map[string]struct{}, len(entries))
	for i := range entries {
		inUpper[entries[i].rel] = struct{}{}
	}
	lv := &lowerView{layers: lowers, dirs: map[string][]int{}}
	kinds := make(map[string]ChangeKind, len(entries))
	for i := range entries {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		e := &entries[i]
		if isWhiteout(&e.st) {
			kinds[e.rel] = ChangeDelete
			continue
		}
		layers, _, err := lv.lookup(e.rel)
		if err != nil {
			return nil, err
		}
		kind := ChangeAdd
		if layers != nil {
			kind = ChangeModify
		}
		kinds[e.rel] = kind
		if e.st.Mode&unix.S_IFMT != unix.S_IFDIR || layers == nil {
			continue
		}
		opaque, err := isOpaque(upper + "/" + e.rel)
		if err != nil {
			return nil, err
		}
		if !opaque {
			continue
		}
		err = lv.walk(ctx, e.rel, func(rel string) {
			if _, ok := inUpper[rel]; !ok {
				kinds[rel] = ChangeDelete
			}
		})
		if err != nil {
			return nil, err
		}
	}
	changes := make([]Change, 0, len(kinds))
	for rel, k := range kinds {
		changes = append(changes, Change{Kind: k, Path: "/" + rel})
	}
	slices.SortFunc(changes, func(a, b Change) int { return strings.Compare(a.Path, b.Path) })
	return changes, nil
}

func isOpaque(p string) (bool, error) {
	var v [4]byte
	n, err := unix.Lgetxattr(p, overlayOpaqueXattr, v[:])
	switch err {
	case nil:
		return n == 1 && v[0] == 'y', nil
	case unix.ENODATA, unix.ENOTSUP, unix.ERANGE:
		return false, nil
	}
	return false, &pathErr{op: "getxattr", path: p, err: err}
}

// lowerView answers lookups in the merged view of read-only overlay layers.
type lowerView struct {
	layers []string         // top first
	dirs   map[string][]int // merged directory -> layers contributing to it, top first
}

// lookup returns the layers that provide rel in the merged view (nil if rel
// does not exist there) and whether it is a directory; a non-directory is
// provided by exactly one layer.
func (v *lowerView) lookup(rel string) ([]int, bool, error) {
	if rel == "." || rel == "" {
		all := make([]int, len(v.layers))
		for i := range all {
			all[i] = i
		}
		return all, true, nil
	}
	if layers, ok := v.dirs[rel]; ok {
		return layers, true, nil
	}
	parent, _ := splitName(rel)
	players, pdir, err := v.lookup(parent)
	if err != nil || !pdir {
		return nil, false, err
	}
	var layers []int
	for _, i := range players {
		p := v.layers[i] + "/" + rel
		var st unix.Stat_t
		err := unix.Lstat(p, &st)
		if err == unix.ENOENT {
			continue
		}
		if err != nil {
			return nil, false, &pathErr{op: "lstat", path: p, err: err}
		}
		if isWhiteout(&st) {
			break
		}
		if st.Mode&unix.S_IFMT != unix.S_IFDIR {
			if layers == nil {
				return []int{i}, false, nil
			}
			break // a non-directory under a directory is hidden
		}
		layers = append(layers, i)
		opaque, err := isOpaque(p)
		if err != nil {
			return nil, false, err
		}
		if opaque {
			break
		}
	}
	if layers == nil {
		return nil, false, nil
	}
	v.dirs[rel] = layers
	return layers, true, nil
}

// walk calls fn for every path below directory rel in the merged view.
func (v *lowerView) walk(ctx context.Context, rel string, fn func(rel string)) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	layers, isDir, err := v.lookup(rel)
	if err != nil || !isDir {
		return err
	}
	seen := map[string]struct{}{}
	var names []string
	for _, i := range layers {
		f, err := os.Open(v.layers[i] + "/" + rel)
		if err != nil {
			return err
		}
		ns, err := f.Readdirnames(-1)
		f.Close()
		if err != nil {
			return err
		}
		for _, n := range ns {
			if _, ok := seen[n]; !ok {
				seen[n] = struct{}{}
				names = append(names, n)
			}
		}
	}
	slices.Sort(names)
	for _, n := range names {
		child := joinName(rel, n)
		cl, cdir, err := v.lookup(child)
		if err != nil {
			return err
		}
		if cl == nil {
			continue
		}
		fn(child)
		if cdir {
			if err := v.walk(ctx, child, fn); err != nil {
				return err
			}
		}
	}
	return nil
}
