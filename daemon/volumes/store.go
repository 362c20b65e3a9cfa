package volumes

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/sirupsen/logrus"
	bolt "go.etcd.io/bbolt"
)

var bucketVolumes = []byte("volumes") // name -> record (JSON)

// Errors callers may test with errors.Is.
var (
	ErrNotFound = errors.New("no such volume")
	ErrInUse    = errors.New("volume is in use")
)

const (
	dataDir      = "_data"
	trashPrefix  = ".trash-"
	copyupPrefix = ".copyup-"
	driverLocal  = "local"
)

// Volume is a named or anonymous local volume.
type Volume struct {
	Name       string            `json:"Name"`
	Driver     string            `json:"Driver"`
	Mountpoint string            `json:"Mountpoint"` // host path of the data directory
	CreatedAt  time.Time         `json:"CreatedAt"`
	Labels     map[string]string `json:"Labels"`
	Scope      string            `json:"Scope"`
	Anonymous  bool              `json:"Anonymous"`
}

// Path returns the host path of the volume's data (<root>/<name>/_data).
func (v Volume) Path() string { return v.Mountpoint }

type record struct {
	Name      string            `json:"name"`
	Driver    string            `json:"driver"`
	CreatedAt time.Time         `json:"created"`
	Labels    map[string]string `json:"labels,omitempty"`
	Anonymous bool              `json:"anonymous,omitempty"`
}

// Store keeps the volumes: directories <root>/<name>/_data and their
// metadata in the bucket "volumes" of the daemon's bbolt file. Safe for
// concurrent use.
//
// Crash safety: Create makes the directory before the record, Remove drops
// the record, renames the directory to <root>/.trash-* and then deletes it.
// NewStore deletes trash and interrupted copy-ups, adopts a volume directory
// that has no record (a Create or Remove cut short: the data is kept, never
// guessed away), and recreates the directory of a record that lost it.
type Store struct {
	root string
	db   *bolt.DB
	mu   sync.Mutex
}

// NewStore opens the volume store rooted at root (e.g. <data-root>/volumes)
// and reconciles it with the metadata.
func NewStore(root string, db *bolt.DB) (*Store, error) {
	if err := os.MkdirAll(root, 0o700); err != nil {
		return nil, err
	}
	if err := db.Update(func(tx *bolt.Tx) error {
		_, err := tx.CreateBucketIfNotExists(bucketVolumes)
		return err
	}); err != nil {
		return nil, fmt.Errorf("volumes: %w", err)
	}
	s := &Store{root: root, db: db}
	if err := s.reconcile(); err != nil {
		return nil, fmt.Errorf("volumes: %w", err)
	}
	return s, nil
}

// Root returns the directory holding the volumes.
func (s *Store) Root() string { return s.root }

var anonNameRE = regexp.MustCompile(`^[0-9a-f]{64}$`)

func (s *Store) reconcile() error {
	entries, err := os.ReadDir(s.root)
	if err != nil {
		return err
	}
	known := map[string]bool{}
	if err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketVolumes).ForEach(func(k, _ []byte) error {
			known[string(k)] = true
			return nil
		})
	}); err != nil {
		return err
	}
	for _, e := range entries {
		name := e.Name()
		p := filepath.Join(s.root, name)
		if strings.HasPrefix(name, trashPrefix) {
			logrus.WithField("path", p).Info("volumes: removing leftover of an interrupted volume removal")
			if err := os.RemoveAll(p); err != nil {
				return err
			}
			continue
		}
		if !e.IsDir() || ValidName(name) != nil {
			continue
		}
		if err := removeCopyupLeftovers(p); err != nil {
			return err
		}
		if known[name] {
			continue
		}
		fi, err := os.Stat(filepath.Join(p, dataDir))
		if err != nil || !fi.IsDir() {
			continue
		}
		logrus.WithField("volume", name).Warn("volumes: adopting a volume directory with no metadata")
		rec := record{Name: name, Driver: driverLocal, CreatedAt: fi.ModTime().UTC(), Anonymous: anonNameRE.MatchString(name)}
		if err := s.put(rec); err != nil {
			return err
		}
		known[name] = true
	}
	for name := range known {
		d := filepath.Join(s.root, name, dataDir)
		if _, err := os.Stat(d); errors.Is(err, os.ErrNotExist) {
			logrus.WithField("volume", name).Warn("volumes: data directory missing, recreating it empty")
			if err := os.MkdirAll(d, 0o755); err != nil {
				return err
			}
		}
	}
	return nil
}

func removeCopyupLeftovers(volDir string) error {
	entries, err := os.ReadDir(volDir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), copyupPrefix) {
			if err := os.RemoveAll(filepath.Join(volDir, e.Name())); err != nil {
				return err
			}
		}
	}
	return nil
}

func (s *Store) put(rec record) error {
	b, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	return s.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketVolumes).Put([]byte(rec.Name), b)
	})
}

func (s *Store) volume(rec record) Volume {
	labels := rec.Labels
	if labels == nil {
		labels = map[string]string{}
	}
	return Volume{
		Name:       rec.Name,
		Driver:     rec.Driver,
		Mountpoint: filepath.Join(s.root, rec.Name, dataDir),
		CreatedAt:  rec.CreatedAt,
		Labels:     labels,
		Scope:      "local",
		Anonymous:  rec.Anonymous,
	}
}

func (s *Store) get(name string) (Volume, error) {
	var rec record
	found := false
	err := s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketVolumes).Get([]byte(name))
		if b == nil {
			return nil
		}
		found = true
		return json.Unmarshal(b, &rec)
	})
	if err != nil {
		return Volume{}, err
	}
	if !found {
		return Volume{}, fmt.Errorf("get %s: %w", name, ErrNotFound)
	}
	return s.volume(rec), nil
}

// Create makes a volume. name "" makes an anonymous volume with a random
// 64-hex name. Creating a name that exists returns the existing volume
// unchanged (Docker's behaviour).
func (s *Store) Create(name string, labels map[string]string) (Volume, error) {
	anonymous := name == ""
	if anonymous {
		var b [32]byte
		if _, err := rand.Read(b[:]); err != nil {
			return Volume{}, err
		}
		name = hex.EncodeToString(b[:])
	} else if err := ValidName(name); err != nil {
		return Volume{}, fmt.Errorf("create %s: %w", name, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if v, err := s.get(name); err == nil {
		return v, nil
	} else if !errors.Is(err, ErrNotFound) {
		return Volume{}, err
	}
	dir := filepath.Join(s.root, name)
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, os.ErrExist) {
		return Volume{}, fmt.Errorf("create %s: %w", name, err)
	}
	if err := os.Mkdir(filepath.Join(dir, dataDir), 0o755); err != nil && !errors.Is(err, os.ErrExist) {
		return Volume{}, fmt.Errorf("create %s: %w", name, err)
	}
	var l map[string]string
	if len(labels) > 0 {
		l = make(map[string]string, len(labels))
		for k, v := range labels {
			l[k] = v
		}
	}
	rec := record{Name: name, Driver: driverLocal, CreatedAt: time.Now().UTC().Truncate(time.Second), Labels: l, Anonymous: anonymous}
	if err := s.put(rec); err != nil {
		_ = os.RemoveAll(dir)
		return Volume{}, fmt.Errorf("create %s: %w", name, err)
	}
	return s.volume(rec), nil
}

// Get returns a volume; a missing one gives an error wrapping ErrNotFound
// ("get NAME: no such volume").
func (s *Store) Get(name string) (Volume, error) {
	return s.get(name)
}

// List returns every volume, sorted by name.
func (s *Store) List() ([]Volume, error) {
	var out []Volume
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketVolumes).ForEach(func(k, v []byte) error {
			var rec record
			if err := json.Unmarshal(v, &rec); err != nil {
				return fmt.Errorf("volume %s: %w", k, err)
			}
			out = append(out, s.volume(rec))
			return nil
		})
	})
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, err
}

// Remove deletes a volume and its data. usedBy (may be nil) returns the
// names of the containers using the volume; a volume in use is refused:
// "remove data: volume is in use - [web]" (wraps ErrInUse).
func (s *Store) Remove(name string, usedBy func(name string) []string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := s.get(name); err != nil {
		return err
	}
	return s.removeLocked(name, usedBy)
}

func (s *Store) removeLocked(name string, usedBy func(string) []string) error {
	if usedBy != nil {
		if users := usedBy(name); len(users) > 0 {
			return fmt.Errorf("remove %s: %w - [%s]", name, ErrInUse, strings.Join(users, ", "))
		}
	}
	var saved []byte
	if err := s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketVolumes)
		saved = append([]byte(nil), b.Get([]byte(name))...)
		return b.Delete([]byte(name))
	}); err != nil {
		return fmt.Errorf("remove %s: %w", name, err)
	}
	dir := filepath.Join(s.root, name)
	trash := filepath.Join(s.root, fmt.Sprintf("%s%s-%d", trashPrefix, name, time.Now().UnixNano()))
	if err := os.Rename(dir, trash); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		// Put the record back: the volume is still whole.
		_ = s.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketVolumes).Put([]byte(name), saved) })
		return fmt.Errorf("remove %s: %w", name, err)
	}
	if err := os.RemoveAll(trash); err != nil {
		// The record is gone; the next start finishes the removal.
		return fmt.Errorf("remove %s: %w", name, err)
	}
	return nil
}

// Prune removes the volumes no container uses: anonymous ones only (Docker's
// default since 23.0), or named ones too when all is set. It returns the
// names removed and the bytes reclaimed.
func (s *Store) Prune(usedBy func(name string) []string, all bool) ([]string, uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	vols, err := s.List()
	if err != nil {
		return nil, 0, err
	}
	var removed []string
	var reclaimed uint64
	for _, v := range vols {
		if !v.Anonymous && !all {
			continue
		}
		if usedBy != nil && len(usedBy(v.Name)) > 0 {
			continue
		}
		size, _ := DiskUsage(v.Path())
		if err := s.removeLocked(v.Name, nil); err != nil {
			return removed, reclaimed, err
		}
		removed = append(removed, v.Name)
		reclaimed += size
	}
	return removed, reclaimed, nil
}

// DiskUsage returns the bytes used by the files under dir, counting
// hardlinked files once (for `ctr volume prune`, `ctr system df`).
func DiskUsage(dir string) (uint64, error) {
	type key struct{ dev, ino uint64 }
	seen := map[key]bool{}
	var total uint64
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				return nil
			}
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return nil
		}
		st, ok := fi.Sys().(*syscall.Stat_t)
		if !ok {
			total += uint64(fi.Size())
			return nil
		}
		k := key{uint64(st.Dev), st.Ino}
		if seen[k] {
			return nil
		}
		seen[k] = true
		total += uint64(st.Blocks) * 512
		return nil
	})
	return total, err
}
