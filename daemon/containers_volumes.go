package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/ctrd/ctrd/api"
	"github.com/ctrd/ctrd/api/errdefs"
	"github.com/ctrd/ctrd/api/types"
	"github.com/ctrd/ctrd/daemon/volumes"
	"github.com/ctrd/ctrd/runtime/spec"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// parseMountSpecs checks every -v, --mount and --tmpfs of a create request
// and adds the image's VOLUMEs as anonymous volumes.
func parseMountSpecs(hc *types.HostConfig, cfg *types.Config) ([]volumes.MountSpec, error) {
	var out []volumes.MountSpec
	for _, v := range hc.Binds {
		m, err := volumes.ParseVolume(v)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	for _, v := range hc.Mounts {
		m, err := volumes.ParseMount(v)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	for _, v := range hc.Tmpfs {
		m, err := volumes.ParseTmpfs(v)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	if err := volumes.CheckDuplicates(out); err != nil {
		return nil, err
	}
	var imageVols []string
	for v := range cfg.Volumes {
		imageVols = append(imageVols, v)
	}
	return volumes.MergeImageVolumes(out, imageVols), nil
}

// createVolumes makes the named volumes a new container needs (Docker
// creates them at create time) and names its anonymous ones. It returns
// an undo for the volumes it created.
func (d *Daemon) createVolumes(specs []volumes.MountSpec) (anon []string, undo func(), err error) {
	var created []string
	undo = func() {
		for _, n := range created {
			_ = d.volumes.Remove(n, func(string) []string { return nil })
		}
	}
	for i := range specs {
		m := &specs[i]
		if m.Type != volumes.TypeVolume {
			continue
		}
		isNew := m.Source == ""
		if !isNew {
			if _, err := d.volumes.Get(m.Source); errors.Is(err, volumes.ErrNotFound) {
				isNew = true
			}
		}
		v, err := d.volumes.Create(m.Source, m.VolumeLabels)
		if err != nil {
			undo()
			return nil, func() {}, err
		}
		if isNew {
			created = append(created, v.Name)
		}
		if m.Source == "" {
			m.Source = v.Name
			anon = append(anon, v.Name)
		}
	}
	return anon, undo, nil
}

// mountPoints describes a container's mounts for inspect and ps.
func (d *Daemon) mountPoints(specs []volumes.MountSpec) []types.MountPoint {
	var out []types.MountPoint
	for _, m := range specs {
		mp := types.MountPoint{Type: m.Type, Destination: m.Destination, RW: !m.ReadOnly, Propagation: m.Propagation}
		switch m.Type {
		case volumes.TypeVolume:
			mp.Name = m.Source
			mp.Driver = "local"
			mp.Source = filepath.Join(d.volumes.Root(), m.Source, "_data")
			mp.Mode = "z"
		case volumes.TypeBind:
			mp.Source = m.Source
		}
		if m.ReadOnly {
			mp.Mode = "ro"
		}
		out = append(out, mp)
	}
	return out
}

// containerMounts adds the container's volumes, binds and tmpfs to its
// spec. Destinations are resolved inside the rootfs, so that a symlink in
// the image can never send a mount outside of it.
func (d *Daemon) containerMounts(c *container, rootfs string, o *spec.Options) error {
	for _, m := range c.rec.MountSpecs {
		source := m.Source
		isFile := false
		switch m.Type {
		case volumes.TypeBind:
			if err := volumes.EnsureBindSource(m); err != nil {
				return errdefs.InvalidArgument(err)
			}
			if st, err := os.Stat(source); err == nil && !st.IsDir() {
				isFile = true
			}
		case volumes.TypeVolume:
			v, err := d.volumes.Get(m.Source)
			if err != nil {
				return fmt.Errorf("volume %s: %w", m.Source, err)
			}
			source = v.Path()
			if !m.NoCopy {
				if err := volumes.CopyUp(rootfs, m.Destination, source); err != nil {
					return fmt.Errorf("copy image data into volume %s: %w", m.Source, err)
				}
			}
		case volumes.TypeTmpfs:
			source = "tmpfs"
		}
		target, err := volumes.ResolveTarget(rootfs, m.Destination, isFile)
		if err != nil {
			return fmt.Errorf("mount target %s: %w", m.Destination, err)
		}
		dest := "/" + strings.TrimPrefix(strings.TrimPrefix(target, rootfs), "/")
		typ := "bind"
		if m.Type == volumes.TypeTmpfs {
			typ = "tmpfs"
		}
		o.Mounts = append(o.Mounts, specs.Mount{Destination: dest, Type: typ, Source: source, Options: m.Options()})
	}
	return d.networkFiles(c, rootfs, o)
}

// removeAnonymousVolumes removes the anonymous volumes of a removed
// container (rm -v, run --rm), unless other containers use them.
func (d *Daemon) removeAnonymousVolumes(rec containerRecord) {
	for _, name := range rec.AnonymousVolumes {
		_ = d.volumes.Remove(name, func(n string) []string { return d.volumeUsers(n, rec.ID) })
	}
}

// volumeUsers names the containers (other than except) using a volume.
func (d *Daemon) volumeUsers(name, except string) []string {
	var out []string
	for _, c := range d.containers.list() {
		if c.rec.ID == except {
			continue
		}
		for _, m := range c.rec.MountSpecs {
			if m.Type == volumes.TypeVolume && m.Source == name {
				out = append(out, c.rec.Name)
				break
			}
		}
	}
	return out
}

type volumesService struct{ d *Daemon }

func volumeJSON(v interface{}) (*api.VolumeResponse, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return &api.VolumeResponse{Json: b}, nil
}

func volumeErr(err error) error {
	switch {
	case errors.Is(err, volumes.ErrNotFound):
		return errdefs.NotFound(err)
	case errors.Is(err, volumes.ErrInUse):
		return errdefs.Conflict(err)
	}
	return err
}

func (s *volumesService) Create(ctx context.Context, req *api.CreateVolumeRequest) (*api.VolumeResponse, error) {
	if req.Name != "" {
		if err := volumes.ValidName(req.Name); err != nil {
			return nil, errdefs.InvalidArgument(err)
		}
	}
	v, err := s.d.volumes.Create(req.Name, req.Labels)
	if err != nil {
		return nil, volumeErr(err)
	}
	return volumeJSON(v)
}

func (s *volumesService) List(ctx context.Context, _ *api.Empty) (*api.VolumeResponse, error) {
	vs, err := s.d.volumes.List()
	if err != nil {
		return nil, err
	}
	if vs == nil {
		vs = []volumes.Volume{}
	}
	return volumeJSON(vs)
}

func (s *volumesService) Inspect(ctx context.Context, req *api.VolumeRequest) (*api.VolumeResponse, error) {
	v, err := s.d.volumes.Get(req.Name)
	if err != nil {
		return nil, volumeErr(err)
	}
	return volumeJSON(v)
}

func (s *volumesService) Remove(ctx context.Context, req *api.RemoveVolumeRequest) (*api.Empty, error) {
	err := s.d.volumes.Remove(req.Name, func(n string) []string { return s.d.volumeUsers(n, "") })
	if err != nil {
		return nil, volumeErr(err)
	}
	return empty, nil
}

func (s *volumesService) Prune(ctx context.Context, req *api.PruneVolumesRequest) (*api.PruneVolumesResponse, error) {
	names, space, err := s.d.volumes.Prune(func(n string) []string { return s.d.volumeUsers(n, "") }, req.All)
	if err != nil {
		return nil, err
	}
	return &api.PruneVolumesResponse{Deleted: names, SpaceReclaimed: space}, nil
}
