package images

import (
	"archive/tar"
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
	"github.com/ctrd/ctrd/images/content"
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
// contents are unpacked into an active snapshot (or not at all, from
// StoreLayer), not yet part of an image.
type PendingLayer struct {
	Layer
	key string // active snapshot holding the unpacked contents, or ""
}

// Discard drops a pending layer that will not be registered.
func (s *Store) Discard(p PendingLayer) {
	if p.key != "" {
		_ = s.snapshot.Remove(p.key)
	}
	s.release(p.Blob)
}

// WriteLayer stores a layer tarball (plain or compressed, detected by its
// content) and unpacks it on top of the snapshot parentChain ("" for a base
// layer). Gzip and zstd input is stored as it came, other compressions are
// stored decompressed, as OCI media types know only those. The input is
// streamed: memory use does not grow with its size.
func (s *Store) WriteLayer(ctx context.Context, parentChain string, in io.Reader) (PendingLayer, error) {
	return s.writeLayer(ctx, in, func(tarStream io.Reader, comp archive.Compression) (string, int64, error) {
		return s.unpack(ctx, parentChain, tarStream, comp)
	})
}

// StoreBaseLayer stores a base layer tarball (plain or compressed, as
// WriteLayer) without unpacking it: its entries are checked as unpacking
// would check them (archive.Validate), so a tar that could not be unpacked
// is refused now, and EnsureUnpacked makes its snapshot when a container
// first needs it. Writing the files once, when they are needed, instead of
// at import is what makes an import fast.
func (s *Store) StoreBaseLayer(ctx context.Context, in io.Reader) (PendingLayer, error) {
	src := &readErrRecorder{r: in}
	return s.writeLayer(ctx, src, func(tarStream io.Reader, comp archive.Compression) (string, int64, error) {
		n, err := archive.Validate(ctx, tarStream)
		if err != nil {
			// Validate touches no disk: unless reading the input
			// failed, the archive is at fault.
			if src.err != nil || ctx.Err() != nil {
				return "", 0, err
			}
			return "", 0, errdefs.InvalidArgument(fmt.Errorf("invalid %s archive: %w", comp, err))
		}
		return "", n, nil
	})
}

// readErrRecorder keeps the first error of its reader other than io.EOF.
type readErrRecorder struct {
	r   io.Reader
	err error
}

func (e *readErrRecorder) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err != nil && err != io.EOF && e.err == nil {
		e.err = err
	}
	return n, err
}

// writeLayer stores the blob of a layer tarball read from in while consume
// reads its decompressed tar stream (to its end) and returns the snapshot
// it unpacked it into ("" for none) and the tar's size.
func (s *Store) writeLayer(ctx context.Context, in io.Reader, consume func(io.Reader, archive.Compression) (string, int64, error)) (_ PendingLayer, retErr error) {
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
		// blobIsTar: the blob is the uncompressed tar, so its digest is
		// the diff ID and the tar needs no second hash.
		blobIsTar bool
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
		blobIsTar = true
	}
	if err != nil {
		return PendingLayer{}, errdefs.InvalidArgument(fmt.Errorf("cannot read %s input: %w", comp, err))
	}
	defer dec.Close()
	var diff digest.Digester
	if !blobIsTar {
		diff = digest.SHA256.Digester()
		tarStream = io.TeeReader(tarStream, diff.Hash())
	}

	key, size, err := consume(tarStream, comp)
	if err != nil {
		return PendingLayer{}, err
	}
	defer func() {
		if retErr != nil && key != "" {
			_ = s.snapshot.Remove(key)
		}
	}()
	if raw != io.Reader(br) {
		if _, err := io.Copy(io.Discard, raw); err != nil {
			return PendingLayer{}, fmt.Errorf("read input: %w", err)
		}
	}
	diffID := w.Digest()
	if diff != nil {
		diffID = diff.Digest()
	}
	blobSize := w.Size()
	blob, err := s.commitLayerBlob(w)
	if err != nil {
		return PendingLayer{}, err
	}
	return PendingLayer{
		Layer: Layer{DiffID: diffID, Blob: blob, MediaType: mediaType, BlobSize: blobSize, Size: size},
		key:   key,
	}, nil
}

// unpack applies a layer's tar stream onto a new active snapshot above
// parentChain, reads the stream to its end (so that digests of it cover
// all of it) and flushes the snapshot to disk. It returns the snapshot's
// key and the tar's size; on error nothing of it is left.
func (s *Store) unpack(ctx context.Context, parentChain string, tarStream io.Reader, comp archive.Compression) (_ string, _ int64, retErr error) {
	key := extractPrefix + randomID()
	if _, err := s.snapshot.Prepare(key, parentChain, nil); err != nil {
		return "", 0, fmt.Errorf("prepare snapshot: %w", err)
	}
	defer func() {
		if retErr != nil {
			_ = s.snapshot.Remove(key)
		}
	}()
	upper, err := s.snapshot.UpperDir(key)
	if err != nil {
		return "", 0, err
	}
	size, err := archive.Apply(ctx, upper, tarStream)
	if err != nil {
		if errors.Is(err, archive.ErrUnsafePath) || !isIOError(err) {
			return "", 0, errdefs.InvalidArgument(fmt.Errorf("invalid %s archive: %w", comp, err))
		}
		return "", 0, err
	}
	if _, err := io.Copy(io.Discard, tarStream); err != nil {
		return "", 0, errdefs.InvalidArgument(fmt.Errorf("invalid %s archive: %w", comp, err))
	}
	if err := archive.Sync(upper); err != nil {
		return "", 0, fmt.Errorf("sync layer: %w", err)
	}
	return key, size, nil
}

// StoreLayer stores an uncompressed layer tarball, as commit produces, as a
// blob without unpacking it: the blob is all a push or an image above
// needs, and EnsureUnpacked makes the snapshot when a container first
// needs it. Writing the files once instead of twice is what makes a commit
// fast. The tar's structure is checked; its entries are checked when it is
// unpacked, like any layer's.
func (s *Store) StoreLayer(ctx context.Context, in io.Reader) (PendingLayer, error) {
	w, err := s.content.Writer()
	if err != nil {
		return PendingLayer{}, err
	}
	defer w.Close()
	// The tar reader reads in small pieces; the blob is written in large
	// ones.
	bw := bufio.NewWriterSize(w, 1<<20)
	tee := io.TeeReader(in, bw)
	tr := tar.NewReader(tee)
	for {
		if err := ctx.Err(); err != nil {
			return PendingLayer{}, err
		}
		_, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return PendingLayer{}, errdefs.InvalidArgument(fmt.Errorf("invalid layer archive: %w", err))
		}
	}
	if _, err := io.Copy(io.Discard, tee); err != nil {
		return PendingLayer{}, fmt.Errorf("read layer: %w", err)
	}
	if err := bw.Flush(); err != nil {
		return PendingLayer{}, fmt.Errorf("store layer blob: %w", err)
	}
	size := w.Size()
	blob, err := s.commitLayerBlob(w)
	if err != nil {
		return PendingLayer{}, err
	}
	return PendingLayer{
		Layer: Layer{DiffID: blob, Blob: blob, MediaType: ocispec.MediaTypeImageLayer, BlobSize: size, Size: size},
	}, nil
}

// EnsureUnpacked makes sure every layer of an image is unpacked into its
// snapshot, unpacking from their blobs those that are not (layers stored
// by StoreLayer, or whose snapshots were lost). Each is unpacked once,
// and checked against its diff ID.
func (s *Store) EnsureUnpacked(ctx context.Context, cfg *ImageConfig) error {
	ids := cfg.RootFS.DiffIDs
	if len(ids) == 0 {
		return nil
	}
	if _, err := s.snapshot.Stat(identity.ChainID(ids).String()); err == nil {
		return nil
	}
	s.unpackMu.Lock()
	defer s.unpackMu.Unlock()
	parent := ""
	for i := range ids {
		chain := identity.ChainID(ids[:i+1]).String()
		if _, err := s.snapshot.Stat(chain); err != nil {
			if err := s.unpackLayer(ctx, parent, chain, ids[i]); err != nil {
				return fmt.Errorf("unpack layer %s: %w", short(ids[i]), err)
			}
		}
		parent = chain
	}
	return nil
}

// unpackLayer unpacks the blob of layer diffID above parent as snapshot
// chain.
func (s *Store) unpackLayer(ctx context.Context, parent, chain string, diffID digest.Digest) error {
	var l Layer
	var ok bool
	_ = s.db.View(func(tx *bolt.Tx) error {
		l, ok = getLayer(tx, diffID)
		return nil
	})
	if !ok {
		return errors.New("the layer is not in the store: remove the image and import or pull it again")
	}
	// Keep the blob from a collection while it is read.
	s.lease(l.Blob)
	defer s.release(l.Blob)
	f, err := s.content.Open(l.Blob)
	if err != nil {
		return err
	}
	defer f.Close()
	br := bufio.NewReaderSize(f, 1<<20)
	dec, comp, err := archive.DecompressStream(br)
	if err != nil {
		return fmt.Errorf("read blob %s: %w", l.Blob, err)
	}
	defer dec.Close()
	diff := digest.SHA256.Digester()
	key, _, err := s.unpack(ctx, parent, io.TeeReader(dec, diff.Hash()), comp)
	if err != nil {
		return err
	}
	if diff.Digest() != diffID {
		_ = s.snapshot.Remove(key)
		return fmt.Errorf("blob %s does not match its diff ID", l.Blob)
	}
	if err := s.snapshot.Commit(chain, key); err != nil {
		_ = s.snapshot.Remove(key)
		if errors.Is(err, snapshot.ErrExists) {
			return nil
		}
		return fmt.Errorf("commit layer snapshot: %w", err)
	}
	return nil
}

// commitLayerBlob makes a layer's blob visible, leased until the layer is
// registered or discarded: taken before the blob is visible, so that a
// collection running before Register does not take it.
func (s *Store) commitLayerBlob(w *content.Writer) (digest.Digest, error) {
	s.lease(w.Digest())
	blob, err := w.Commit("")
	if err != nil {
		s.release(w.Digest())
		return "", fmt.Errorf("store layer blob: %w", err)
	}
	return blob, nil
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
		if p.key == "" {
			// Stored, not unpacked (StoreLayer).
			all = append(all, p.Layer)
			continue
		}
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
