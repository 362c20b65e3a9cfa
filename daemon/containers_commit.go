package daemon

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/ctrd/ctrd/api"
	"github.com/ctrd/ctrd/api/errdefs"
	"github.com/ctrd/ctrd/api/types"
	"github.com/ctrd/ctrd/images"
	"github.com/ctrd/ctrd/images/archive"
	"github.com/ctrd/ctrd/images/config"
	"github.com/ctrd/ctrd/images/reference"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/sirupsen/logrus"
)

func (s *containersService) Commit(ctx context.Context, req *api.CommitRequest) (*api.CommitResponse, error) {
	c, err := s.get(req.Id)
	if err != nil {
		return nil, err
	}
	img, err := s.d.commit(ctx, c, req)
	if err != nil {
		return nil, err
	}
	return &api.CommitResponse{ImageId: img.ID.String()}, nil
}

// commit makes an image of a container's writable layer on top of its
// image. The diff is written once, as a layer blob; it is unpacked into a
// snapshot on the image's chain when a container first needs it. The
// parent layers are never copied.
func (d *Daemon) commit(ctx context.Context, c *container, req *api.CommitRequest) (images.Image, error) {
	var refs []reference.Named
	if req.Ref != "" {
		r, err := reference.Parse(req.Ref)
		if err != nil {
			return images.Image{}, errdefs.InvalidArgument(err)
		}
		refs = append(refs, r)
	}
	changes, err := config.ParseChanges(req.Changes, config.Commit)
	if err != nil {
		return images.Image{}, errdefs.InvalidArgument(err)
	}

	c.mu.Lock()
	if c.rec.State.Status == stateRemoving {
		c.mu.Unlock()
		return images.Image{}, errdefs.Conflict(fmt.Errorf("container %s is being removed: cannot commit", c.rec.Name))
	}
	base, err := d.images.Resolve(c.rec.Image.String())
	if err != nil {
		c.mu.Unlock()
		return images.Image{}, fmt.Errorf("image of container %s: %w", c.rec.Name, err)
	}
	bcfg, err := d.images.Config(base)
	if err != nil {
		c.mu.Unlock()
		return images.Image{}, err
	}
	st := &config.State{Config: containerToImageConfig(&c.rec.Config, bcfg)}
	if err := config.Apply(st, changes, nil); err != nil {
		c.mu.Unlock()
		return images.Image{}, errdefs.InvalidArgument(err)
	}
	cmdline := strings.Join(append([]string{c.rec.Path}, c.rec.Args...), " ")
	pause := req.Pause && c.shim != nil && c.rec.State.Status == stateRunning
	cl := c.shim
	if pause {
		if err := cl.Pause(ctx); err != nil {
			c.mu.Unlock()
			return images.Image{}, fmt.Errorf("pause container: %w", err)
		}
		defer func() {
			if err := cl.Resume(context.Background()); err != nil {
				logrus.WithError(err).Warn("commit: resume container")
			}
		}()
	}
	// Hold the container (no removal, no restart) while its layer is read.
	defer c.mu.Unlock()
	upper, err := d.images.Snapshotter().UpperDir(c.rec.ID)
	if err != nil {
		return images.Image{}, err
	}
	pr, pw := io.Pipe()
	go func() {
		_, err := archive.WriteDiff(ctx, pw, upper)
		pw.CloseWithError(err)
	}()
	layer, err := d.images.StoreLayer(ctx, pr)
	pr.CloseWithError(io.ErrClosedPipe)
	if err != nil {
		return images.Image{}, fmt.Errorf("commit layer: %w", err)
	}

	now := time.Now().UTC()
	cfg := &images.ImageConfig{Comment: req.Message}
	cfg.Created = &now
	cfg.Author = req.Author
	if cfg.Author == "" && st.Author != "" {
		cfg.Author = st.Author
	}
	cfg.Architecture = bcfg.Architecture
	cfg.OS = bcfg.OS
	cfg.Config = st.Config
	cfg.RootFS = ocispec.RootFS{Type: "layers", DiffIDs: append(append([]digest.Digest{}, bcfg.RootFS.DiffIDs...), layer.DiffID)}
	cfg.History = append(append([]ocispec.History{}, bcfg.History...), ocispec.History{
		Created: &now, CreatedBy: cmdline, Author: req.Author, Comment: req.Message,
	})
	img, err := d.images.Register(ctx, images.RegisterOptions{Config: cfg, Pending: []images.PendingLayer{layer}, Parent: base.ID, Refs: refs})
	if err != nil {
		d.images.Discard(layer)
		return images.Image{}, err
	}
	logrus.WithFields(logrus.Fields{"container": c.rec.ID[:12], "image": img.ID}).Info("committed container")
	return img, nil
}

// containerToImageConfig is the config a commit inherits: the container's
// effective settings, as Docker's commit does.
func containerToImageConfig(c *types.Config, base *images.ImageConfig) config.Config {
	out := base.Config
	out.Env = c.Env
	out.Cmd = c.Cmd
	out.Entrypoint = c.Entrypoint
	out.WorkingDir = c.WorkingDir
	out.User = c.User
	out.ExposedPorts = c.ExposedPorts
	out.Volumes = c.Volumes
	out.Labels = c.Labels
	out.StopSignal = c.StopSignal
	out.Shell = c.Shell
	out.OnBuild = nil
	return out
}
