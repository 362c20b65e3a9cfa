package seccompcache

import (
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"

	"github.com/opencontainers/runc/libcontainer/configs"
	"github.com/opencontainers/runc/libcontainer/specconv"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// maxProfiles bounds a Cache: each distinct profile (Docker's default
// differs with the capabilities a container gets) takes ~10 KB.
const maxProfiles = 64

// Cache holds the filter files of the seccomp profiles a daemon has run
// containers with, by the profile's JSON.
type Cache struct {
	mu    sync.Mutex
	files map[[sha256.Size]byte][]byte
}

// File returns the filter file for a container whose spec has profile p,
// compiling it the first time p is seen.
func (c *Cache) File(p *specs.LinuxSeccomp) ([]byte, error) {
	j, err := json.Marshal(p)
	if err != nil {
		return nil, fmt.Errorf("seccomp profile: %w", err)
	}
	id := sha256.Sum256(j)
	c.mu.Lock()
	f, ok := c.files[id]
	c.mu.Unlock()
	if ok {
		return f, nil
	}
	// The configuration as the shim will build it: from the spec's JSON.
	var rt specs.LinuxSeccomp
	if err := json.Unmarshal(j, &rt); err != nil {
		return nil, fmt.Errorf("seccomp profile: %w", err)
	}
	cfg, err := specconv.SetupSeccomp(&rt)
	if err != nil {
		return nil, err
	}
	prog, err := Compile(cfg)
	if err != nil {
		return nil, err
	}
	k, err := KeyOf(cfg)
	if err != nil {
		return nil, err
	}
	f = Encode(k, prog)
	c.mu.Lock()
	if c.files == nil || len(c.files) >= maxProfiles {
		c.files = make(map[[sha256.Size]byte][]byte)
	}
	c.files[id] = f
	c.mu.Unlock()
	return f, nil
}

// Verify keeps bundle's filter file only if it was compiled for cfg, the
// configuration the container's init will get; otherwise it removes it,
// and the init compiles its filter itself. It returns why a file was
// removed.
func Verify(bundle string, cfg *configs.Seccomp) error {
	path := filepath.Join(bundle, FileName)
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err == nil {
		err = verify(b, cfg)
		if err == nil {
			return nil
		}
	}
	if rmErr := os.Remove(path); rmErr != nil && !errors.Is(rmErr, fs.ErrNotExist) {
		return errors.Join(err, rmErr)
	}
	return err
}

func verify(b []byte, cfg *configs.Seccomp) error {
	if cfg == nil {
		return errors.New("compiled seccomp filter for a container without one")
	}
	k, _, err := Decode(b)
	if err != nil {
		return err
	}
	want, err := KeyOf(cfg)
	if err != nil {
		return err
	}
	if k != want {
		return errors.New("compiled seccomp filter made for another configuration")
	}
	return nil
}

// ArmFromBundle arms the compiled filter of the container whose init this
// process is (see Arm). It is for libcontainer's standard init only, run
// with its working directory at <bundle>/rootfs, before the rootfs is
// pivoted into: an exec's init has already joined the container's mount
// namespace, where a file by that name would be the container's own.
// Without a valid file it does nothing, and libcontainer compiles.
func ArmFromBundle() {
	if os.Getenv("_LIBCONTAINER_INITTYPE") != "standard" {
		return
	}
	wd, err := os.Getwd()
	if err != nil || filepath.Base(wd) != "rootfs" {
		return
	}
	b, err := os.ReadFile(filepath.Join(filepath.Dir(wd), FileName))
	if err != nil {
		return
	}
	if _, prog, err := Decode(b); err == nil {
		Arm(prog)
	}
}
