// Code below was generated once from the former protobuf definitions of
// the API and is maintained by hand: a service is an interface, served by
// Register<Service>Service and called through New<Service>Client.

package api

import (
	"context"

	"github.com/ctrd/ctrd/rpc"
)

type SystemService interface {
	Version(ctx context.Context, req *Empty) (*VersionResponse, error)
	Info(ctx context.Context, req *Empty) (*InfoResponse, error)
}

// RegisterSystemService serves svc's methods on srv.
func RegisterSystemService(srv *Server, svc SystemService) {
	srv.register("/ctrd.v1.System/Version", handle(svc.Version))
	srv.register("/ctrd.v1.System/Info", handle(svc.Info))
}

type systemClient struct {
	c *rpc.Client
}

// NewSystemClient calls the System service over c.
func NewSystemClient(c *rpc.Client) SystemService {
	return &systemClient{c}
}

func (c *systemClient) Version(ctx context.Context, req *Empty) (*VersionResponse, error) {
	return call[VersionResponse](ctx, c.c, "/ctrd.v1.System/Version", req)
}

func (c *systemClient) Info(ctx context.Context, req *Empty) (*InfoResponse, error) {
	return call[InfoResponse](ctx, c.c, "/ctrd.v1.System/Info", req)
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
	srv.register("/ctrd.v1.Uploads/Open", handle(svc.Open))
	srv.register("/ctrd.v1.Uploads/Write", handle(svc.Write))
	srv.register("/ctrd.v1.Uploads/Close", handle(svc.Close))
}

type uploadsClient struct {
	c *rpc.Client
}

// NewUploadsClient calls the Uploads service over c.
func NewUploadsClient(c *rpc.Client) UploadsService {
	return &uploadsClient{c}
}

func (c *uploadsClient) Open(ctx context.Context, req *Empty) (*OpenUploadResponse, error) {
	return call[OpenUploadResponse](ctx, c.c, "/ctrd.v1.Uploads/Open", req)
}

func (c *uploadsClient) Write(ctx context.Context, req *WriteUploadRequest) (*Empty, error) {
	return call[Empty](ctx, c.c, "/ctrd.v1.Uploads/Write", req)
}

func (c *uploadsClient) Close(ctx context.Context, req *CloseUploadRequest) (*Empty, error) {
	return call[Empty](ctx, c.c, "/ctrd.v1.Uploads/Close", req)
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
	srv.register("/ctrd.v1.Images/Import", handle(svc.Import))
	srv.register("/ctrd.v1.Images/List", handle(svc.List))
	srv.register("/ctrd.v1.Images/Inspect", handle(svc.Inspect))
	srv.register("/ctrd.v1.Images/Tag", handle(svc.Tag))
	srv.register("/ctrd.v1.Images/Remove", handle(svc.Remove))
	srv.register("/ctrd.v1.Images/History", handle(svc.History))
}

type imagesClient struct {
	c *rpc.Client
}

// NewImagesClient calls the Images service over c.
func NewImagesClient(c *rpc.Client) ImagesService {
	return &imagesClient{c}
}

func (c *imagesClient) Import(ctx context.Context, req *ImportRequest) (*ImportResponse, error) {
	return call[ImportResponse](ctx, c.c, "/ctrd.v1.Images/Import", req)
}

func (c *imagesClient) List(ctx context.Context, req *ListImagesRequest) (*ListImagesResponse, error) {
	return call[ListImagesResponse](ctx, c.c, "/ctrd.v1.Images/List", req)
}

func (c *imagesClient) Inspect(ctx context.Context, req *InspectImageRequest) (*InspectImageResponse, error) {
	return call[InspectImageResponse](ctx, c.c, "/ctrd.v1.Images/Inspect", req)
}

func (c *imagesClient) Tag(ctx context.Context, req *TagImageRequest) (*Empty, error) {
	return call[Empty](ctx, c.c, "/ctrd.v1.Images/Tag", req)
}

func (c *imagesClient) Remove(ctx context.Context, req *RemoveImageRequest) (*RemoveImageResponse, error) {
	return call[RemoveImageResponse](ctx, c.c, "/ctrd.v1.Images/Remove", req)
}

func (c *imagesClient) History(ctx context.Context, req *HistoryRequest) (*HistoryResponse, error) {
	return call[HistoryResponse](ctx, c.c, "/ctrd.v1.Images/History", req)
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
	srv.register("/ctrd.v1.Volumes/Create", handle(svc.Create))
	srv.register("/ctrd.v1.Volumes/List", handle(svc.List))
	srv.register("/ctrd.v1.Volumes/Inspect", handle(svc.Inspect))
	srv.register("/ctrd.v1.Volumes/Remove", handle(svc.Remove))
	srv.register("/ctrd.v1.Volumes/Prune", handle(svc.Prune))
}

type volumesClient struct {
	c *rpc.Client
}

// NewVolumesClient calls the Volumes service over c.
func NewVolumesClient(c *rpc.Client) VolumesService {
	return &volumesClient{c}
}

func (c *volumesClient) Create(ctx context.Context, req *CreateVolumeRequest) (*VolumeResponse, error) {
	return call[VolumeResponse](ctx, c.c, "/ctrd.v1.Volumes/Create", req)
}

func (c *volumesClient) List(ctx context.Context, req *Empty) (*VolumeResponse, error) {
	return call[VolumeResponse](ctx, c.c, "/ctrd.v1.Volumes/List", req)
}

func (c *volumesClient) Inspect(ctx context.Context, req *VolumeRequest) (*VolumeResponse, error) {
	return call[VolumeResponse](ctx, c.c, "/ctrd.v1.Volumes/Inspect", req)
}

func (c *volumesClient) Remove(ctx context.Context, req *RemoveVolumeRequest) (*Empty, error) {
	return call[Empty](ctx, c.c, "/ctrd.v1.Volumes/Remove", req)
}

func (c *volumesClient) Prune(ctx context.Context, req *PruneVolumesRequest) (*PruneVolumesResponse, error) {
	return call[PruneVolumesResponse](ctx, c.c, "/ctrd.v1.Volumes/Prune", req)
}

type NetworksService interface {
	Create(ctx context.Context, req *CreateNetworkRequest) (*NetworkResponse, error)
	List(ctx context.Context, req *Empty) (*NetworkResponse, error)
	Inspect(ctx context.Context, req *NetworkRequest) (*NetworkResponse, error)
	Remove(ctx context.Context, req *NetworkRequest) (*Empty, error)
}

// RegisterNetworksService serves svc's methods on srv.
func RegisterNetworksService(srv *Server, svc NetworksService) {
	srv.register("/ctrd.v1.Networks/Create", handle(svc.Create))
	srv.register("/ctrd.v1.Networks/List", handle(svc.List))
	srv.register("/ctrd.v1.Networks/Inspect", handle(svc.Inspect))
	srv.register("/ctrd.v1.Networks/Remove", handle(svc.Remove))
}

type networksClient struct {
	c *rpc.Client
}

// NewNetworksClient calls the Networks service over c.
func NewNetworksClient(c *rpc.Client) NetworksService {
	return &networksClient{c}
}

func (c *networksClient) Create(ctx context.Context, req *CreateNetworkRequest) (*NetworkResponse, error) {
	return call[NetworkResponse](ctx, c.c, "/ctrd.v1.Networks/Create", req)
}

func (c *networksClient) List(ctx context.Context, req *Empty) (*NetworkResponse, error) {
	return call[NetworkResponse](ctx, c.c, "/ctrd.v1.Networks/List", req)
}

func (c *networksClient) Inspect(ctx context.Context, req *NetworkRequest) (*NetworkResponse, error) {
	return call[NetworkResponse](ctx, c.c, "/ctrd.v1.Networks/Inspect", req)
}

func (c *networksClient) Remove(ctx context.Context, req *NetworkRequest) (*Empty, error) {
	return call[Empty](ctx, c.c, "/ctrd.v1.Networks/Remove", req)
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
	srv.register("/ctrd.v1.Containers/Create", handle(svc.Create))
	srv.register("/ctrd.v1.Containers/Start", handle(svc.Start))
	srv.register("/ctrd.v1.Containers/Begin", handle(svc.Begin))
	srv.register("/ctrd.v1.Containers/Attach", handle(svc.Attach))
	srv.register("/ctrd.v1.Containers/Wait", handle(svc.Wait))
	srv.register("/ctrd.v1.Containers/Stop", handle(svc.Stop))
	srv.register("/ctrd.v1.Containers/Restart", handle(svc.Restart))
	srv.register("/ctrd.v1.Containers/Kill", handle(svc.Kill))
	srv.register("/ctrd.v1.Containers/Pause", handle(svc.Pause))
	srv.register("/ctrd.v1.Containers/Unpause", handle(svc.Unpause))
	srv.register("/ctrd.v1.Containers/Remove", handle(svc.Remove))
	srv.register("/ctrd.v1.Containers/List", handle(svc.List))
	srv.register("/ctrd.v1.Containers/Inspect", handle(svc.Inspect))
	srv.register("/ctrd.v1.Containers/Logs", handle(svc.Logs))
	srv.register("/ctrd.v1.Containers/Rename", handle(svc.Rename))
	srv.register("/ctrd.v1.Containers/Top", handle(svc.Top))
	srv.register("/ctrd.v1.Containers/Diff", handle(svc.Diff))
	srv.register("/ctrd.v1.Containers/Resize", handle(svc.Resize))
	srv.register("/ctrd.v1.Containers/Update", handle(svc.Update))
	srv.register("/ctrd.v1.Containers/ExecCreate", handle(svc.ExecCreate))
	srv.register("/ctrd.v1.Containers/ExecStart", handle(svc.ExecStart))
	srv.register("/ctrd.v1.Containers/ExecResize", handle(svc.ExecResize))
	srv.register("/ctrd.v1.Containers/ExecInspect", handle(svc.ExecInspect))
	srv.register("/ctrd.v1.Containers/Commit", handle(svc.Commit))
}

type containersClient struct {
	c *rpc.Client
}

// NewContainersClient calls the Containers service over c.
func NewContainersClient(c *rpc.Client) ContainersService {
	return &containersClient{c}
}

func (c *containersClient) Create(ctx context.Context, req *CreateContainerRequest) (*CreateContainerResponse, error) {
	return call[CreateContainerResponse](ctx, c.c, "/ctrd.v1.Containers/Create", req)
}

func (c *containersClient) Start(ctx context.Context, req *StartContainerRequest) (*StartContainerResponse, error) {
	return call[StartContainerResponse](ctx, c.c, "/ctrd.v1.Containers/Start", req)
}

func (c *containersClient) Begin(ctx context.Context, req *ContainerRequest) (*Empty, error) {
	return call[Empty](ctx, c.c, "/ctrd.v1.Containers/Begin", req)
}

func (c *containersClient) Attach(ctx context.Context, req *ContainerRequest) (*AttachResponse, error) {
	return call[AttachResponse](ctx, c.c, "/ctrd.v1.Containers/Attach", req)
}

func (c *containersClient) Wait(ctx context.Context, req *WaitContainerRequest) (*WaitContainerResponse, error) {
	return call[WaitContainerResponse](ctx, c.c, "/ctrd.v1.Containers/Wait", req)
}

func (c *containersClient) Stop(ctx context.Context, req *StopContainerRequest) (*Empty, error) {
	return call[Empty](ctx, c.c, "/ctrd.v1.Containers/Stop", req)
}

func (c *containersClient) Restart(ctx context.Context, req *StopContainerRequest) (*Empty, error) {
	return call[Empty](ctx, c.c, "/ctrd.v1.Containers/Restart", req)
}

func (c *containersClient) Kill(ctx context.Context, req *KillContainerRequest) (*Empty, error) {
	return call[Empty](ctx, c.c, "/ctrd.v1.Containers/Kill", req)
}

func (c *containersClient) Pause(ctx context.Context, req *ContainerRequest) (*Empty, error) {
	return call[Empty](ctx, c.c, "/ctrd.v1.Containers/Pause", req)
}

func (c *containersClient) Unpause(ctx context.Context, req *ContainerRequest) (*Empty, error) {
	return call[Empty](ctx, c.c, "/ctrd.v1.Containers/Unpause", req)
}

func (c *containersClient) Remove(ctx context.Context, req *RemoveContainerRequest) (*Empty, error) {
	return call[Empty](ctx, c.c, "/ctrd.v1.Containers/Remove", req)
}

func (c *containersClient) List(ctx context.Context, req *ListContainersRequest) (*ListContainersResponse, error) {
	return call[ListContainersResponse](ctx, c.c, "/ctrd.v1.Containers/List", req)
}

func (c *containersClient) Inspect(ctx context.Context, req *ContainerRequest) (*InspectContainerResponse, error) {
	return call[InspectContainerResponse](ctx, c.c, "/ctrd.v1.Containers/Inspect", req)
}

func (c *containersClient) Logs(ctx context.Context, req *ContainerRequest) (*LogsResponse, error) {
	return call[LogsResponse](ctx, c.c, "/ctrd.v1.Containers/Logs", req)
}

func (c *containersClient) Rename(ctx context.Context, req *RenameContainerRequest) (*Empty, error) {
	return call[Empty](ctx, c.c, "/ctrd.v1.Containers/Rename", req)
}

func (c *containersClient) Top(ctx context.Context, req *ContainerRequest) (*TopResponse, error) {
	return call[TopResponse](ctx, c.c, "/ctrd.v1.Containers/Top", req)
}

func (c *containersClient) Diff(ctx context.Context, req *ContainerRequest) (*DiffResponse, error) {
	return call[DiffResponse](ctx, c.c, "/ctrd.v1.Containers/Diff", req)
}

func (c *containersClient) Resize(ctx context.Context, req *ResizeRequest) (*Empty, error) {
	return call[Empty](ctx, c.c, "/ctrd.v1.Containers/Resize", req)
}

func (c *containersClient) Update(ctx context.Context, req *UpdateContainerRequest) (*Empty, error) {
	return call[Empty](ctx, c.c, "/ctrd.v1.Containers/Update", req)
}

func (c *containersClient) ExecCreate(ctx context.Context, req *ExecCreateRequest) (*ExecCreateResponse, error) {
	return call[ExecCreateResponse](ctx, c.c, "/ctrd.v1.Containers/ExecCreate", req)
}

func (c *containersClient) ExecStart(ctx context.Context, req *ExecStartRequest) (*Empty, error) {
	return call[Empty](ctx, c.c, "/ctrd.v1.Containers/ExecStart", req)
}

func (c *containersClient) ExecResize(ctx context.Context, req *ExecResizeRequest) (*Empty, error) {
	return call[Empty](ctx, c.c, "/ctrd.v1.Containers/ExecResize", req)
}

func (c *containersClient) ExecInspect(ctx context.Context, req *ExecStartRequest) (*ExecInspectResponse, error) {
	return call[ExecInspectResponse](ctx, c.c, "/ctrd.v1.Containers/ExecInspect", req)
}

func (c *containersClient) Commit(ctx context.Context, req *CommitRequest) (*CommitResponse, error) {
	return call[CommitResponse](ctx, c.c, "/ctrd.v1.Containers/Commit", req)
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
	srv.register("/ctrd.v1.Builds/Build", handleStream(svc.Build))
}

// BuildsClient is the caller's side of the Builds service.
type BuildsClient interface {
	Build(ctx context.Context, req *BuildRequest) (Builds_BuildClient, error)
}

type buildsClient struct {
	c *rpc.Client
}

// NewBuildsClient calls the Builds service over c.
func NewBuildsClient(c *rpc.Client) BuildsClient {
	return &buildsClient{c}
}

func (c *buildsClient) Build(ctx context.Context, req *BuildRequest) (Builds_BuildClient, error) {
	return receive[BuildEvent](ctx, c.c, "/ctrd.v1.Builds/Build", req), nil
}
