package images

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/ctrd/ctrd/api/errdefs"
	"github.com/ctrd/ctrd/images/archive"
	"github.com/ctrd/ctrd/images/reference"
	"github.com/ctrd/ctrd/images/snapshot"
	"github.com/opencontainers/go-digest"
	"github.com/opencontainers/image-spec/identity"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	bolt "go.etcd.io/bbolt"
)

// extractPrefix names active snapshots that layers are being unpacked into;
// any left at daemon start are crash leftovers.
const extractPrefix = "extract-"

// PendingLayer is a layer whose blob is in the content store and whose
// contents are unpacked into an active snapshot, not yet part of an image.
type PendingLayer struct {
	Layer
	key string // active snapshot holding the unpacked contents
}

// Discard drops a pending layer that will not be registered.
func (s *Store) Discard(p PendingLayer) {
	if p.key != "" {
		_ = s.snapshot.Remove(p.key)
	}
	s.mu.Lock()
	s.releaseLocked(p.Blob)
	s.mu.Unlock()
}

// WriteLayer stores a layer tarball (plain or compressed, detected by its
// content) and unpacks it on top of the snapshot parentChain ("" for a base
// layer). Gzip and zstd input is stored as it came, other compressions are
// stored decompressed, as OCI media types know only those. The input is
// streamed: memory use does not grow with its size.
func (s *Store) WriteLayer(ctx context.Context, parentChain string, in io.Reader) (_ PendingLayer, retErr error) {
	br := bufio.NewReaderSize(in, 1<<20)
	head, err := br.Peek(512)
	if len(head) == 0 {
		if err == nil || errors.Is(err, io.EOF) {
			return PendingLayer{}, errdefs.InvalidArgument(errors.New("empty input: expected a tar archive (plain, gzip, bzip2, xz or zstd)"))
		}
		return PendingLayer{}, fmt.Errorf("read input: %w", err)
	}
	comp := archive.DetectCompression(head)

	w, err := s.content.Writer()
	if err != nil {
		return PendingLayer{}, err
	}
	defer w.Close()

	var (
		tarStream io.Reader
		dec       io.ReadCloser
		mediaType           = ocispec.MediaTypeImageLayer
		raw       io.Reader = br
	)
	switch comp {
	case archive.Gzip, archive.Zstd:
		// Keep the compressed bytes as the blob.
		raw = io.TeeReader(br, w)
		dec, _, err = archive.DecompressStream(raw)
		tarStream = dec
		mediaType = ocispec.MediaTypeImageLayerGzip
		if comp == archive.Zstd {
			mediaType = ocispec.MediaTypeImageLayerZstd
		}
	default:
		dec, _, err = archive.DecompressStream(br)
		tarStream = io.TeeReader(dec, w)
	}
	if err != nil {
		return PendingLayer{}, errdefs.InvalidArgument(fmt.Errorf("cannot read %s input: %w", comp, err))
	}
	defer dec.Close()
	diff := digest.SHA256.Digester()
	tarStream = io.TeeReader(tarStream, diff.Hash())

	key := extractPrefix + randomID()
	if _, err := s.snapshot.Prepare(key, parentChain, nil); err != nil {
		return PendingLayer{}, fmt.Errorf("prepare snapshot: %w", err)
	}
	defer func() {
		if retErr != nil {
			_ = s.snapshot.Remove(key)
		}
	}()
	upper, err := s.snapshot.UpperDir(key)
	if err != nil {
		return PendingLayer{}, err
	}
	size, err := archive.Apply(ctx, upper, tarStream)
	if err != nil {
		if errors.Is(err, archive.ErrUnsafePath) || !isIOError(err) {
			return PendingLayer{}, errdefs.InvalidArgument(fmt.Errorf("invalid %s archive: %w", comp, err))
		}
		return PendingLayer{}, err
	}
	// Read what follows the end-of-archive marker so the digests cover the
	// whole input.
	if _, err := io.Copy(io.Discard, tarStream); err != nil {
		return PendingLayer{}, errdefs.InvalidArgument(fmt.Errorf("invalid %s archive: %w", comp, err))
	}
	if raw != io.Reader(br) {
		if _, err := io.Copy(io.Discard, raw); err != nil {
			return PendingLayer{}, fmt.Errorf("read input: %w", err)
		}
	}
	if err := archive.Sync(upper); err != nil {
		return PendingLayer{}, fmt.Errorf("sync layer: %w", err)
	}
	blobSize := w.Size()
	// Lease the blob before it becomes visible, so that a collection
	// running before Register does not take it.
	s.lease(w.Digest())
	blob, err := w.Commit("")
	if err != nil {
		s.mu.Lock()
		s.releaseLocked(w.Digest())
		s.mu.Unlock()
		return PendingLayer{}, fmt.Errorf("store layer blob: %w", err)
	}
	return PendingLayer{
		Layer: Layer{DiffID: diff.Digest(), Blob: blob, MediaType: mediaType, BlobSize: blobSize, Size: size},
		key:   key,
	}, nil
}

func isIOError(err error) bool {
	var pe interface{ Timeout() bool }
	return errors.As(err, &pe)
}

// RegisterOptions describes a new image.
type RegisterOptions struct {
	Config *ImageConfig
	// Pending are the layers this image adds on top of Parent's (or of
	// nothing), bottom first; their diff IDs must end Config.RootFS.DiffIDs.
	Pending []PendingLayer
	Parent  digest.Digest
	Refs    []reference.Named
}

// Register stores an image atomically: its pending layers become committed
// snapshots named by chain ID, its config and manifest blobs are written, and
// one transaction records layers, image and names. A crash before that
// transaction leaves only unreferenced blobs and snapshots, which the next
// start collects.
func (s *Store) Register(ctx context.Context, o RegisterOptions) (Image, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cfg := o.Config
	n := len(cfg.RootFS.DiffIDs) - len(o.Pending)
	if n < 0 {
		return Image{}, fmt.Errorf("register: %d pending layers but %d diff IDs", len(o.Pending), len(cfg.RootFS.DiffIDs))
	}
	var all []Layer
	if err := s.db.View(func(tx *bolt.Tx) error {
		for _, d := range cfg.RootFS.DiffIDs[:n] {
			l, ok := getLayer(tx, d)
			if !ok {
				return fmt.Errorf("register: base layer %s is missing", d)
			}
			all = append(all, l)
		}
		return nil
	}); err != nil {
		return Image{}, err
	}
	for i, p := range o.Pending {
		if cfg.RootFS.DiffIDs[n+i] != p.DiffID {
			return Image{}, fmt.Errorf("register: layer %d diff ID mismatch", n+i)
		}
		chain := identity.ChainID(cfg.RootFS.DiffIDs[:n+i+1]).String()
		if err := s.snapshot.Commit(chain, p.key); err != nil {
			if !errors.Is(err, snapshot.ErrExists) {
				return Image{}, fmt.Errorf("commit layer snapshot: %w", err)
			}
			// The same layer on the same parent is already unpacked.
			_ = s.snapshot.Remove(p.key)
		}
		all = append(all, p.Layer)
	}

	cfgBytes, err := json.Marshal(cfg)
	if err != nil {
		return Image{}, err
	}
	id, err := s.content.Put(cfgBytes, "")
	if err != nil {
		return Image{}, fmt.Errorf("store image config: %w", err)
	}
	man := ocispec.Manifest{
		MediaType: ocispec.MediaTypeImageManifest,
		Config:    ocispec.Descriptor{MediaType: ocispec.MediaTypeImageConfig, Digest: id, Size: int64(len(cfgBytes))},
	}
	man.SchemaVersion = 2
	var size int64
	for _, l := range all {
		man.Layers = append(man.Layers, ocispec.Descriptor{MediaType: l.MediaType, Digest: l.Blob, Size: l.BlobSize})
		size += l.Size
	}
	manBytes, err := json.Marshal(man)
	if err != nil {
		return Image{}, err
	}
	manDigest, err := s.content.Put(manBytes, "")
	if err != nil {
		return Image{}, fmt.Errorf("store image manifest: %w", err)
	}
	img := Image{ID: id, Manifest: manDigest, Parent: o.Parent, Size: size, Created: time.Now().UTC()}
	if cfg.Created != nil {
		img.Created = *cfg.Created
	}
	err = s.db.Update(func(tx *bolt.Tx) error {
		for _, p := range o.Pending {
			b, err := json.Marshal(p.Layer)
			if err != nil {
				return err
			}
			if err := tx.Bucket(bucketLayers).Put([]byte(p.DiffID), b); err != nil {
				return err
			}
		}
		if old, err := getImage(tx, id); err == nil {
			img = old // identical config: same image
		} else if err := putImage(tx, img); err != nil {
			return err
		}
		for _, r := range o.Refs {
			if err := setTag(tx, img, r); err != nil {
				return err
			}
			img.Tagged = time.Now().UTC()
		}
		return nil
	})
	if err != nil {
		return Image{}, fmt.Errorf("record image: %w", err)
	}
	for _, p := range o.Pending {
		s.releaseLocked(p.Blob)
	}
	return img, nil
}

func randomID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b[:])
}
