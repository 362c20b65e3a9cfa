package types

// RestartPolicy is HostConfig.RestartPolicy.
type RestartPolicy struct {
	Name              string
	MaximumRetryCount int
}

// PortBinding is one host side of a published port.
type PortBinding struct {
	HostIP   string `json:"HostIp"`
	HostPort string
}

// LogConfig selects and tunes the json-file log.
type LogConfig struct {
	Type   string
	Config map[string]string
}

// Ulimit is one --ulimit.
type Ulimit struct {
	Name string
	Hard int64
	Soft int64
}

// HostConfig is how a container is run on this host (Docker's HostConfig).
type HostConfig struct {
	Binds           []string
	Mounts          []string `json:"MountSpecs,omitempty"` // --mount specs as typed
	Tmpfs           []string `json:",omitempty"`
	LogConfig       LogConfig
	NetworkMode     string
	PortBindings    map[string][]PortBinding
	PortSpecs       []string `json:",omitempty"` // -p as typed
	RestartPolicy   RestartPolicy
	AutoRemove      bool
	CapAdd          []string
	CapDrop         []string
	DNS             []string `json:"Dns"`
	DNSOptions      []string `json:"DnsOptions"`
	DNSSearch       []string `json:"DnsSearch"`
	ExtraHosts      []string
	Privileged      bool
	PublishAllPorts bool
	ReadonlyRootfs  bool
	SecurityOpt     []string
	Init            *bool `json:",omitempty"`
	Memory          int64
	MemorySwap      int64
	NanoCPUs        int64 `json:"NanoCpus"`
	PidsLimit       *int64
	Ulimits         []Ulimit
	CgroupParent    string
}

// CreateConfig is what `ctr create` / `ctr run` send to the daemon.
type CreateConfig struct {
	Config     Config
	HostConfig HostConfig
	// EntrypointSet records that --entrypoint was given (even empty).
	EntrypointSet bool `json:",omitempty"`
}

// ContainerState is State in `ctr inspect`.
type ContainerState struct {
	Status     string // created, running, paused, restarting, removing, exited, dead
	Running    bool
	Paused     bool
	Restarting bool
	OOMKilled  bool
	Dead       bool
	Pid        int
	ExitCode   int
	Error      string
	StartedAt  string
	FinishedAt string
}

// MountPoint is one entry of Mounts in `ctr inspect`.
type MountPoint struct {
	Type        string
	Name        string `json:",omitempty"`
	Source      string
	Destination string
	Driver      string `json:",omitempty"`
	Mode        string
	RW          bool
	Propagation string
}

// EndpointSettings describes a container on one network.
type EndpointSettings struct {
	NetworkID   string
	EndpointID  string
	Gateway     string
	IPAddress   string
	IPPrefixLen int
	MacAddress  string
	Aliases     []string
}

// NetworkSettings is NetworkSettings in `ctr inspect`.
type NetworkSettings struct {
	Bridge      string
	SandboxKey  string
	Ports       map[string][]PortBinding
	Gateway     string
	IPAddress   string
	IPPrefixLen int
	MacAddress  string
	Networks    map[string]*EndpointSettings
}

// ContainerJSON is `ctr inspect CONTAINER`.
type ContainerJSON struct {
	ID              string `json:"Id"`
	Created         string
	Path            string
	Args            []string
	State           *ContainerState
	Image           string
	ResolvConfPath  string
	HostnamePath    string
	HostsPath       string
	LogPath         string
	Name            string
	RestartCount    int
	Driver          string
	Platform        string
	MountLabel      string
	ProcessLabel    string
	AppArmorProfile string
	HostConfig      *HostConfig
	GraphDriver     GraphDriver
	Mounts          []MountPoint
	Config          *Config
	NetworkSettings *NetworkSettings
}

// Port is one published or exposed port in `ctr ps`.
type Port struct {
	IP          string `json:",omitempty"`
	PrivatePort uint16
	PublicPort  uint16 `json:",omitempty"`
	Type        string
}

// ContainerSummary is one row of `ctr ps`.
type ContainerSummary struct {
	ID         string `json:"Id"`
	Names      []string
	Image      string
	ImageID    string
	Command    string
	Created    int64
	Ports      []Port
	SizeRw     int64 `json:",omitempty"`
	Labels     map[string]string
	State      string
	Status     string
	Mounts     []MountPoint
	Networks   []string
	StartedAt  int64 `json:",omitempty"`
	FinishedAt int64 `json:",omitempty"`
	ExitCode   int
}
