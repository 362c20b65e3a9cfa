package api

// The API's messages. Fields carrying Docker-shaped documents (inspect
// output, lists) hold JSON, so that the CLI runs Docker's --format templates
// over exactly what `ctr inspect` prints.

// Empty is the request or reply of a call that carries nothing.
type Empty struct{}

type VersionResponse struct {
	Version    string `json:"version,omitempty"`
	GitCommit  string `json:"git_commit,omitempty"`
	GoVersion  string `json:"go_version,omitempty"`
	Os         string `json:"os,omitempty"`
	Arch       string `json:"arch,omitempty"`
	ApiVersion string `json:"api_version,omitempty"`
}

type InfoResponse struct {
	// JSON of api/types.Info.
	Json []byte `json:"json,omitempty"`
}

type OpenUploadResponse struct {
	Id string `json:"id,omitempty"`
	// fd_socket, when set, is a unix socket where a client reading a
	// regular file may hand the daemon the open file instead of writing
	// its bytes: one message carrying the upload id and the descriptor
	// (SCM_RIGHTS), answered by "ok" or an error line.
	FdSocket string `json:"fd_socket,omitempty"`
}

type WriteUploadRequest struct {
	Id string `json:"id,omitempty"`
	// Data travels as the call's bulk bytes (rpc.CallData), not in JSON.
	Data []byte `json:"-"`
}

func (r *WriteUploadRequest) bulk() []byte     { return r.Data }
func (r *WriteUploadRequest) setBulk(b []byte) { r.Data = b }

type CloseUploadRequest struct {
	Id string `json:"id,omitempty"`
	// error, when set, aborts the upload: the consumer sees this error
	// instead of end of input.
	Error string `json:"error,omitempty"`
}

type ImportRequest struct {
	UploadId string   `json:"upload_id,omitempty"`
	Ref      string   `json:"ref,omitempty"`
	Message  string   `json:"message,omitempty"`
	Changes  []string `json:"changes,omitempty"`
	// source names the input in the image history ("-", a file, a URL).
	Source string `json:"source,omitempty"`
}

type ImportResponse struct {
	Id string `json:"id,omitempty"`
}

type ListImagesRequest struct {
	All bool `json:"all,omitempty"`
}

type ImageSummary struct {
	Id          string   `json:"id,omitempty"`
	RepoTags    []string `json:"repo_tags,omitempty"`
	RepoDigests []string `json:"repo_digests,omitempty"`
	Created     int64    `json:"created,omitempty"` // unix seconds
	Size        int64    `json:"size,omitempty"`
	Parent      string   `json:"parent,omitempty"`
}

type ListImagesResponse struct {
	Images []*ImageSummary `json:"images,omitempty"`
}

type InspectImageRequest struct {
	Name string `json:"name,omitempty"`
}

type InspectImageResponse struct {
	// JSON of api/types.ImageInspect.
	Json []byte `json:"json,omitempty"`
}

type TagImageRequest struct {
	Source string `json:"source,omitempty"`
	Target string `json:"target,omitempty"`
}

type RemoveImageRequest struct {
	Name  string `json:"name,omitempty"`
	Force bool   `json:"force,omitempty"`
}

type RemoveImageResponse struct {
	Untagged []string `json:"untagged,omitempty"`
	Deleted  []string `json:"deleted,omitempty"`
}

type HistoryRequest struct {
	Name string `json:"name,omitempty"`
}

type HistoryItem struct {
	Id        string   `json:"id,omitempty"` // image id of that step, or "<missing>"
	Created   int64    `json:"created,omitempty"`
	CreatedBy string   `json:"created_by,omitempty"`
	Size      int64    `json:"size,omitempty"`
	Comment   string   `json:"comment,omitempty"`
	Tags      []string `json:"tags,omitempty"`
}

type HistoryResponse struct {
	Items []*HistoryItem `json:"items,omitempty"`
}

type CreateVolumeRequest struct {
	Name   string            `json:"name,omitempty"`
	Labels map[string]string `json:"labels,omitempty"`
}

type VolumeRequest struct {
	Name string `json:"name,omitempty"`
}

type VolumeResponse struct {
	// JSON of api/types.Volume (or a list of them for List).
	Json []byte `json:"json,omitempty"`
}

type RemoveVolumeRequest struct {
	Name  string `json:"name,omitempty"`
	Force bool   `json:"force,omitempty"`
}

type PruneVolumesRequest struct {
	All bool `json:"all,omitempty"`
}

type PruneVolumesResponse struct {
	Deleted        []string `json:"deleted,omitempty"`
	SpaceReclaimed uint64   `json:"space_reclaimed,omitempty"`
}

type CreateNetworkRequest struct {
	Name    string `json:"name,omitempty"`
	Subnet  string `json:"subnet,omitempty"`
	Gateway string `json:"gateway,omitempty"`
	Driver  string `json:"driver,omitempty"`
}

type NetworkRequest struct {
	Name string `json:"name,omitempty"`
}

type NetworkResponse struct {
	// JSON of a network (or a list of them for List).
	Json []byte `json:"json,omitempty"`
}

type ContainerRequest struct {
	Id string `json:"id,omitempty"` // name, ID or unique ID prefix
}

type CreateContainerRequest struct {
	Name string `json:"name,omitempty"`
	// JSON of api/types.CreateConfig.
	Config []byte `json:"config,omitempty"`
}

type CreateContainerResponse struct {
	Id       string   `json:"id,omitempty"`
	Warnings []string `json:"warnings,omitempty"`
}

type StartContainerRequest struct {
	Id          string `json:"id,omitempty"`
	AttachFirst bool   `json:"attach_first,omitempty"`
}

type StartContainerResponse struct {
	AttachSocket string   `json:"attach_socket,omitempty"`
	Tty          bool     `json:"tty,omitempty"`
	Warnings     []string `json:"warnings,omitempty"`
}

type AttachResponse struct {
	AttachSocket string `json:"attach_socket,omitempty"`
	Tty          bool   `json:"tty,omitempty"`
	Running      bool   `json:"running,omitempty"`
	OpenStdin    bool   `json:"open_stdin,omitempty"`
}

type WaitContainerRequest struct {
	Id string `json:"id,omitempty"`
	// "not-running" (default), "next-exit" or "removed".
	Condition string `json:"condition,omitempty"`
}

type WaitContainerResponse struct {
	ExitCode int32  `json:"exit_code,omitempty"`
	Error    string `json:"error,omitempty"`
}

type StopContainerRequest struct {
	Id string `json:"id,omitempty"`
	// Seconds to wait before SIGKILL; -1 means the container's default.
	Timeout int32  `json:"timeout,omitempty"`
	Signal  string `json:"signal,omitempty"`
}

type KillContainerRequest struct {
	Id     string `json:"id,omitempty"`
	Signal string `json:"signal,omitempty"`
}

type RemoveContainerRequest struct {
	Id      string `json:"id,omitempty"`
	Force   bool   `json:"force,omitempty"`
	Volumes bool   `json:"volumes,omitempty"`
}

type ListContainersRequest struct {
	All bool `json:"all,omitempty"`
}

type ListContainersResponse struct {
	// JSON array of api/types.ContainerSummary.
	Json []byte `json:"json,omitempty"`
}

type InspectContainerResponse struct {
	// JSON of api/types.ContainerJSON.
	Json []byte `json:"json,omitempty"`
}

type LogsResponse struct {
	Path    string `json:"path,omitempty"`
	Running bool   `json:"running,omitempty"`
	Tty     bool   `json:"tty,omitempty"`
}

type RenameContainerRequest struct {
	Id   string `json:"id,omitempty"`
	Name string `json:"name,omitempty"`
}

type TopResponse struct {
	Titles    []string  `json:"titles,omitempty"`
	Processes []*TopRow `json:"processes,omitempty"`
}

type TopRow struct {
	Fields []string `json:"fields,omitempty"`
}

type DiffResponse struct {
	Changes []*Change `json:"changes,omitempty"`
}

type Change struct {
	Kind string `json:"kind,omitempty"` // A, C or D
	Path string `json:"path,omitempty"`
}

type ResizeRequest struct {
	Id     string `json:"id,omitempty"`
	Width  uint32 `json:"width,omitempty"`
	Height uint32 `json:"height,omitempty"`
}

type UpdateContainerRequest struct {
	Id            string `json:"id,omitempty"`
	RestartPolicy string `json:"restart_policy,omitempty"`
}

type ExecCreateRequest struct {
	Id         string   `json:"id,omitempty"`
	Cmd        []string `json:"cmd,omitempty"`
	Env        []string `json:"env,omitempty"`
	Workdir    string   `json:"workdir,omitempty"`
	User       string   `json:"user,omitempty"`
	Tty        bool     `json:"tty,omitempty"`
	Stdin      bool     `json:"stdin,omitempty"`
	Privileged bool     `json:"privileged,omitempty"`
}

type ExecCreateResponse struct {
	ExecId       string `json:"exec_id,omitempty"`
	AttachSocket string `json:"attach_socket,omitempty"`
}

type ExecStartRequest struct {
	Id     string `json:"id,omitempty"`
	ExecId string `json:"exec_id,omitempty"`
}

type ExecResizeRequest struct {
	Id     string `json:"id,omitempty"`
	ExecId string `json:"exec_id,omitempty"`
	Width  uint32 `json:"width,omitempty"`
	Height uint32 `json:"height,omitempty"`
}

type ExecInspectResponse struct {
	Running  bool  `json:"running,omitempty"`
	ExitCode int32 `json:"exit_code,omitempty"`
	Pid      int32 `json:"pid,omitempty"`
}

type CommitRequest struct {
	Id      string   `json:"id,omitempty"`
	Ref     string   `json:"ref,omitempty"`
	Message string   `json:"message,omitempty"`
	Author  string   `json:"author,omitempty"`
	Changes []string `json:"changes,omitempty"`
	Pause   bool     `json:"pause,omitempty"`
}

type CommitResponse struct {
	ImageId string `json:"image_id,omitempty"`
}

type BuildRequest struct {
	// upload_id names the upload carrying the context tar.
	UploadId string `json:"upload_id,omitempty"`
	// dockerfile is the Dockerfile's path inside the context ("" for
	// "Dockerfile").
	Dockerfile string `json:"dockerfile,omitempty"`
	// tags name the final image (-t), NAME[:TAG] each.
	Tags []string `json:"tags,omitempty"`
	// build_args are --build-arg values, KEY=VALUE each; a bare KEY means
	// the argument is declared without a value.
	BuildArgs []string `json:"build_args,omitempty"`
	NoCache   bool     `json:"no_cache,omitempty"`
	Pull      bool     `json:"pull,omitempty"`
	// target is the stage to stop at (--target).
	Target string `json:"target,omitempty"`
	// labels are --label values, KEY=VALUE each, set on the final image.
	Labels []string `json:"labels,omitempty"`
	// quiet suppresses the step output (-q): only the result is sent.
	Quiet bool `json:"quiet,omitempty"`
}

type BuildEvent struct {
	// stream is build output text (steps, command output).
	Stream []byte `json:"stream,omitempty"`
	// error ends a failed build with Docker's message.
	Error string `json:"error,omitempty"`
	// image_id ends a successful build.
	ImageId string `json:"image_id,omitempty"`
}
