package images

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"time"

	"github.com/ctrd/ctrd/api/errdefs"
	"github.com/ctrd/ctrd/images/config"
	"github.com/ctrd/ctrd/images/reference"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// ImportOptions are the flags of `ctr import`.
type ImportOptions struct {
	Ref     string   // optional REPO[:TAG]
	Message string   // -m: history comment
	Changes []string // -c: Dockerfile instructions applied to the config
	Source  string   // "-", a file name or a URL, for the history
}

// Import stores a root file system tarball as a one-layer image, as `docker
// import` does. Arguments are checked before any input is read, so bad flags
// leave nothing behind. The tarball is checked and stored, not unpacked:
// the first container of the image unpacks it (EnsureUnpacked).
func (s *Store) Import(ctx context.Context, in io.Reader, o ImportOptions) (Image, error) {
	var refs []reference.Named
	if o.Ref != "" {
		r, err := reference.Parse(o.Ref)
		if err != nil {
			return Image{}, errdefs.InvalidArgument(err)
		}
		refs = append(refs, r)
	}
	changes, err := config.ParseChanges(o.Changes, config.Import)
	if err != nil {
		return Image{}, errdefs.InvalidArgument(err)
	}
	st := &config.State{}
	if err := config.Apply(st, changes, nil); err != nil {
		return Image{}, errdefs.InvalidArgument(err)
	}

	layer, err := s.StoreBaseLayer(ctx, in)
	if err != nil {
		return Image{}, err
	}
	now := time.Now().UTC()
	comment := o.Message
	if comment == "" {
		src := o.Source
		if src == "" {
			src = "-"
		}
		comment = "Imported from " + src
	}
	cfg := &ImageConfig{Comment: o.Message}
	cfg.Created = &now
	cfg.Architecture = runtime.GOARCH
	cfg.OS = "linux"
	cfg.Config = st.Config
	cfg.RootFS = ocispec.RootFS{Type: "layers", DiffIDs: []digest.Digest{layer.DiffID}}
	cfg.History = []ocispec.History{{Created: &now, Comment: comment}}
	img, err := s.Register(ctx, RegisterOptions{Config: cfg, Pending: []PendingLayer{layer}, Refs: refs})
	if err != nil {
		s.Discard(layer)
		return Image{}, fmt.Errorf("import: %w", err)
	}
	return img, nil
}
