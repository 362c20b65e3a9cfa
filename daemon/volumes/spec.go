// Package volumes holds ctrd's container storage besides the image: parsing
// of -v / --mount / --tmpfs, named and anonymous volumes (directories under
// data-root, metadata in the shared bbolt file), Docker's copy-up of image
// content into a new volume, and safe resolution of mount targets inside a
// container root.
package volumes

import (
	"encoding/csv"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"

	units "github.com/docker/go-units"
)

// Mount types.
const (
	TypeBind   = "bind"
	TypeVolume = "volume"
	TypeTmpfs  = "tmpfs"
)

// DefaultPropagation is the propagation of bind mounts when none is given.
const DefaultPropagation = "rprivate"

// MountSpec is one mount asked for by -v, --mount, --tmpfs or an image
// VOLUME, before any host path is resolved.
type MountSpec struct {
	Type         string            `json:"Type"`                   // bind, volume, tmpfs
	Source       string            `json:"Source,omitempty"`       // host path (bind), volume name, "" for an anonymous volume or tmpfs
	Destination  string            `json:"Destination"`            // absolute, cleaned path in the container
	ReadOnly     bool              `json:"ReadOnly,omitempty"`     //
	Propagation  string            `json:"Propagation,omitempty"`  // binds: rprivate (default), private, rshared, shared, rslave, slave; "" for volume and tmpfs
	NoCopy       bool              `json:"NoCopy,omitempty"`       // volumes: skip the copy-up of image content
	TmpfsOptions []string          `json:"TmpfsOptions,omitempty"` // tmpfs: validated mount options (size=, mode=, exec, ...), without ro/rw
	VolumeLabels map[string]string `json:"VolumeLabels,omitempty"` // --mount volume-label=: labels for a volume created by this mount
	CreateSource bool              `json:"CreateSource,omitempty"` // binds from -v: a missing host path is created as a directory (Docker); from --mount it is an error
}

// volumeNameRE is Docker's rule for local volume names.
var volumeNameRE = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]+$`)

// ValidName checks a volume name: [a-zA-Z0-9][a-zA-Z0-9_.-]+ (two
// characters at least).
func ValidName(name string) error {
	if volumeNameRE.MatchString(name) {
		return nil
	}
	if len(name) == 1 && volumeNameRE.MatchString(name+"x") {
		return fmt.Errorf("volume name %q is too short, names should be at least two alphanumeric characters", name)
	}
	return fmt.Errorf("%q includes invalid characters for a local volume name, only \"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed", name)
}

var propagations = map[string]bool{
	"private": true, "rprivate": true, "shared": true, "rshared": true, "slave": true, "rslave": true,
}

// ParseVolume parses -v SRC:DST[:OPTS] and -v DST (anonymous volume). An
// absolute SRC is a bind mount, any other SRC a volume name. OPTS is a
// comma-separated list among ro, rw, nocopy (volumes), a propagation mode
// (binds) and z/Z (accepted and ignored: no SELinux relabelling).
func ParseVolume(raw string) (MountSpec, error) {
	fail := func(format string, a ...any) (MountSpec, error) {
		return MountSpec{}, fmt.Errorf("invalid volume specification: '%s': %s", raw, fmt.Sprintf(format, a...))
	}
	if raw == "" {
		return fail("empty")
	}
	parts := strings.Split(raw, ":")
	var src, dst, mode string
	switch len(parts) {
	case 1:
		dst = parts[0]
	case 2:
		if _, err := parseModes(parts[1]); err == nil && parts[1] != "" {
			return fail("options need a source and a destination (SRC:DST:%s)", parts[1])
		}
		src, dst = parts[0], parts[1]
		if src == "" {
			return fail("empty source (use SRC:DST, or DST alone for an anonymous volume)")
		}
	case 3:
		src, dst, mode = parts[0], parts[1], parts[2]
		if src == "" {
			return fail("empty source (use SRC:DST, or DST alone for an anonymous volume)")
		}
	default:
		return fail("too many colons (use SRC:DST[:OPTS])")
	}

	m := MountSpec{Type: TypeVolume}
	switch {
	case src == "":
		// anonymous volume
	case filepath.IsAbs(src):
		m.Type, m.Source, m.CreateSource = TypeBind, filepath.Clean(src), true
		m.Propagation = DefaultPropagation
	case looksLikePath(src):
		return fail("relative host path %q: use an absolute path", src)
	default:
		if err := ValidName(src); err != nil {
			return fail("%v; to bind a host directory, use an absolute path", err)
		}
		m.Source = src
	}

	d, err := checkDestination(dst)
	if err != nil {
		return fail("%v", err)
	}
	m.Destination = d

	opts, err := parseModes(mode)
	if err != nil {
		return fail("%v", err)
	}
	m.ReadOnly = opts.readOnly
	if opts.propagation != "" {
		if m.Type != TypeBind {
			return fail("propagation %q applies to bind mounts only, not to volumes", opts.propagation)
		}
		m.Propagation = opts.propagation
	}
	if opts.noCopy {
		if m.Type != TypeVolume {
			return fail("nocopy applies to volumes only, not to bind mounts")
		}
		m.NoCopy = true
	}
	return m, nil
}

func looksLikePath(s string) bool {
	return strings.ContainsRune(s, '/') || strings.HasPrefix(s, ".") || strings.HasPrefix(s, "~")
}

func checkDestination(dst string) (string, error) {
	switch {
	case dst == "":
		return "", errors.New("empty destination")
	case !filepath.IsAbs(dst):
		return "", fmt.Errorf("destination %q must be an absolute path", dst)
	}
	d := filepath.Clean(dst)
	if d == "/" {
		return "", errors.New("destination can't be '/'")
	}
	return d, nil
}

type modes struct {
	readOnly    bool
	propagation string
	noCopy      bool
}

func parseModes(mode string) (modes, error) {
	var m modes
	if mode == "" {
		return m, nil
	}
	var rw, label, prop, copyMode int
	for _, o := range strings.Split(mode, ",") {
		switch {
		case o == "ro" || o == "rw":
			rw++
			m.readOnly = o == "ro"
		case o == "z" || o == "Z":
			label++
		case propagations[o]:
			prop++
			m.propagation = o
		case o == "nocopy" || o == "copy":
			copyMode++
			m.noCopy = o == "nocopy"
		default:
			return m, fmt.Errorf("unknown option %q (use ro, rw, nocopy, z, Z, or a propagation: rprivate, private, rshared, shared, rslave, slave)", o)
		}
	}
	switch {
	case rw > 1:
		return m, errors.New("ro and rw given more than once")
	case label > 1:
		return m, errors.New("z and Z given more than once")
	case prop > 1:
		return m, errors.New("more than one propagation mode")
	case copyMode > 1:
		return m, errors.New("copy and nocopy given more than once")
	}
	return m, nil
}

// ParseMount parses --mount type=bind|volume|tmpfs,src=,dst=,... (Docker's
// keys: type, source|src, target|dst|destination, readonly|ro[=bool],
// bind-propagation=, volume-nocopy[=bool], volume-label=K=V,
// volume-driver=local, tmpfs-size=, tmpfs-mode=, consistency= (ignored)).
// The type defaults to volume.
func ParseMount(raw string) (MountSpec, error) {
	fail := func(format string, a ...any) (MountSpec, error) {
		return MountSpec{}, fmt.Errorf("invalid argument %q for \"--mount\" flag: %s", raw, fmt.Sprintf(format, a...))
	}
	r := csv.NewReader(strings.NewReader(raw))
	fields, err := r.Read()
	if err != nil {
		return fail("%v", err)
	}

	m := MountSpec{Type: TypeVolume}
	var bindOpts, volumeOpts, tmpfsOpts []string
	var size int64 = -1
	var mode uint64
	hasMode := false
	for _, f := range fields {
		key, val, hasVal := strings.Cut(f, "=")
		key = strings.ToLower(strings.TrimSpace(key))
		boolVal := func() (bool, error) {
			if !hasVal {
				return true, nil
			}
			switch strings.ToLower(val) {
			case "1", "true":
				return true, nil
			case "0", "false":
				return false, nil
			}
			return false, fmt.Errorf("invalid value for %s: %q (use true or false)", key, val)
		}
		switch key {
		case "readonly", "ro", "volume-nocopy":
			b, err := boolVal()
			if err != nil {
				return fail("%v", err)
			}
			if key == "volume-nocopy" {
				m.NoCopy = b
				volumeOpts = append(volumeOpts, key)
			} else {
				m.ReadOnly = b
			}
			continue
		}
		if !hasVal {
			return fail("invalid field %q: must be a key=value pair", f)
		}
		switch key {
		case "type":
			m.Type = strings.ToLower(val)
		case "source", "src":
			m.Source = val
		case "target", "dst", "destination":
			m.Destination = val
		case "consistency":
			// macOS only in Docker; accepted and ignored.
		case "bind-propagation":
			if !propagations[val] {
				return fail("invalid bind-propagation %q (use rprivate, private, rshared, shared, rslave or slave)", val)
			}
			m.Propagation = val
			bindOpts = append(bindOpts, key)
		case "volume-label":
			k, v, _ := strings.Cut(val, "=")
			if k == "" {
				return fail("invalid volume-label %q: use volume-label=KEY=VALUE", val)
			}
			if m.VolumeLabels == nil {
				m.VolumeLabels = map[string]string{}
			}
			m.VolumeLabels[k] = v
			volumeOpts = append(volumeOpts, key)
		case "volume-driver":
			if val != "local" {
				return fail("volume driver %q is not supported (only local)", val)
			}
			volumeOpts = append(volumeOpts, key)
		case "tmpfs-size":
			n, err := units.RAMInBytes(val)
			if err != nil || n < 0 {
				return fail("invalid tmpfs-size %q", val)
			}
			size = n
			tmpfsOpts = append(tmpfsOpts, key)
		case "tmpfs-mode":
			n, err := strconv.ParseUint(val, 8, 32)
			if err != nil || n > 0o7777 {
				return fail("invalid tmpfs-mode %q: use an octal mode such as 1777", val)
			}
			mode, hasMode = n, true
			tmpfsOpts = append(tmpfsOpts, key)
		default:
			return fail("unexpected key %q in %q", key, f)
		}
	}

	if m.Destination == "" {
		return fail("field Target must not be empty")
	}
	d, err := checkDestination(m.Destination)
	if err != nil {
		return fail("%v", err)
	}
	m.Destination = d

	mix := func(opts []string) (MountSpec, error) {
		return fail("cannot mix %q with mount type %q", opts[0], m.Type)
	}
	switch m.Type {
	case TypeBind:
		if len(volumeOpts) > 0 {
			return mix(volumeOpts)
		}
		if len(tmpfsOpts) > 0 {
			return mix(tmpfsOpts)
		}
		switch {
		case m.Source == "":
			return fail("field Source must not be empty")
		case !filepath.IsAbs(m.Source):
			return fail("relative host path %q: use an absolute path", m.Source)
		}
		m.Source = filepath.Clean(m.Source)
		if m.Propagation == "" {
			m.Propagation = DefaultPropagation
		}
	case TypeVolume:
		if len(bindOpts) > 0 {
			return mix(bindOpts)
		}
		if len(tmpfsOpts) > 0 {
			return mix(tmpfsOpts)
		}
		if m.Source != "" {
			if err := ValidName(m.Source); err != nil {
				return fail("%v", err)
			}
		}
	case TypeTmpfs:
		if len(bindOpts) > 0 {
			return mix(bindOpts)
		}
		if len(volumeOpts) > 0 {
			return mix(volumeOpts)
		}
		if m.Source != "" {
			return fail("field Source must not be specified")
		}
		if size >= 0 {
			m.TmpfsOptions = append(m.TmpfsOptions, "size="+strconv.FormatInt(size, 10))
		}
		if hasMode {
			m.TmpfsOptions = append(m.TmpfsOptions, "mode="+strconv.FormatUint(mode, 8))
		}
	default:
		return fail("mount type %q is not supported (use bind, volume or tmpfs)", m.Type)
	}
	return m, nil
}

var (
	tmpfsFlags = map[string]bool{
		"exec": true, "noexec": true, "suid": true, "nosuid": true, "dev": true, "nodev": true,
		"atime": true, "noatime": true, "relatime": true, "norelatime": true, "strictatime": true, "nostrictatime": true,
		"diratime": true, "nodiratime": true, "sync": true, "async": true, "dirsync": true,
		"lazytime": true, "nolazytime": true, "inode32": true, "inode64": true, "noswap": true,
	}
	tmpfsSizeRE  = regexp.MustCompile(`^[0-9]+[kKmMgGtTpPeE%]?$`)
	tmpfsCountRE = regexp.MustCompile(`^[0-9]+[kKmMgGtTpPeE]?$`)
	tmpfsHuge    = map[string]bool{"never": true, "always": true, "within_size": true, "advise": true, "deny": true, "force": true}
)

// ParseTmpfs parses --tmpfs DST[:OPTS], OPTS being tmpfs mount options
// (size=, mode=, uid=, gid=, nr_inodes=, nr_blocks=, mpol=, huge=, ro, rw,
// exec, noexec, ...).
func ParseTmpfs(raw string) (MountSpec, error) {
	fail := func(format string, a ...any) (MountSpec, error) {
		return MountSpec{}, fmt.Errorf("invalid argument %q for \"--tmpfs\" flag: %s", raw, fmt.Sprintf(format, a...))
	}
	dst, opts, _ := strings.Cut(raw, ":")
	d, err := checkDestination(dst)
	if err != nil {
		return fail("%v", err)
	}
	m := MountSpec{Type: TypeTmpfs, Destination: d}
	if opts == "" {
		return m, nil
	}
	for _, o := range strings.Split(opts, ",") {
		key, val, hasVal := strings.Cut(o, "=")
		if !hasVal {
			switch {
			case o == "ro" || o == "rw":
				m.ReadOnly = o == "ro"
			case tmpfsFlags[o]:
				m.TmpfsOptions = append(m.TmpfsOptions, o)
			default:
				return fail("unknown tmpfs option %q", o)
			}
			continue
		}
		ok := false
		switch key {
		case "size":
			ok = tmpfsSizeRE.MatchString(val)
		case "nr_inodes", "nr_blocks":
			ok = tmpfsCountRE.MatchString(val)
		case "mode":
			n, err := strconv.ParseUint(val, 8, 32)
			ok = err == nil && n <= 0o7777
		case "uid", "gid":
			_, err := strconv.ParseUint(val, 10, 32)
			ok = err == nil
		case "mpol":
			ok = val != ""
		case "huge":
			ok = tmpfsHuge[val]
		default:
			return fail("unknown tmpfs option %q", key)
		}
		if !ok {
			return fail("invalid value %q for tmpfs option %s", val, key)
		}
		m.TmpfsOptions = append(m.TmpfsOptions, o)
	}
	return m, nil
}

// CheckDuplicates refuses two mounts on the same destination.
func CheckDuplicates(specs []MountSpec) error {
	seen := make(map[string]bool, len(specs))
	for _, s := range specs {
		d := filepath.Clean(s.Destination)
		if seen[d] {
			return fmt.Errorf("Duplicate mount point: %s", d) //nolint:staticcheck // Docker's message
		}
		seen[d] = true
	}
	return nil
}

// MergeImageVolumes appends an anonymous volume for each image VOLUME path
// that no user mount already covers (same destination), in sorted order.
func MergeImageVolumes(user []MountSpec, imageVolumes []string) []MountSpec {
	out := append([]MountSpec(nil), user...)
	taken := make(map[string]bool, len(user))
	for _, u := range user {
		taken[filepath.Clean(u.Destination)] = true
	}
	paths := make([]string, 0, len(imageVolumes))
	for _, p := range imageVolumes {
		p = filepath.Join("/", p)
		if p == "/" || taken[p] {
			continue
		}
		taken[p] = true
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		out = append(out, MountSpec{Type: TypeVolume, Destination: p})
	}
	return out
}

// Options returns the OCI mount options of the spec: for bind and volume
// mounts rbind, ro|rw and the propagation; for tmpfs Docker's defaults
// (noexec, nosuid, nodev, unless the user asked otherwise), the user's
// options, ro|rw and rprivate.
func (m MountSpec) Options() []string {
	rw := "rw"
	if m.ReadOnly {
		rw = "ro"
	}
	if m.Type == TypeTmpfs {
		given := map[string]bool{}
		for _, o := range m.TmpfsOptions {
			given[o] = true
		}
		var out []string
		for _, d := range [][2]string{{"noexec", "exec"}, {"nosuid", "suid"}, {"nodev", "dev"}} {
			if !given[d[0]] && !given[d[1]] {
				out = append(out, d[0])
			}
		}
		out = append(out, m.TmpfsOptions...)
		return append(out, rw, DefaultPropagation)
	}
	prop := m.Propagation
	if prop == "" {
		prop = DefaultPropagation
	}
	return []string{"rbind", rw, prop}
}

// EnsureBindSource checks the host side of a bind mount before a container
// is created: a missing path is created as a directory when the spec came
// from -v (CreateSource), and is an error otherwise (--mount), as in Docker.
// Other mount types are left alone.
func EnsureBindSource(m MountSpec) error {
	if m.Type != TypeBind {
		return nil
	}
	_, err := os.Stat(m.Source)
	switch {
	case err == nil:
		return nil
	case !errors.Is(err, os.ErrNotExist):
		return fmt.Errorf("invalid mount config for type \"bind\": %w", err)
	case !m.CreateSource:
		return fmt.Errorf("invalid mount config for type \"bind\": bind source path does not exist: %s", m.Source)
	}
	if err := os.MkdirAll(m.Source, 0o755); err != nil {
		return fmt.Errorf("create bind source %s: %w", m.Source, err)
	}
	return nil
}
