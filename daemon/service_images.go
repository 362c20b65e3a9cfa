package daemon

import (
	"context"
	"encoding/json"
	"strings"
	"time"

	"github.com/ctrd/ctrd/api"
	"github.com/ctrd/ctrd/api/types"
	"github.com/ctrd/ctrd/images"
	"github.com/ctrd/ctrd/images/reference"
	"github.com/sirupsen/logrus"
)

type imagesService struct{ d *Daemon }

func (s *imagesService) Import(ctx context.Context, req *api.ImportRequest) (*api.ImportResponse, error) {
	r, done, err := s.importSource(ctx, req)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	img, err := s.d.images.Import(ctx, r, images.ImportOptions{
		Ref: req.Ref, Message: req.Message, Changes: req.Changes, Source: req.Source,
	})
	done(err)
	if err != nil {
		return nil, err
	}
	logrus.WithFields(logrus.Fields{"image": img.ID, "ref": req.Ref, "took": time.Since(start)}).Info("imported image")
	return &api.ImportResponse{Id: img.ID.String()}, nil
}

func (s *imagesService) List(ctx context.Context, req *api.ListImagesRequest) (*api.ListImagesResponse, error) {
	list, err := s.d.images.List()
	if err != nil {
		return nil, err
	}
	resp := &api.ListImagesResponse{}
	for _, im := range list {
		if im.Intermediate && !req.All {
			continue
		}
		sum := &api.ImageSummary{
			Id:      im.ID.String(),
			Created: im.Created.Unix(),
			Size:    im.Size,
			Parent:  im.Parent.String(),
		}
		for _, t := range im.Tags {
			sum.RepoTags = append(sum.RepoTags, reference.FamiliarString(t))
		}
		resp.Images = append(resp.Images, sum)
	}
	return resp, nil
}

func (s *imagesService) Inspect(ctx context.Context, req *api.InspectImageRequest) (*api.InspectImageResponse, error) {
	doc, err := s.d.inspectImage(req.Name)
	if err != nil {
		return nil, err
	}
	b, err := json.Marshal(doc)
	if err != nil {
		return nil, err
	}
	return &api.InspectImageResponse{Json: b}, nil
}

func (d *Daemon) inspectImage(name string) (*types.ImageInspect, error) {
	img, err := d.images.Resolve(name)
	if err != nil {
		return nil, err
	}
	cfg, err := d.images.Config(img)
	if err != nil {
		return nil, err
	}
	tags, err := d.images.Tags(img.ID)
	if err != nil {
		return nil, err
	}
	doc := &types.ImageInspect{
		ID:           img.ID.String(),
		RepoTags:     []string{},
		RepoDigests:  []string{},
		Comment:      cfg.Comment,
		Author:       cfg.Author,
		Architecture: cfg.Architecture,
		Os:           cfg.OS,
		Size:         img.Size,
		Config:       ImageConfigDoc(cfg),
		GraphDriver:  types.GraphDriver{Name: "overlayfs", Data: map[string]string{}},
		RootFS:       types.RootFS{Type: "layers"},
		Metadata:     types.ImageMetadata{LastTagTime: img.Tagged},
	}
	if img.Parent != "" {
		doc.Parent = img.Parent.String()
	}
	if cfg.Created != nil {
		doc.Created = cfg.Created.UTC().Format(time.RFC3339Nano)
	}
	for _, t := range tags {
		doc.RepoTags = append(doc.RepoTags, reference.FamiliarString(t))
	}
	for _, l := range cfg.RootFS.DiffIDs {
		doc.RootFS.Layers = append(doc.RootFS.Layers, l.String())
	}
	sn := d.images.Snapshotter()
	if chain := images.ChainID(cfg); chain != "" {
		if top, err := sn.Dir(chain); err == nil {
			doc.GraphDriver.Data["UpperDir"] = top
		}
		if lowers, err := sn.LowerDirs(chain); err == nil && len(lowers) > 0 {
			doc.GraphDriver.Data["LowerDir"] = strings.Join(lowers, ":")
		}
	}
	return doc, nil
}

// ImageConfigDoc converts an image's container config to Docker's shape.
func ImageConfigDoc(cfg *images.ImageConfig) *types.Config {
	c := cfg.Config
	out := &types.Config{
		User:         c.User,
		ExposedPorts: c.ExposedPorts,
		Env:          c.Env,
		Cmd:          c.Cmd,
		ArgsEscaped:  c.ArgsEscaped,
		Volumes:      c.Volumes,
		WorkingDir:   c.WorkingDir,
		Entrypoint:   c.Entrypoint,
		OnBuild:      c.OnBuild,
		Labels:       c.Labels,
		StopSignal:   c.StopSignal,
		Shell:        c.Shell,
	}
	if h := c.Healthcheck; h != nil {
		out.Healthcheck = &types.HealthConfig{Test: h.Test, Interval: h.Interval, Timeout: h.Timeout, StartPeriod: h.StartPeriod, StartInterval: h.StartInterval, Retries: h.Retries}
	}
	return out
}

func (s *imagesService) Tag(ctx context.Context, req *api.TagImageRequest) (*api.Empty, error) {
	if err := s.d.images.Tag(req.Source, req.Target); err != nil {
		return nil, err
	}
	return &api.Empty{}, nil
}

func (s *imagesService) Remove(ctx context.Context, req *api.RemoveImageRequest) (*api.RemoveImageResponse, error) {
	res, err := s.d.images.Remove(req.Name, req.Force)
	if err != nil {
		return nil, err
	}
	return &api.RemoveImageResponse{Untagged: res.Untagged, Deleted: res.Deleted}, nil
}

func (s *imagesService) History(ctx context.Context, req *api.HistoryRequest) (*api.HistoryResponse, error) {
	items, err := s.d.images.History(req.Name)
	if err != nil {
		return nil, err
	}
	resp := &api.HistoryResponse{}
	for _, it := range items {
		resp.Items = append(resp.Items, &api.HistoryItem{
			Id: it.ID, Created: it.Created.Unix(), CreatedBy: it.CreatedBy,
			Size: it.Size, Comment: it.Comment, Tags: it.Tags,
		})
	}
	return resp, nil
}
