package snapshot

import (
	"encoding/binary"
	"fmt"
	"maps"
	"time"

	bolt "go.etcd.io/bbolt"
)

// bbolt layout, all under the top-level bucket "snapshots":
//
//	snapshots/                 (its NextSequence allocates snapshot ids)
//	  version     = "1"
//	  keys/<name>/             one bucket per snapshot
//	    id        = uint64 big endian
//	    kind      = 1 byte (Kind)
//	    parent    = parent name (absent when none)
//	    created   = time.MarshalBinary
//	    labels/<k> = <v>
//	    children/<child name> = ""   (reverse index used by Remove)
//	  ids/<uint64 BE> = <name>        (used by Cleanup to match directories)
var (
	bktRoot     = []byte("snapshots")
	bktKeys     = []byte("keys")
	bktIDs      = []byte("ids")
	bktLabels   = []byte("labels")
	bktChildren = []byte("children")
	keyVersion  = []byte("version")
	keyID       = []byte("id")
	keyKind     = []byte("kind")
	keyParent   = []byte("parent")
	keyCreated  = []byte("created")
)

const schemaVersion = "1"

// record is one snapshot's metadata.
type record struct {
	name    string
	id      uint64
	kind    Kind
	parent  string
	created time.Time
	labels  map[string]string
}

func (r *record) info() Info {
	return Info{Name: r.name, Parent: r.parent, Kind: r.kind, Created: r.created, Labels: maps.Clone(r.labels)}
}

func initBuckets(tx *bolt.Tx) error {
	root, err := tx.CreateBucketIfNotExists(bktRoot)
	if err != nil {
		return err
	}
	if v := root.Get(keyVersion); v == nil {
		if err := root.Put(keyVersion, []byte(schemaVersion)); err != nil {
			return err
		}
	} else if string(v) != schemaVersion {
		return fmt.Errorf("snapshot: unsupported metadata version %q", v)
	}
	if _, err := root.CreateBucketIfNotExists(bktKeys); err != nil {
		return err
	}
	_, err = root.CreateBucketIfNotExists(bktIDs)
	return err
}

// buckets returns the root, keys and ids buckets (created by NewOverlay).
func buckets(tx *bolt.Tx) (root, keys, ids *bolt.Bucket, err error) {
	root = tx.Bucket(bktRoot)
	if root == nil {
		return nil, nil, nil, fmt.Errorf("snapshot: metadata bucket %q missing", bktRoot)
	}
	keys, ids = root.Bucket(bktKeys), root.Bucket(bktIDs)
	if keys == nil || ids == nil {
		return nil, nil, nil, fmt.Errorf("snapshot: metadata bucket %q is incomplete", bktRoot)
	}
	return root, keys, ids, nil
}

func idKey(id uint64) []byte {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], id)
	return b[:]
}

func notFound(name string) error { return fmt.Errorf("snapshot %q: %w", name, ErrNotFound) }

// readRecord decodes the record of name, or returns an ErrNotFound error.
func readRecord(keys *bolt.Bucket, name string) (*record, error) {
	b := keys.Bucket([]byte(name))
	if b == nil {
		return nil, notFound(name)
	}
	return decodeRecord(name, b)
}

func decodeRecord(name string, b *bolt.Bucket) (*record, error) {
	r := &record{name: name}
	id, kind := b.Get(keyID), b.Get(keyKind)
	if len(id) != 8 || len(kind) != 1 {
		return nil, fmt.Errorf("snapshot %q: corrupt metadata record", name)
	}
	r.id = binary.BigEndian.Uint64(id)
	r.kind = Kind(kind[0])
	r.parent = string(b.Get(keyParent))
	if c := b.Get(keyCreated); c != nil {
		if err := r.created.UnmarshalBinary(c); err != nil {
			return nil, fmt.Errorf("snapshot %q: corrupt creation time: %w", name, err)
		}
	}
	if lb := b.Bucket(bktLabels); lb != nil {
		r.labels = map[string]string{}
		lb.ForEach(func(k, v []byte) error {
			r.labels[string(k)] = string(v)
			return nil
		})
	}
	return r, nil
}

// writeRecord creates the bucket of r (which must not exist) and, when
// children is non-nil, fills its children index.
func writeRecord(keys *bolt.Bucket, r *record, children []string) error {
	b, err := keys.CreateBucket([]byte(r.name))
	if err != nil {
		if err == bolt.ErrBucketExists {
			return fmt.Errorf("snapshot %q: %w", r.name, ErrExists)
		}
		return fmt.Errorf("snapshot %q: %w", r.name, err)
	}
	created, err := r.created.MarshalBinary()
	if err != nil {
		return err
	}
	if err := b.Put(keyID, idKey(r.id)); err != nil {
		return err
	}
	if err := b.Put(keyKind, []byte{byte(r.kind)}); err != nil {
		return err
	}
	if r.parent != "" {
		if err := b.Put(keyParent, []byte(r.parent)); err != nil {
			return err
		}
	}
	if err := b.Put(keyCreated, created); err != nil {
		return err
	}
	if len(r.labels) > 0 {
		lb, err := b.CreateBucket(bktLabels)
		if err != nil {
			return err
		}
		for k, v := range r.labels {
			if err := lb.Put([]byte(k), []byte(v)); err != nil {
				return fmt.Errorf("snapshot %q: label %q: %w", r.name, k, err)
			}
		}
	}
	cb, err := b.CreateBucket(bktChildren)
	if err != nil {
		return err
	}
	for _, c := range children {
		if err := cb.Put([]byte(c), nil); err != nil {
			return err
		}
	}
	return nil
}

// childrenOf lists the children index of name.
func childrenOf(keys *bolt.Bucket, name string) []string {
	var out []string
	if b := keys.Bucket([]byte(name)); b != nil {
		if cb := b.Bucket(bktChildren); cb != nil {
			cb.ForEach(func(k, _ []byte) error {
				out = append(out, string(k))
				return nil
			})
		}
	}
	return out
}

// setChild adds (add=true) or removes child from parent's children index.
func setChild(keys *bolt.Bucket, parent, child string, add bool) error {
	b := keys.Bucket([]byte(parent))
	if b == nil {
		if add {
			return notFound(parent)
		}
		return nil
	}
	cb, err := b.CreateBucketIfNotExists(bktChildren)
	if err != nil {
		return err
	}
	if add {
		return cb.Put([]byte(child), nil)
	}
	return cb.Delete([]byte(child))
}

// maxDepth bounds parent-chain walks so a corrupt (cyclic) database cannot
// loop forever. overlayfs itself stacks at most 500 lower layers.
const maxDepth = 500

// chain returns the records of r's ancestors, nearest parent first.
func chain(keys *bolt.Bucket, r *record) ([]*record, error) {
	var out []*record
	for p := r.parent; p != ""; {
		if len(out) >= maxDepth {
			return nil, fmt.Errorf("snapshot %q: parent chain deeper than %d (corrupt metadata?)", r.name, maxDepth)
		}
		pr, err := readRecord(keys, p)
		if err != nil {
			return nil, fmt.Errorf("snapshot %q: parent: %w", r.name, err)
		}
		out = append(out, pr)
		p = pr.parent
	}
	return out, nil
}
