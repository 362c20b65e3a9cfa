// Code below was generated once from the former protobuf definitions of
// the API and is maintained by hand: a service is an interface, served by
// Register<Service>Service and called through New<Service>Client.

package api

import (
	"context"
	"encoding/json"

	"github.com/ctrd/ctrd/rpc"
)

type SystemService interface {
	Version(ctx context.Context, req *Empty) (*VersionResponse, error)
	Info(ctx context.Context, req *Empty) (*InfoResponse, error)
}

// RegisterSystemService serves svc's methods on srv.
func RegisterSystemService(srv *Server, svc SystemService) {
	srv.register("/ctrd.v1.System/Version", func(ctx context.Context, params json.RawMessage) (any, error) {
		req := new(Empty)
		if err := decode(params, req); err != nil {
			return nil, err
		}
		return svc.Version(ctx, req)
	})
	srv.register("/ctrd.v1.System/Info", func(ctx context.Context, params json.RawMessage) (any, error) {
		req := new(Empty)
		if err := decode(params, req); err != nil {
			return nil, err
		}
		return svc.Info(ctx, req)
	})
}

type systemClient struct {
	c *rpc.Client
}

// NewSystemClient calls the System service over c.
func NewSystemClient(c *rpc.Client) SystemService {
	return &systemClient{c}
}

func (c *systemClient) Version(ctx context.Context, req *Empty) (*VersionResponse, error) {
	resp := new(VersionResponse)
	if err := c.c.Call(ctx, "/ctrd.v1.System/Version", req, resp); err != nil {
		return nil, err
	}
	return resp, nil
}

func (c *systemClient) Info(ctx context.Context, req *Empty) (*InfoResponse, error) {
	resp := new(InfoResponse)
	if err := c.c.Call(ctx, "/ctrd.v1.System/Info", req, resp); err != nil {
		return nil, err
	}
	return resp, nil
}

// Uploads carry large inputs (import tarballs, build contexts) from the CLI to
// the daemon as a sequence of unary Write calls. Each call returns once the
// consumer has taken the chunk, which gives natural back-pressure and bounded
// memory whatever the input size.
type UploadsService interface {
	Open(ctx context.Context, req *Empty) (*OpenUploadResponse, error)
	Write(ctx context.Context, req *WriteUploadRequest) (*Empty, error)
	Close(ctx context.Context, req *CloseUploadRequest) (*Empty, error)
}

// RegisterUploadsService serves svc's methods on srv.
func RegisterUploadsService(srv *Server, svc UploadsService) {
	srv.register("/ctrd.v1.Uploads/Open", func(ctx context.Context, params json.RawMessage) (any, error) {
		req := new(Empty)
		if err := decode(params, req); err != nil {
			return nil, err
		}
		return svc.Open(ctx, req)
	})
	srv.register("/ctrd.v1.Uploads/Write", func(ctx context.Context, params json.RawMessage) (any, error) {
		req := new(WriteUploadRequest)
		if err := decode(params, req); err != nil {
			return nil, err
		}
		req.Data = rpc.Data(ctx)
		return svc.Write(ctx, req)
	})
	srv.register("/ctrd.v1.Uploads/Close", func(ctx context.Context, params json.RawMessage) (any, error) {
		req := new(CloseUploadRequest)
		if err := decode(params, req); err != nil {
			return nil, err
		}
		return svc.Close(ctx, req)
	})
}

type uploadsClient struct {
	c *rpc.Client
}

// NewUploadsClient calls the Uploads service over c.
func NewUploadsClient(c *rpc.Client) UploadsService {
	return &uploadsClient{c}
}

func (c *uploadsClient) Open(ctx context.Context, req *Empty) (*OpenUploadResponse, error) {
	resp := new(OpenUploadResponse)
	if err := c.c.Call(ctx, "/ctrd.v1.Uploads/Open", req, resp); err != nil {
		return nil, err
	}
	return resp, nil
}

func (c *uploadsClient) Write(ctx context.Context, req *WriteUploadRequest) (*Empty, error) {
	resp := new(Empty)
	if err := c.c.CallData(ctx, "/ctrd.v1.Uploads/Write", req, req.Data, resp); err != nil {
		return nil, err
	}
	return resp, nil
}

func (c *uploadsClient) Close(ctx context.Context, req *CloseUploadRequest) (*Empty, error) {
	resp := new(Empty)
	if err := c.c.Call(ctx, "/ctrd.v1.Uploads/Close", req, resp); err != nil {
		return nil, err
	}
	return resp, nil
}

type ImagesService interface {
	// Import reads the tarball of an upload (already opened, written
	// concurrently by the client) and stores it as a one-layer image.
	Import(ctx context.Context, req *ImportRequest) (*ImportResponse, error)
	List(ctx context.Context, req *ListImagesRequest) (*ListImagesResponse, error)
	Inspect(ctx context.Context, req *InspectImageRequest) (*InspectImageResponse, error)
	Tag(ctx context.Context, req *TagImageRequest) (*Empty, error)
	Remove(ctx context.Context, req *RemoveImageRequest) (*RemoveImageResponse, error)
	History(ctx context.Context, req *HistoryRequest) (*HistoryResponse, error)
}

// RegisterImagesService serves svc's methods on srv.
func RegisterImagesService(srv *Server, svc ImagesService) {
	srv.register("/ctrd.v1.Images/Import", func(ctx context.Context, params json.RawMessage) (any, error) {
		req := new(ImportRequest)
		if err := decode(params, req); err != nil {
			return nil, err
		}
		return svc.Import(ctx, req)
	})
	srv.register("/ctrd.v1.Images/List", func(ctx context.Context, params json.RawMessage) (any, error) {
		req := new(ListImagesRequest)
		if err := decode(params, req); err != nil {
			return nil, err
		}
		return svc.List(ctx, req)
	})
	srv.register("/ctrd.v1.Images/Inspect", func(ctx context.Context, params json.RawMessage) (any, error) {
		req := new(InspectImageRequest)
		if err := decode(params, req); err != nil {
			return nil, err
		}
		return svc.Inspect(ctx, req)
	})
	srv.register("/ctrd.v1.Images/Tag", func(ctx context.Context, params json.RawMessage) (any, error) {
		req := new(TagImageRequest)
		if err := decode(params, req); err != nil {
			return nil, err
		}
		return svc.Tag(ctx, req)
	})
	srv.register("/ctrd.v1.Images/Remove", func(ctx context.Context, params json.RawMessage) (any, error) {
		req := new(RemoveImageRequest)
		if err := decode(params, req); err != nil {
			return nil, err
		}
		return svc.Remove(ctx, req)
	})
	srv.register("/ctrd.v1.Images/History", func(ctx context.Context, params json.RawMessage) (any, error) {
		req := new(HistoryRequest)
		if err := decode(params, req); err != nil {
			return nil, err
		}
		return svc.History(ctx, req)
	})
}

type imagesClient struct {
	c *rpc.Client
}

// NewImagesClient calls the Images service over c.
func NewImagesClient(c *rpc.Client) ImagesService {
	return &imagesClient{c}
}

func (c *imagesClient) Import(ctx context.Context, req *ImportRequest) (*ImportResponse, error) {
	resp := new(ImportResponse)
	if err := c.c.Call(ctx, "/ctrd.v1.Images/Import", req, resp); err != nil {
		return nil, err
	}
	return resp, nil
}

func (c *imagesClient) List(ctx context.Context, req *ListImagesRequest) (*ListImagesResponse, error) {
	resp := new(ListImagesResponse)
	if err := c.c.Call(ctx, "/ctrd.v1.Images/List", req, resp); err != nil {
		return nil, err
	}
	return resp, nil
}

func (c *imagesClient) Inspect(ctx context.Context, req *InspectImageRequest) (*InspectImageResponse, error) {
	resp := new(InspectImageResponse)
	if err := c.c.Call(ctx, "/ctrd.v1.Images/Inspect", req, resp); err != nil {
		return nil, err
	}
	return resp, nil
}

func (c *imagesClient) Tag(ctx context.Context, req *TagImageRequest) (*Empty, error) {
	resp := new(Empty)
	if err := c.c.Call(ctx, "/ctrd.v1.Images/Tag", req, resp); err != nil {
		return nil, err
	}
	return resp, nil
}

func (c *imagesClient) Remove(ctx context.Context, req *RemoveImageRequest) (*RemoveImageResponse, error) {
	resp := new(RemoveImageResponse)
	if err := c.c.Call(ctx, "/ctrd.v1.Images/Remove", req, resp); err != nil {
		return nil, err
	}
	return resp, nil
}

func (c *imagesClient) History(ctx context.Context, req *HistoryRequest) (*HistoryResponse, error) {
	resp := new(HistoryResponse)
	if err := c.c.Call(ctx, "/ctrd.v1.Images/History", req, resp); err != nil {
		return nil, err
	}
	return resp, nil
}

type VolumesService interface {
	Create(ctx context.Context, req *CreateVolumeRequest) (*VolumeResponse, error)
	List(ctx context.Context, req *Empty) (*VolumeResponse, error)
	Inspect(ctx context.Context, req *VolumeRequest) (*VolumeResponse, error)
	Remove(ctx context.Context, req *RemoveVolumeRequest) (*Empty, error)
	Prune(ctx context.Context, req *PruneVolumesRequest) (*PruneVolumesResponse, error)
}

// RegisterVolumesService serves svc's methods on srv.
func RegisterVolumesService(srv *Server, svc VolumesService) {
	srv.register("/ctrd.v1.Volumes/Create", func(ctx context.Context, params json.RawMessage) (any, error) {
		req := new(CreateVolumeRequest)
		if err := decode(params, req); err != nil {
			return nil, err
		}
		return svc.Create(ctx, req)
	})
	srv.register("/ctrd.v1.Volumes/List", func(ctx context.Context, params json.RawMessage) (any, error) {
		req := new(Empty)
		if err := decode(params, req); err != nil {
			return nil, err
		}
		return svc.List(ctx, req)
	})
	srv.register("/ctrd.v1.Volumes/Inspect", func(ctx context.Context, params json.RawMessage) (any, error) {
		req := new(VolumeRequest)
		if err := decode(params, req); err != nil {
			return nil, err
		}
		return svc.Inspect(ctx, req)
	})
	srv.register("/ctrd.v1.Volumes/Remove", func(ctx context.Context, params json.RawMessage) (any, error) {
		req := new(RemoveVolumeRequest)
		if err := decode(params, req); err != nil {
			return nil, err
		}
		return svc.Remove(ctx, req)
	})
	srv.register("/ctrd.v1.Volumes/Prune", func(ctx context.Context, params json.RawMessage) (any, error) {
		req := new(PruneVolumesRequest)
		if err := decode(params, req); err != nil {
			return nil, err
		}
		return svc.Prune(ctx, req)
	})
}

type volumesClient struct {
	c *rpc.Client
}

// NewVolumesClient calls the Volumes service over c.
func NewVolumesClient(c *rpc.Client) VolumesService {
	return &volumesClient{c}
}

func (c *volumesClient) Create(ctx context.Context, req *CreateVolumeRequest) (*VolumeResponse, error) {
	resp := new(VolumeResponse)
	if err := c.c.Call(ctx, "/ctrd.v1.Volumes/Create", req, resp); err != nil {
		return nil, err
	}
	return resp, nil
}

func (c *volumesClient) List(ctx context.Context, req *Empty) (*VolumeResponse, error) {
	resp := new(VolumeResponse)
	if err := c.c.Call(ctx, "/ctrd.v1.Volumes/List", req, resp); err != nil {
		return nil, err
	}
	return resp, nil
}

func (c *volumesClient) Inspect(ctx context.Context, req *VolumeRequest) (*VolumeResponse, error) {
	resp := new(VolumeResponse)
	if err := c.c.Call(ctx, "/ctrd.v1.Volumes/Inspect", req, resp); err != nil {
		return nil, err
	}
	return resp, nil
}

func (c *volumesClient) Remove(ctx context.Context, req *RemoveVolumeRequest) (*Empty, error) {
	resp := new(Empty)
	if err := c.c.Call(ctx, "/ctrd.v1.Volumes/Remove", req, resp); err != nil {
		return nil, err
	}
	return resp, nil
}

func (c *volumesClient) Prune(ctx context.Context, req *PruneVolumesRequest) (*PruneVolumesResponse, error) {
	resp := new(PruneVolumesResponse)
	if err := c.c.Call(ctx, "/ctrd.v1.Volumes/Prune", req, resp); err != nil {
		return nil, err
	}
	return resp, nil
}

type NetworksService interface {
	Create(ctx context.Context, req *CreateNetworkRequest) (*NetworkResponse, error)
	List(ctx context.Context, req *Empty) (*NetworkResponse, error)
	Inspect(ctx context.Context, req *NetworkRequest) (*NetworkResponse, error)
	Remove(ctx context.Context, req *NetworkRequest) (*Empty, error)
}

// RegisterNetworksService serves svc's methods on srv.
func RegisterNetworksService(srv *Server, svc NetworksService) {
	srv.register("/ctrd.v1.Networks/Create", func(ctx context.Context, params json.RawMessage) (any, error) {
		req := new(CreateNetworkRequest)
		if err := decode(params, req); err != nil {
			return nil, err
		}
		return svc.Create(ctx, req)
	})
	srv.register("/ctrd.v1.Networks/List", func(ctx context.Context, params json.RawMessage) (any, error) {
		req := new(Empty)
		if err := decode(params, req); err != nil {
			return nil, err
		}
		return svc.List(ctx, req)
	})
	srv.register("/ctrd.v1.Networks/Inspect", func(ctx context.Context, params json.RawMessage) (any, error) {
		req := new(NetworkRequest)
		if err := decode(params, req); err != nil {
			return nil, err
		}
		return svc.Inspect(ctx, req)
	})
	srv.register("/ctrd.v1.Networks/Remove", func(ctx context.Context, params json.RawMessage) (any, error) {
		req := new(NetworkRequest)
		if err := decode(params, req); err != nil {
			return nil, err
		}
		return svc.Remove(ctx, req)
	})
}

type networksClient struct {
	c *rpc.Client
}

// NewNetworksClient calls the Networks service over c.
func NewNetworksClient(c *rpc.Client) NetworksService {
	return &networksClient{c}
}

func (c *networksClient) Create(ctx context.Context, req *CreateNetworkRequest) (*NetworkResponse, error) {
	resp := new(NetworkResponse)
	if err := c.c.Call(ctx, "/ctrd.v1.Networks/Create", req, resp); err != nil {
		return nil, err
	}
	return resp, nil
}

func (c *networksClient) List(ctx context.Context, req *Empty) (*NetworkResponse, error) {
	resp := new(NetworkResponse)
	if err := c.c.Call(ctx, "/ctrd.v1.Networks/List", req, resp); err != nil {
		return nil, err
	}
	return resp, nil
}

func (c *networksClient) Inspect(ctx context.Context, req *NetworkRequest) (*NetworkResponse, error) {
	resp := new(NetworkResponse)
	if err := c.c.Call(ctx, "/ctrd.v1.Networks/Inspect", req, resp); err != nil {
		return nil, err
	}
	return resp, nil
}

func (c *networksClient) Remove(ctx context.Context, req *NetworkRequest) (*Empty, error) {
	resp := new(Empty)
	if err := c.c.Call(ctx, "/ctrd.v1.Networks/Remove", req, resp); err != nil {
		return nil, err
	}
	return resp, nil
}

type ContainersService interface {
	// Create checks everything and records a container (state "created").
	Create(ctx context.Context, req *CreateContainerRequest) (*CreateContainerResponse, error)
	// Start runs a container. With attach_first, the process is created
	// but held until Begin (or a few seconds pass), so a client can attach
	// to its stdio before it runs.
	Start(ctx context.Context, req *StartContainerRequest) (*StartContainerResponse, error)
	Begin(ctx context.Context, req *ContainerRequest) (*Empty, error)
	Attach(ctx context.Context, req *ContainerRequest) (*AttachResponse, error)
	Wait(ctx context.Context, req *WaitContainerRequest) (*WaitContainerResponse, error)
	Stop(ctx context.Context, req *StopContainerRequest) (*Empty, error)
	Restart(ctx context.Context, req *StopContainerRequest) (*Empty, error)
	Kill(ctx context.Context, req *KillContainerRequest) (*Empty, error)
	Pause(ctx context.Context, req *ContainerRequest) (*Empty, error)
	Unpause(ctx context.Context, req *ContainerRequest) (*Empty, error)
	Remove(ctx context.Context, req *RemoveContainerRequest) (*Empty, error)
	List(ctx context.Context, req *ListContainersRequest) (*ListContainersResponse, error)
	Inspect(ctx context.Context, req *ContainerRequest) (*InspectContainerResponse, error)
	Logs(ctx context.Context, req *ContainerRequest) (*LogsResponse, error)
	Rename(ctx context.Context, req *RenameContainerRequest) (*Empty, error)
	Top(ctx context.Context, req *ContainerRequest) (*TopResponse, error)
	Diff(ctx context.Context, req *ContainerRequest) (*DiffResponse, error)
	Resize(ctx context.Context, req *ResizeRequest) (*Empty, error)
	Update(ctx context.Context, req *UpdateContainerRequest) (*Empty, error)
	ExecCreate(ctx context.Context, req *ExecCreateRequest) (*ExecCreateResponse, error)
	ExecStart(ctx context.Context, req *ExecStartRequest) (*Empty, error)
	ExecResize(ctx context.Context, req *ExecResizeRequest) (*Empty, error)
	ExecInspect(ctx context.Context, req *ExecStartRequest) (*ExecInspectResponse, error)
	Commit(ctx context.Context, req *CommitRequest) (*CommitResponse, error)
}

// RegisterContainersService serves svc's methods on srv.
func RegisterContainersService(srv *Server, svc ContainersService) {
	srv.register("/ctrd.v1.Containers/Create", func(ctx context.Context, params json.RawMessage) (any, error) {
		req := new(CreateContainerRequest)
		if err := decode(params, req); err != nil {
			return nil, err
		}
		return svc.Create(ctx, req)
	})
	srv.register("/ctrd.v1.Containers/Start", func(ctx context.Context, params json.RawMessage) (any, error) {
		req := new(StartContainerRequest)
		if err := decode(params, req); err != nil {
			return nil, err
		}
		return svc.Start(ctx, req)
	})
	srv.register("/ctrd.v1.Containers/Begin", func(ctx context.Context, params json.RawMessage) (any, error) {
		req := new(ContainerRequest)
		if err := decode(params, req); err != nil {
			return nil, err
		}
		return svc.Begin(ctx, req)
	})
	srv.register("/ctrd.v1.Containers/Attach", func(ctx context.Context, params json.RawMessage) (any, error) {
		req := new(ContainerRequest)
		if err := decode(params, req); err != nil {
			return nil, err
		}
		return svc.Attach(ctx, req)
	})
	srv.register("/ctrd.v1.Containers/Wait", func(ctx context.Context, params json.RawMessage) (any, error) {
		req := new(WaitContainerRequest)
		if err := decode(params, req); err != nil {
			return nil, err
		}
		return svc.Wait(ctx, req)
	})
	srv.register("/ctrd.v1.Containers/Stop", func(ctx context.Context, params json.RawMessage) (any, error) {
		req := new(StopContainerRequest)
		if err := decode(params, req); err != nil {
			return nil, err
		}
		return svc.Stop(ctx, req)
	})
	srv.register("/ctrd.v1.Containers/Restart", func(ctx context.Context, params json.RawMessage) (any, error) {
		req := new(StopContainerRequest)
		if err := decode(params, req); err != nil {
			return nil, err
		}
		return svc.Restart(ctx, req)
	})
	srv.register("/ctrd.v1.Containers/Kill", func(ctx context.Context, params json.RawMessage) (any, error) {
		req := new(KillContainerRequest)
		if err := decode(params, req); err != nil {
			return nil, err
		}
		return svc.Kill(ctx, req)
	})
	srv.register("/ctrd.v1.Containers/Pause", func(ctx context.Context, params json.RawMessage) (any, error) {
		req := new(ContainerRequest)
		if err := decode(params, req); err != nil {
			return nil, err
		}
		return svc.Pause(ctx, req)
	})
	srv.register("/ctrd.v1.Containers/Unpause", func(ctx context.Context, params json.RawMessage) (any, error) {
		req := new(ContainerRequest)
		if err := decode(params, req); err != nil {
			return nil, err
		}
		return svc.Unpause(ctx, req)
	})
	srv.register("/ctrd.v1.Containers/Remove", func(ctx context.Context, params json.RawMessage) (any, error) {
		req := new(RemoveContainerRequest)
		if err := decode(params, req); err != nil {
			return nil, err
		}
		return svc.Remove(ctx, req)
	})
	srv.register("/ctrd.v1.Containers/List", func(ctx context.Context, params json.RawMessage) (any, error) {
		req := new(ListContainersRequest)
		if err := decode(params, req); err != nil {
			return nil, err
		}
		return svc.List(ctx, req)
	})
	srv.register("/ctrd.v1.Containers/Inspect", func(ctx context.Context, params json.RawMessage) (any, error) {
		req := new(ContainerRequest)
		if err := decode(params, req); err != nil {
			return nil, err
		}
		return svc.Inspect(ctx, req)
	})
	srv.register("/ctrd.v1.Containers/Logs", func(ctx context.Context, params json.RawMessage) (any, error) {
		req := new(ContainerRequest)
		if err := decode(params, req); err != nil {
			return nil, err
		}
		return svc.Logs(ctx, req)
	})
	srv.register("/ctrd.v1.Containers/Rename", func(ctx context.Context, params json.RawMessage) (any, error) {
		req := new(RenameContainerRequest)
		if err := decode(params, req); err != nil {
			return nil, err
		}
		return svc.Rename(ctx, req)
	})
	srv.register("/ctrd.v1.Containers/Top", func(ctx context.Context, params json.RawMessage) (any, error) {
		req := new(ContainerRequest)
		if err := decode(params, req); err != nil {
			return nil, err
		}
		return svc.Top(ctx, req)
	})
	srv.register("/ctrd.v1.Containers/Diff", func(ctx context.Context, params json.RawMessage) (any, error) {
		req := new(ContainerRequest)
		if err := decode(params, req); err != nil {
			return nil, err
		}
		return svc.Diff(ctx, req)
	})
	srv.register("/ctrd.v1.Containers/Resize", func(ctx context.Context, params json.RawMessage) (any, error) {
		req := new(ResizeRequest)
		if err := decode(params, req); err != nil {
			return nil, err
		}
		return svc.Resize(ctx, req)
	})
	srv.register("/ctrd.v1.Containers/Update", func(ctx context.Context, params json.RawMessage) (any, error) {
		req := new(UpdateContainerRequest)
		if err := decode(params, req); err != nil {
			return nil, err
		}
		return svc.Update(ctx, req)
	})
	srv.register("/ctrd.v1.Containers/ExecCreate", func(ctx context.Context, params json.RawMessage) (any, error) {
		req := new(ExecCreateRequest)
		if err := decode(params, req); err != nil {
			return nil, err
		}
		return svc.ExecCreate(ctx, req)
	})
	srv.register("/ctrd.v1.Containers/ExecStart", func(ctx context.Context, params json.RawMessage) (any, error) {
		req := new(ExecStartRequest)
		if err := decode(params, req); err != nil {
			return nil, err
		}
		return svc.ExecStart(ctx, req)
	})
	srv.register("/ctrd.v1.Containers/ExecResize", func(ctx context.Context, params json.RawMessage) (any, error) {
		req := new(ExecResizeRequest)
		if err := decode(params, req); err != nil {
			return nil, err
		}
		return svc.ExecResize(ctx, req)
	})
	srv.register("/ctrd.v1.Containers/ExecInspect", func(ctx context.Context, params json.RawMessage) (any, error) {
		req := new(ExecStartRequest)
		if err := decode(params, req); err != nil {
			return nil, err
		}
		return svc.ExecInspect(ctx, req)
	})
	srv.register("/ctrd.v1.Containers/Commit", func(ctx context.Context, params json.RawMessage) (any, error) {
		req := new(CommitRequest)
		if err := decode(params, req); err != nil {
			return nil, err
		}
		return svc.Commit(ctx, req)
	})
}

type containersClient struct {
	c *rpc.Client
}

// NewContainersClient calls the Containers service over c.
func NewContainersClient(c *rpc.Client) ContainersService {
	return &containersClient{c}
}

func (c *containersClient) Create(ctx context.Context, req *CreateContainerRequest) (*CreateContainerResponse, error) {
	resp := new(CreateContainerResponse)
	if err := c.c.Call(ctx, "/ctrd.v1.Containers/Create", req, resp); err != nil {
		return nil, err
	}
	return resp, nil
}

func (c *containersClient) Start(ctx context.Context, req *StartContainerRequest) (*StartContainerResponse, error) {
	resp := new(StartContainerResponse)
	if err := c.c.Call(ctx, "/ctrd.v1.Containers/Start", req, resp); err != nil {
		return nil, err
	}
	return resp, nil
}

func (c *containersClient) Begin(ctx context.Context, req *ContainerRequest) (*Empty, error) {
	resp := new(Empty)
	if err := c.c.Call(ctx, "/ctrd.v1.Containers/Begin", req, resp); err != nil {
		return nil, err
	}
	return resp, nil
}

func (c *containersClient) Attach(ctx context.Context, req *ContainerRequest) (*AttachResponse, error) {
	resp := new(AttachResponse)
	if err := c.c.Call(ctx, "/ctrd.v1.Containers/Attach", req, resp); err != nil {
		return nil, err
	}
	return resp, nil
}

func (c *containersClient) Wait(ctx context.Context, req *WaitContainerRequest) (*WaitContainerResponse, error) {
	resp := new(WaitContainerResponse)
	if err := c.c.Call(ctx, "/ctrd.v1.Containers/Wait", req, resp); err != nil {
		return nil, err
	}
	return resp, nil
}

func (c *containersClient) Stop(ctx context.Context, req *StopContainerRequest) (*Empty, error) {
	resp := new(Empty)
	if err := c.c.Call(ctx, "/ctrd.v1.Containers/Stop", req, resp); err != nil {
		return nil, err
	}
	return resp, nil
}

func (c *containersClient) Restart(ctx context.Context, req *StopContainerRequest) (*Empty, error) {
	resp := new(Empty)
	if err := c.c.Call(ctx, "/ctrd.v1.Containers/Restart", req, resp); err != nil {
		return nil, err
	}
	return resp, nil
}

func (c *containersClient) Kill(ctx context.Context, req *KillContainerRequest) (*Empty, error) {
	resp := new(Empty)
	if err := c.c.Call(ctx, "/ctrd.v1.Containers/Kill", req, resp); err != nil {
		return nil, err
	}
	return resp, nil
}

func (c *containersClient) Pause(ctx context.Context, req *ContainerRequest) (*Empty, error) {
	resp := new(Empty)
	if err := c.c.Call(ctx, "/ctrd.v1.Containers/Pause", req, resp); err != nil {
		return nil, err
	}
	return resp, nil
}

func (c *containersClient) Unpause(ctx context.Context, req *ContainerRequest) (*Empty, error) {
	resp := new(Empty)
	if err := c.c.Call(ctx, "/ctrd.v1.Containers/Unpause", req, resp); err != nil {
		return nil, err
	}
	return resp, nil
}

func (c *containersClient) Remove(ctx context.Context, req *RemoveContainerRequest) (*Empty, error) {
	resp := new(Empty)
	if err := c.c.Call(ctx, "/ctrd.v1.Containers/Remove", req, resp); err != nil {
		return nil, err
	}
	return resp, nil
}

func (c *containersClient) List(ctx context.Context, req *ListContainersRequest) (*ListContainersResponse, error) {
	resp := new(ListContainersResponse)
	if err := c.c.Call(ctx, "/ctrd.v1.Containers/List", req, resp); err != nil {
		return nil, err
	}
	return resp, nil
}

func (c *containersClient) Inspect(ctx context.Context, req *ContainerRequest) (*InspectContainerResponse, error) {
	resp := new(InspectContainerResponse)
	if err := c.c.Call(ctx, "/ctrd.v1.Containers/Inspect", req, resp); err != nil {
		return nil, err
	}
	return resp, nil
}

func (c *containersClient) Logs(ctx context.Context, req *ContainerRequest) (*LogsResponse, error) {
	resp := new(LogsResponse)
	if err := c.c.Call(ctx, "/ctrd.v1.Containers/Logs", req, resp); err != nil {
		return nil, err
	}
	return resp, nil
}

func (c *containersClient) Rename(ctx context.Context, req *RenameContainerRequest) (*Empty, error) {
	resp := new(Empty)
	if err := c.c.Call(ctx, "/ctrd.v1.Containers/Rename", req, resp); err != nil {
		return nil, err
	}
	return resp, nil
}

func (c *containersClient) Top(ctx context.Context, req *ContainerRequest) (*TopResponse, error) {
	resp := new(TopResponse)
	if err := c.c.Call(ctx, "/ctrd.v1.Containers/Top", req, resp); err != nil {
		return nil, err
	}
	return resp, nil
}

func (c *containersClient) Diff(ctx context.Context, req *ContainerRequest) (*DiffResponse, error) {
	resp := new(DiffResponse)
	if err := c.c.Call(ctx, "/ctrd.v1.Containers/Diff", req, resp); err != nil {
		return nil, err
	}
	return resp, nil
}

func (c *containersClient) Resize(ctx context.Context, req *ResizeRequest) (*Empty, error) {
	resp := new(Empty)
	if err := c.c.Call(ctx, "/ctrd.v1.Containers/Resize", req, resp); err != nil {
		return nil, err
	}
	return resp, nil
}

func (c *containersClient) Update(ctx context.Context, req *UpdateContainerRequest) (*Empty, error) {
	resp := new(Empty)
	if err := c.c.Call(ctx, "/ctrd.v1.Containers/Update", req, resp); err != nil {
		return nil, err
	}
	return resp, nil
}

func (c *containersClient) ExecCreate(ctx context.Context, req *ExecCreateRequest) (*ExecCreateResponse, error) {
	resp := new(ExecCreateResponse)
	if err := c.c.Call(ctx, "/ctrd.v1.Containers/ExecCreate", req, resp); err != nil {
		return nil, err
	}
	return resp, nil
}

func (c *containersClient) ExecStart(ctx context.Context, req *ExecStartRequest) (*Empty, error) {
	resp := new(Empty)
	if err := c.c.Call(ctx, "/ctrd.v1.Containers/ExecStart", req, resp); err != nil {
		return nil, err
	}
	return resp, nil
}

func (c *containersClient) ExecResize(ctx context.Context, req *ExecResizeRequest) (*Empty, error) {
	resp := new(Empty)
	if err := c.c.Call(ctx, "/ctrd.v1.Containers/ExecResize", req, resp); err != nil {
		return nil, err
	}
	return resp, nil
}

func (c *containersClient) ExecInspect(ctx context.Context, req *ExecStartRequest) (*ExecInspectResponse, error) {
	resp := new(ExecInspectResponse)
	if err := c.c.Call(ctx, "/ctrd.v1.Containers/ExecInspect", req, resp); err != nil {
		return nil, err
	}
	return resp, nil
}

func (c *containersClient) Commit(ctx context.Context, req *CommitRequest) (*CommitResponse, error) {
	resp := new(CommitResponse)
	if err := c.c.Call(ctx, "/ctrd.v1.Containers/Commit", req, resp); err != nil {
		return nil, err
	}
	return resp, nil
}

type BuildsService interface {
	// Build reads the build context, a tar archive, from an upload (already
	// opened with Uploads.Open and written concurrently by the client),
	// builds the Dockerfile in it and streams the build's output. The stream
	// ends with one event carrying image_id (success) or error (failure).
	Build(ctx context.Context, req *BuildRequest, srv Builds_BuildServer) error
}

// Builds_BuildServer sends the events of a Build call.
type Builds_BuildServer interface {
	Send(*BuildEvent) error
}

// Builds_BuildClient receives the events of a Build call; Recv returns io.EOF
// after the last.
type Builds_BuildClient interface {
	Recv() (*BuildEvent, error)
}

// RegisterBuildsService serves svc's methods on srv.
func RegisterBuildsService(srv *Server, svc BuildsService) {
	srv.register("/ctrd.v1.Builds/Build", func(ctx context.Context, params json.RawMessage) (any, error) {
		req := new(BuildRequest)
		if err := decode(params, req); err != nil {
			return nil, err
		}
		return &Empty{}, svc.Build(ctx, req, sender[*BuildEvent]{ctx})
	})
}

type buildsClient struct {
	c *rpc.Client
}

// BuildsClient is the caller's side of the Builds service.
type BuildsClient interface {
	Build(ctx context.Context, req *BuildRequest) (Builds_BuildClient, error)
}

// NewBuildsClient calls the Builds service over c.
func NewBuildsClient(c *rpc.Client) BuildsClient {
	return &buildsClient{c}
}

func (c *buildsClient) Build(ctx context.Context, req *BuildRequest) (Builds_BuildClient, error) {
	return receive[BuildEvent](ctx, c.c, "/ctrd.v1.Builds/Build", req), nil
}
