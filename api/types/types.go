// Package types holds the Docker-shaped documents that ctrd returns as JSON
// (inspect, info). Field names and layout follow Docker's API so that the
// same --format templates work with ctr.
package types

import "time"

// HealthConfig is Docker's healthcheck configuration.
type HealthConfig struct {
	Test          []string      `json:",omitempty"`
	Interval      time.Duration `json:",omitempty"`
	Timeout       time.Duration `json:",omitempty"`
	StartPeriod   time.Duration `json:",omitempty"`
	StartInterval time.Duration `json:",omitempty"`
	Retries       int           `json:",omitempty"`
}

// Config is the container configuration embedded in image and container
// inspect output (Docker's container.Config).
type Config struct {
	Hostname     string
	Domainname   string
	User         string
	AttachStdin  bool
	AttachStdout bool
	AttachStderr bool
	ExposedPorts map[string]struct{} `json:",omitempty"`
	Tty          bool
	OpenStdin    bool
	StdinOnce    bool
	Env          []string
	Cmd          []string
	Healthcheck  *HealthConfig `json:",omitempty"`
	ArgsEscaped  bool          `json:",omitempty"`
	Image        string
	Volumes      map[string]struct{}
	WorkingDir   string
	Entrypoint   []string
	OnBuild      []string
	Labels       map[string]string
	StopSignal   string   `json:",omitempty"`
	Shell        []string `json:",omitempty"`
}

// GraphDriver names the storage driver and its directories.
type GraphDriver struct {
	Name string
	Data map[string]string
}

// RootFS lists an image's layers by diff ID.
type RootFS struct {
	Type   string
	Layers []string `json:",omitempty"`
}

// ImageMetadata holds ctrd-local facts about an image.
type ImageMetadata struct {
	LastTagTime time.Time `json:",omitempty"`
}

// ImageInspect is `ctr inspect IMAGE`.
type ImageInspect struct {
	ID            string `json:"Id"`
	RepoTags      []string
	RepoDigests   []string
	Parent        string
	Comment       string
	Created       string
	DockerVersion string
	Author        string
	Config        *Config
	Architecture  string
	Os            string
	Size          int64
	GraphDriver   GraphDriver
	RootFS        RootFS
	Metadata      ImageMetadata
}

// Info is `ctr info`.
type Info struct {
	ID                string
	Containers        int
	ContainersRunning int
	ContainersPaused  int
	ContainersStopped int
	Images            int
	Driver            string
	LoggingDriver     string
	CgroupDriver      string
	CgroupVersion     string
	KernelVersion     string
	OperatingSystem   string
	OSType            string
	Architecture      string
	NCPU              int
	MemTotal          int64
	Name              string
	ServerVersion     string
	DataRoot          string `json:"DockerRootDir"`
	ExecRoot          string
	IPv4Forwarding    bool
	Debug             bool
	Warnings          []string
}
