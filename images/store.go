// Package images keeps the images of one ctrd: their configs and manifests in
// the content store, their layers as overlay snapshots keyed by chain ID, and
// their names in the metadata database. It implements import, tag, remove,
// history and garbage collection; commit, build, push and pull build on it.
package images

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/ctrd/ctrd/api/errdefs"
	"github.com/ctrd/ctrd/images/content"
	"github.com/ctrd/ctrd/images/reference"
	"github.com/ctrd/ctrd/images/snapshot"
	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
	"github.com/opencontainers/go-digest"
	"github.com/opencontainers/image-spec/identity"
	bolt "go.etcd.io/bbolt"
)

var (
	bucketImages = []byte("images") // image ID -> Image (JSON)
	bucketRefs   = []byte("refs")   // full reference -> image ID
	bucketLayers = []byte("layers") // diff ID -> Layer (JSON)
)

// Image is the metadata record of one image. Its ID is the digest of its
// config, as Docker's.
type Image struct {
	ID       digest.Digest `json:"id"`
	Manifest digest.Digest `json:"manifest"`
	// Parent is the image this one was built or committed on, if local.
	Parent  digest.Digest `json:"parent,omitempty"`
	Created time.Time     `json:"created"`
	Size    int64         `json:"size"`
	// Tagged records the last time a name was given to the image.
	Tagged time.Time `json:"tagged,omitempty"`
}

// Layer is one layer: its blob in the content store and the snapshot its
// contents are unpacked into, named by the chain ID of the layers up to it
// (made on first use for layers stored by StoreLayer).
type Layer struct {
	DiffID    digest.Digest `json:"diffID"`
	Blob      digest.Digest `json:"blob"`
	MediaType string        `json:"mediaType"`
	BlobSize  int64         `json:"blobSize"`
	// Size is the unpacked size (bytes of file content and headers).
	Size int64 `json:"size"`
}

// ImageConfig is Docker's image config document: OCI's with Docker's
// container-config extensions and the top-level comment.
type ImageConfig struct {
	dockerspec.DockerOCIImage
	Comment string `json:"comment,omitempty"`
}

// InUseFunc reports a container that uses image id, or "" if none does.
type InUseFunc func(id digest.Digest) string

// Store is the image store of one daemon.
type Store struct {
	db       *bolt.DB
	content  *content.Store
	snapshot *snapshot.Overlay

	// mu serialises changes of the image graph with garbage collection,
	// so a collection never sees a blob or snapshot that is written but not
	// yet referenced.
	mu sync.Mutex
	// pending counts blobs of layers written but not yet registered (or
	// discarded); collection keeps them. Guarded by mu.
	pending map[digest.Digest]int
	// unpackMu serialises unpacks of stored layers (EnsureUnpacked).
	unpackMu sync.Mutex

	inUse InUseFunc
}

// New opens the image store on an open database.
func New(db *bolt.DB, cs *content.Store, sn *snapshot.Overlay) (*Store, error) {
	err := db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketImages, bucketRefs, bucketLayers} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("images: init metadata: %w", err)
	}
	return &Store{db: db, content: cs, snapshot: sn, pending: map[digest.Digest]int{}}, nil
}

// SetInUse installs the check that keeps images of containers from removal.
func (s *Store) SetInUse(f InUseFunc) { s.inUse = f }

// Content is the content store the images live in.
func (s *Store) Content() *content.Store { return s.content }

// Snapshotter is the snapshotter holding the unpacked layers.
func (s *Store) Snapshotter() *snapshot.Overlay { return s.snapshot }

// Resolve finds an image by reference, full ID or unique ID prefix, the way
// Docker does: a name that parses as a reference is looked up as one first.
func (s *Store) Resolve(name string) (Image, error) {
	var img Image
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		img, err = resolve(tx, name)
		return err
	})
	return img, err
}

func resolve(tx *bolt.Tx, name string) (Image, error) {
	if ref, err := reference.Parse(name); err == nil {
		if id := tx.Bucket(bucketRefs).Get([]byte(ref.String())); id != nil {
			return getImage(tx, digest.Digest(id))
		}
	}
	prefix := strings.TrimPrefix(name, "sha256:")
	if len(prefix) > 0 && len(prefix) <= 64 && isHex(prefix) {
		var found []digest.Digest
		c := tx.Bucket(bucketImages).Cursor()
		p := []byte("sha256:" + prefix)
		for k, _ := c.Seek(p); k != nil && strings.HasPrefix(string(k), string(p)); k, _ = c.Next() {
			found = append(found, digest.Digest(k))
		}
		if len(found) == 1 {
			return getImage(tx, found[0])
		}
		if len(found) > 1 {
			return Image{}, errdefs.InvalidArgument(fmt.Errorf("image ID prefix %q is ambiguous: use more characters", prefix))
		}
	}
	if _, err := reference.Parse(name); err != nil && !isHex(prefix) {
		return Image{}, errdefs.InvalidArgument(err)
	}
	return Image{}, errdefs.NotFound(fmt.Errorf("No such image: %s", name))
}

func getImage(tx *bolt.Tx, id digest.Digest) (Image, error) {
	v := tx.Bucket(bucketImages).Get([]byte(id))
	if v == nil {
		return Image{}, errdefs.NotFound(fmt.Errorf("No such image: %s", id))
	}
	var img Image
	if err := json.Unmarshal(v, &img); err != nil {
		return Image{}, fmt.Errorf("images: corrupt record %s: %w", id, err)
	}
	return img, nil
}

func putImage(tx *bolt.Tx, img Image) error {
	b, err := json.Marshal(img)
	if err != nil {
		return err
	}
	return tx.Bucket(bucketImages).Put([]byte(img.ID), b)
}

func getLayer(tx *bolt.Tx, diffID digest.Digest) (Layer, bool) {
	v := tx.Bucket(bucketLayers).Get([]byte(diffID))
	if v == nil {
		return Layer{}, false
	}
	var l Layer
	if json.Unmarshal(v, &l) != nil {
		return Layer{}, false
	}
	return l, true
}

// Config reads an image's config document.
func (s *Store) Config(img Image) (*ImageConfig, error) {
	b, err := s.content.ReadAll(img.ID)
	if err != nil {
		return nil, fmt.Errorf("image %s: read config: %w", img.ID.Encoded()[:12], err)
	}
	var c ImageConfig
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("image %s: bad config: %w", img.ID.Encoded()[:12], err)
	}
	return &c, nil
}

// ChainID is the snapshot name of an image's top layer ("" for an image
// without layers).
func ChainID(c *ImageConfig) string {
	if len(c.RootFS.DiffIDs) == 0 {
		return ""
	}
	return identity.ChainID(c.RootFS.DiffIDs).String()
}

// Layers returns the layer records of an image, bottom first.
func (s *Store) Layers(c *ImageConfig) ([]Layer, error) {
	var out []Layer
	err := s.db.View(func(tx *bolt.Tx) error {
		for _, d := range c.RootFS.DiffIDs {
			l, ok := getLayer(tx, d)
			if !ok {
				return fmt.Errorf("layer %s is missing from the store", d)
			}
			out = append(out, l)
		}
		return nil
	})
	return out, err
}

// Tags returns the references naming id, sorted.
func (s *Store) Tags(id digest.Digest) ([]string, error) {
	var tags []string
	err := s.db.View(func(tx *bolt.Tx) error {
		tags = tagsOf(tx, id)
		return nil
	})
	return tags, err
}

func tagsOf(tx *bolt.Tx, id digest.Digest) []string {
	var tags []string
	_ = tx.Bucket(bucketRefs).ForEach(func(k, v []byte) error {
		if digest.Digest(v) == id {
			tags = append(tags, string(k))
		}
		return nil
	})
	sort.Strings(tags)
	return tags
}

// Summary is one row of `ctr images`.
type Summary struct {
	Image
	Tags []string
	// Intermediate: untagged and parent of another image (hidden without -a).
	Intermediate bool
}

// List returns every image with its tags.
func (s *Store) List() ([]Summary, error) {
	var out []Summary
	err := s.db.View(func(tx *bolt.Tx) error {
		tags := map[digest.Digest][]string{}
		_ = tx.Bucket(bucketRefs).ForEach(func(k, v []byte) error {
			tags[digest.Digest(v)] = append(tags[digest.Digest(v)], string(k))
			return nil
		})
		parents := map[digest.Digest]bool{}
		var imgs []Image
		err := tx.Bucket(bucketImages).ForEach(func(k, v []byte) error {
			var img Image
			if err := json.Unmarshal(v, &img); err != nil {
				return fmt.Errorf("images: corrupt record %s: %w", k, err)
			}
			imgs = append(imgs, img)
			if img.Parent != "" {
				parents[img.Parent] = true
			}
			return nil
		})
		for _, img := range imgs {
			t := tags[img.ID]
			sort.Strings(t)
			out = append(out, Summary{Image: img, Tags: t, Intermediate: len(t) == 0 && parents[img.ID]})
		}
		return err
	})
	sort.Slice(out, func(i, j int) bool { return out[i].Created.After(out[j].Created) })
	return out, err
}

// Tag names image source as target.
func (s *Store) Tag(source, target string) error {
	ref, err := reference.Parse(target)
	if err != nil {
		return errdefs.InvalidArgument(err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.db.Update(func(tx *bolt.Tx) error {
		img, err := resolve(tx, source)
		if err != nil {
			return err
		}
		return setTag(tx, img, ref)
	})
}

func setTag(tx *bolt.Tx, img Image, ref reference.Named) error {
	if err := tx.Bucket(bucketRefs).Put([]byte(ref.String()), []byte(img.ID)); err != nil {
		return err
	}
	img.Tagged = time.Now().UTC()
	return putImage(tx, img)
}

// RemoveResult lists what Remove did, in Docker's words.
type RemoveResult struct {
	Untagged []string
	Deleted  []string
}

// Remove untags or deletes an image as `docker rmi` does: a name removes that
// name, and the image too once no name is left; an ID deletes the image (with
// force, also when several names point at it). Untagged parents that nothing
// else needs go with it. Blobs and snapshots no image needs are collected.
func (s *Store) Remove(name string, force bool) (RemoveResult, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var res RemoveResult
	err := s.db.Update(func(tx *bolt.Tx) error {
		res = RemoveResult{}
		img, err := resolve(tx, name)
		if err != nil {
			return err
		}
		tags := tagsOf(tx, img.ID)
		byRef := false
		if ref, err := reference.Parse(name); err == nil {
			for _, t := range tags {
				if t == ref.String() {
					byRef = true
					if err := tx.Bucket(bucketRefs).Delete([]byte(t)); err != nil {
						return err
					}
					res.Untagged = append(res.Untagged, ref.Familiar())
				}
			}
		}
		remaining := len(tags)
		if byRef {
			remaining--
			if remaining > 0 {
				return nil
			}
		} else if len(tags) > 1 && !force {
			return errdefs.Conflict(fmt.Errorf("conflict: unable to delete %s (must be forced) - image is referenced in multiple repositories", short(img.ID)))
		}
		if children := childrenOf(tx, img.ID); len(children) > 0 {
			if byRef {
				return nil // untagged; the image stays as the parent of others
			}
			return errdefs.Conflict(fmt.Errorf("conflict: unable to delete %s (cannot be forced) - image has dependent child images", short(img.ID)))
		}
		if s.inUse != nil {
			if c := s.inUse(img.ID); c != "" {
				if !force || !byRef {
					what := short(img.ID)
					if byRef {
						what = fmt.Sprintf("repository reference %q", name)
					}
					return errdefs.Conflict(fmt.Errorf("conflict: unable to remove %s (must force) - container %s is using its referenced image %s", what, short12(c), short(img.ID)))
				}
				return nil // forced untag of an image in use: keep the image
			}
		}
		if !byRef {
			for _, t := range tags {
				if err := tx.Bucket(bucketRefs).Delete([]byte(t)); err != nil {
					return err
				}
				res.Untagged = append(res.Untagged, reference.FamiliarString(t))
			}
		}
		// Delete the image, then each untagged parent nothing else needs.
		for cur := img; ; {
			if err := tx.Bucket(bucketImages).Delete([]byte(cur.ID)); err != nil {
				return err
			}
			res.Deleted = append(res.Deleted, cur.ID.String())
			if cur.Parent == "" {
				break
			}
			parent, err := getImage(tx, cur.Parent)
			if err != nil || len(tagsOf(tx, parent.ID)) > 0 || len(childrenOf(tx, parent.ID)) > 0 {
				break
			}
			if s.inUse != nil && s.inUse(parent.ID) != "" {
				break
			}
			cur = parent
		}
		return nil
	})
	if err != nil {
		return RemoveResult{}, err
	}
	if len(res.Deleted) > 0 {
		if err := s.gcLocked(); err != nil {
			return res, fmt.Errorf("image removed, but cleaning its layers failed: %w", err)
		}
	}
	return res, nil
}

func childrenOf(tx *bolt.Tx, id digest.Digest) []digest.Digest {
	var out []digest.Digest
	_ = tx.Bucket(bucketImages).ForEach(func(k, v []byte) error {
		var img Image
		if json.Unmarshal(v, &img) == nil && img.Parent == id {
			out = append(out, img.ID)
		}
		return nil
	})
	return out
}

// HistoryItem is one row of `ctr history`.
type HistoryItem struct {
	ID        string // image ID of this step or "<missing>"
	Created   time.Time
	CreatedBy string
	Size      int64
	Comment   string
	Tags      []string
}

// History lists an image's history, newest first, as `docker history`.
func (s *Store) History(name string) ([]HistoryItem, error) {
	img, err := s.Resolve(name)
	if err != nil {
		return nil, err
	}
	cfg, err := s.Config(img)
	if err != nil {
		return nil, err
	}
	layers, err := s.Layers(cfg)
	if err != nil {
		return nil, err
	}
	// Local images along the parent chain name the steps they created.
	ids := map[int]Image{}
	var tags map[digest.Digest][]string
	err = s.db.View(func(tx *bolt.Tx) error {
		tags = map[digest.Digest][]string{}
		for cur, ok := img, true; ok; {
			c, err := s.Config(cur)
			if err != nil {
				break
			}
			ids[len(c.History)-1] = cur
			tags[cur.ID] = tagsOf(tx, cur.ID)
			if cur.Parent == "" {
				break
			}
			cur, err = getImage(tx, cur.Parent)
			ok = err == nil
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	var out []HistoryItem
	li := 0
	for i, h := range cfg.History {
		it := HistoryItem{ID: "<missing>", CreatedBy: h.CreatedBy, Comment: h.Comment}
		if h.Created != nil {
			it.Created = *h.Created
		}
		if !h.EmptyLayer && li < len(layers) {
			it.Size = layers[li].Size
			li++
		}
		if im, ok := ids[i]; ok {
			it.ID = im.ID.String()
			for _, t := range tags[im.ID] {
				it.Tags = append(it.Tags, reference.FamiliarString(t))
			}
		}
		out = append(out, it)
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out, nil
}

// Count returns the number of images.
func (s *Store) Count() int {
	n := 0
	_ = s.db.View(func(tx *bolt.Tx) error {
		n = tx.Bucket(bucketImages).Stats().KeyN
		return nil
	})
	return n
}

func short(id digest.Digest) string { return short12(id.Encoded()) }

func short12(s string) string {
	s = strings.TrimPrefix(s, "sha256:")
	if len(s) > 12 {
		return s[:12]
	}
	return s
}

func isHex(s string) bool {
	if s == "" {
		return false
	}
	_, err := hex.DecodeString(s + strings.Repeat("0", len(s)%2))
	return err == nil && strings.ToLower(s) == s
}

func (s *Store) lease(d digest.Digest) {
	s.mu.Lock()
	s.pending[d]++
	s.mu.Unlock()
}

// release drops a lease.
func (s *Store) release(d digest.Digest) {
	s.mu.Lock()
	s.releaseLocked(d)
	s.mu.Unlock()
}

// releaseLocked drops a lease taken by WriteLayer.
func (s *Store) releaseLocked(d digest.Digest) {
	if s.pending[d]--; s.pending[d] <= 0 {
		delete(s.pending, d)
	}
}
