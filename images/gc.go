package images

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/ctrd/ctrd/images/snapshot"
	"github.com/opencontainers/go-digest"
	"github.com/opencontainers/image-spec/identity"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/sirupsen/logrus"
	bolt "go.etcd.io/bbolt"
)

// GC removes blobs, layer records and committed snapshots that no image
// needs, and active snapshots left by an unpack a crash interrupted. It runs
// at daemon start and after image removal.
func (s *Store) GC() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.gcLocked()
}

// CleanupStale removes unpack snapshots of an earlier daemon life. Call only
// at start, before anything can unpack.
func (s *Store) CleanupStale() error {
	var stale []string
	err := s.snapshot.Walk(func(i snapshot.Info) error {
		if i.Kind == snapshot.KindActive && strings.HasPrefix(i.Name, extractPrefix) {
			stale = append(stale, i.Name)
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, k := range stale {
		logrus.WithField("snapshot", k).Info("removing interrupted layer unpack")
		if err := s.snapshot.Remove(k); err != nil {
			return err
		}
	}
	return nil
}

func (s *Store) gcLocked() error {
	blobs := map[digest.Digest]bool{}
	chains := map[string]bool{}
	diffIDs := map[digest.Digest]bool{}
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketImages).ForEach(func(k, v []byte) error {
			var img Image
			if err := json.Unmarshal(v, &img); err != nil {
				return err
			}
			blobs[img.ID] = true
			blobs[img.Manifest] = true
			if b, err := s.content.ReadAll(img.Manifest); err == nil {
				var m ocispec.Manifest
				if json.Unmarshal(b, &m) == nil {
					for _, l := range m.Layers {
						blobs[l.Digest] = true
					}
				}
			}
			cfg, err := s.Config(img)
			if err != nil {
				logrus.WithError(err).WithField("image", img.ID).Warn("gc: unreadable image config")
				return nil
			}
			ids := cfg.RootFS.DiffIDs
			for i := range ids {
				diffIDs[ids[i]] = true
				chains[identity.ChainID(ids[:i+1]).String()] = true
			}
			return nil
		})
	})
	if err != nil {
		return fmt.Errorf("gc: scan images: %w", err)
	}

	// Layer records.
	if err := s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketLayers)
		var drop [][]byte
		_ = b.ForEach(func(k, v []byte) error {
			if !diffIDs[digest.Digest(k)] {
				drop = append(drop, append([]byte(nil), k...))
				return nil
			}
			// The blob a layer record names is what its snapshot is
			// unpacked from: it stays while the record does, even when
			// the image that brought it is gone and another image has
			// the same layer as a different blob (gzip and plain).
			var l Layer
			if json.Unmarshal(v, &l) == nil && l.Blob != "" {
				blobs[l.Blob] = true
			}
			return nil
		})
		for _, k := range drop {
			if err := b.Delete(k); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		return fmt.Errorf("gc: layers: %w", err)
	}

	// Blobs.
	var dropBlobs []digest.Digest
	if err := s.content.Walk(func(d digest.Digest, _ int64) error {
		if !blobs[d] && s.pending[d] == 0 {
			dropBlobs = append(dropBlobs, d)
		}
		return nil
	}); err != nil {
		return fmt.Errorf("gc: walk blobs: %w", err)
	}
	for _, d := range dropBlobs {
		if err := s.content.Delete(d); err != nil {
			return fmt.Errorf("gc: delete blob: %w", err)
		}
	}

	// Committed snapshots no image names. Children go before parents, so
	// repeat while progress is made; a snapshot still under a container's
	// writable layer is refused by the snapshotter and stays.
	for {
		var drop []string
		if err := s.snapshot.Walk(func(i snapshot.Info) error {
			if i.Kind == snapshot.KindCommitted && !chains[i.Name] {
				drop = append(drop, i.Name)
			}
			return nil
		}); err != nil {
			return fmt.Errorf("gc: walk snapshots: %w", err)
		}
		removed := 0
		for _, k := range drop {
			if err := s.snapshot.Remove(k); err == nil {
				removed++
			}
		}
		if removed == 0 {
			break
		}
	}
	return nil
}
