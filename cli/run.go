package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/ctrd/ctrd/api"
	"github.com/ctrd/ctrd/api/errdefs"
	"github.com/ctrd/ctrd/api/types"
	units "github.com/docker/go-units"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// runOptions are the flags shared by create and run.
type runOptions struct {
	name, workdir, user, hostname, entrypoint, restart, network   string
	env, envFile, labels, publish, expose, volumes, mounts, tmpfs []string
	capAdd, capDrop, securityOpt, dns, dnsSearch, dnsOpt, addHost []string
	logOpts                                                       []string
	logDriver                                                     string
	stdin, tty, rm, privileged, init, publishAll, readOnly        bool
	memory, memorySwap                                            string
	cpus                                                          float64
	pidsLimit                                                     int64
	stopSignal                                                    string
}

func addRunFlags(f *pflag.FlagSet, o *runOptions) {
	f.SetInterspersed(false)
	f.Bool("help", false, "Print usage") // -h is --hostname, as in Docker
	f.StringVar(&o.name, "name", "", "Assign a name to the container")
	f.BoolVarP(&o.stdin, "interactive", "i", false, "Keep STDIN open even if not attached")
	f.BoolVarP(&o.tty, "tty", "t", false, "Allocate a pseudo-TTY")
	stringArrayVar(f, &o.env, "env", "e", "Set environment variables")
	stringArrayVar(f, &o.envFile, "env-file", "", "Read in a file of environment variables")
	stringArrayVar(f, &o.labels, "label", "l", "Set meta data on a container")
	f.StringVarP(&o.workdir, "workdir", "w", "", "Working directory inside the container")
	f.StringVarP(&o.user, "user", "u", "", "Username or UID (format: <name|uid>[:<group|gid>])")
	f.StringVarP(&o.hostname, "hostname", "h", "", "Container host name")
	f.StringVar(&o.entrypoint, "entrypoint", "", "Overwrite the default ENTRYPOINT of the image")
	f.BoolVar(&o.rm, "rm", false, "Automatically remove the container when it exits")
	f.BoolVar(&o.init, "init", false, "Run an init inside the container that forwards signals and reaps processes")
	f.BoolVar(&o.privileged, "privileged", false, "Give extended privileges to this container")
	stringArrayVar(f, &o.capAdd, "cap-add", "", "Add Linux capabilities")
	stringArrayVar(f, &o.capDrop, "cap-drop", "", "Drop Linux capabilities")
	stringArrayVar(f, &o.securityOpt, "security-opt", "", "Security Options")
	f.StringVarP(&o.memory, "memory", "m", "", "Memory limit")
	f.StringVar(&o.memorySwap, "memory-swap", "", "Swap limit equal to memory plus swap: '-1' to enable unlimited swap")
	f.Float64Var(&o.cpus, "cpus", 0, "Number of CPUs")
	f.Int64Var(&o.pidsLimit, "pids-limit", 0, "Tune container pids limit (set -1 for unlimited)")
	f.StringVar(&o.restart, "restart", "no", "Restart policy to apply when a container exits")
	stringArrayVar(f, &o.publish, "publish", "p", "Publish a container's port(s) to the host")
	f.BoolVarP(&o.publishAll, "publish-all", "P", false, "Publish all exposed ports to random ports")
	stringArrayVar(f, &o.expose, "expose", "", "Expose a port or a range of ports")
	f.StringVar(&o.network, "network", "", "Connect a container to a network (bridge, host, none or a network name)")
	stringArrayVar(f, &o.dns, "dns", "", "Set custom DNS servers")
	stringArrayVar(f, &o.dnsSearch, "dns-search", "", "Set custom DNS search domains")
	stringArrayVar(f, &o.dnsOpt, "dns-option", "", "Set DNS options")
	stringArrayVar(f, &o.addHost, "add-host", "", "Add a custom host-to-IP mapping (host:ip)")
	stringArrayVar(f, &o.volumes, "volume", "v", "Bind mount a volume")
	stringArrayVar(f, &o.mounts, "mount", "", "Attach a filesystem mount to the container")
	stringArrayVar(f, &o.tmpfs, "tmpfs", "", "Mount a tmpfs directory")
	f.BoolVar(&o.readOnly, "read-only", false, "Mount the container's root filesystem as read only")
	f.StringVar(&o.logDriver, "log-driver", "", "Logging driver for the container (json-file)")
	stringArrayVar(f, &o.logOpts, "log-opt", "", "Log driver options (max-size, max-file)")
	f.StringVar(&o.stopSignal, "stop-signal", "", "Signal to stop the container")
}

// createConfig turns flags and arguments into the daemon's create request.
func (o *runOptions) createConfig(cmd *cobra.Command, args []string) (types.CreateConfig, error) {
	var cc types.CreateConfig
	cfg := &cc.Config
	hc := &cc.HostConfig
	cfg.Image = args[0]
	if len(args) > 1 {
		cfg.Cmd = args[1:]
	}
	cfg.Tty = o.tty
	cfg.OpenStdin = o.stdin
	cfg.AttachStdin = o.stdin
	cfg.StdinOnce = o.stdin
	cfg.WorkingDir = o.workdir
	cfg.User = o.user
	cfg.Hostname = o.hostname
	cfg.StopSignal = o.stopSignal
	if cmd.Flags().Changed("entrypoint") {
		cc.EntrypointSet = true
		if o.entrypoint != "" {
			cfg.Entrypoint = []string{o.entrypoint}
		}
	}
	for _, f := range o.envFile {
		env, err := readEnvFile(f)
		if err != nil {
			return cc, err
		}
		cfg.Env = append(cfg.Env, env...)
	}
	for _, e := range o.env {
		kv, err := parseEnv(e)
		if err != nil {
			return cc, err
		}
		if kv != "" {
			cfg.Env = append(cfg.Env, kv)
		}
	}
	if len(o.labels) > 0 {
		cfg.Labels = map[string]string{}
		for _, l := range o.labels {
			k, v, _ := strings.Cut(l, "=")
			if k == "" {
				return cc, fmt.Errorf("invalid label %q: use KEY=VALUE", l)
			}
			cfg.Labels[k] = v
		}
	}
	for _, e := range o.expose {
		if cfg.ExposedPorts == nil {
			cfg.ExposedPorts = map[string]struct{}{}
		}
		p := e
		if !strings.Contains(p, "/") {
			p += "/tcp"
		}
		cfg.ExposedPorts[p] = struct{}{}
	}
	hc.AutoRemove = o.rm
	hc.Privileged = o.privileged
	hc.CapAdd = o.capAdd
	hc.CapDrop = o.capDrop
	hc.SecurityOpt = o.securityOpt
	hc.ReadonlyRootfs = o.readOnly
	if o.init {
		t := true
		hc.Init = &t
	}
	if o.memory != "" {
		n, err := units.RAMInBytes(o.memory)
		if err != nil {
			return cc, fmt.Errorf("invalid argument %q for \"-m, --memory\" flag: %v", o.memory, err)
		}
		hc.Memory = n
	}
	if o.memorySwap != "" {
		if o.memorySwap == "-1" {
			hc.MemorySwap = -1
		} else {
			n, err := units.RAMInBytes(o.memorySwap)
			if err != nil {
				return cc, fmt.Errorf("invalid argument %q for \"--memory-swap\" flag: %v", o.memorySwap, err)
			}
			hc.MemorySwap = n
		}
	}
	if o.cpus < 0 {
		return cc, fmt.Errorf("invalid argument %v for \"--cpus\" flag: must be positive", o.cpus)
	}
	hc.NanoCPUs = int64(o.cpus * 1e9)
	if cmd.Flags().Changed("pids-limit") {
		v := o.pidsLimit
		hc.PidsLimit = &v
	}
	name, count, _ := strings.Cut(o.restart, ":")
	hc.RestartPolicy.Name = name
	if count != "" {
		n, err := strconv.Atoi(count)
		if err != nil {
			return cc, fmt.Errorf("invalid restart policy %q: maximum retry count must be an integer", o.restart)
		}
		hc.RestartPolicy.MaximumRetryCount = n
	}
	hc.NetworkMode = o.network
	hc.PortSpecs = o.publish
	hc.PublishAllPorts = o.publishAll
	hc.DNS = o.dns
	hc.DNSSearch = o.dnsSearch
	hc.DNSOptions = o.dnsOpt
	hc.ExtraHosts = o.addHost
	hc.Binds = o.volumes
	hc.Mounts = o.mounts
	hc.Tmpfs = o.tmpfs
	hc.LogConfig.Type = o.logDriver
	for _, lo := range o.logOpts {
		k, v, ok := strings.Cut(lo, "=")
		if !ok {
			return cc, fmt.Errorf("invalid log opt %q: use KEY=VALUE", lo)
		}
		if hc.LogConfig.Config == nil {
			hc.LogConfig.Config = map[string]string{}
		}
		hc.LogConfig.Config[k] = v
	}
	return cc, nil
}

// parseEnv is Docker's -e: KEY=VALUE, or KEY to copy it from this
// environment (dropped when unset).
func parseEnv(e string) (string, error) {
	k, _, hasValue := strings.Cut(e, "=")
	if k == "" || strings.ContainsAny(k, " \t") {
		return "", fmt.Errorf("invalid environment variable: %s", e)
	}
	if hasValue {
		return e, nil
	}
	if v, ok := os.LookupEnv(k); ok {
		return k + "=" + v, nil
	}
	return "", nil
}

func readEnvFile(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open env file: %w", err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		kv, err := parseEnv(line)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, n, err)
		}
		if kv != "" {
			out = append(out, kv)
		}
	}
	return out, sc.Err()
}

func (c *CLI) createContainer(ctx context.Context, cl *api.Client, name string, cc types.CreateConfig) (string, error) {
	b, err := json.Marshal(cc)
	if err != nil {
		return "", err
	}
	resp, err := cl.Containers.Create(ctx, &api.CreateContainerRequest{Name: name, Config: b})
	if err != nil {
		if errdefs.IsNotFound(err) && strings.HasPrefix(errdefs.Message(err), "Unable to find image") {
			fmt.Fprintln(c.Err, errdefs.Message(err))
			return "", &StatusError{Status: "ctr: Error response from daemon: No such image: " + cc.Config.Image, Code: 125}
		}
		return "", &StatusError{Status: "ctr: Error response from daemon: " + errdefs.Message(err), Code: 125}
	}
	for _, w := range resp.Warnings {
		fmt.Fprintln(c.Err, "WARNING: "+w)
	}
	return resp.Id, nil
}

func (c *CLI) createCommand() *cobra.Command {
	var o runOptions
	cmd := &cobra.Command{
		Use:   "create [OPTIONS] IMAGE [COMMAND] [ARG...]",
		Short: "Create a new container",
		Args:  minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cc, err := o.createConfig(cmd, args)
			if err != nil {
				return &StatusError{Status: "ctr: " + err.Error(), Code: 125}
			}
			cl, err := c.Client(cmd.Context())
			if err != nil {
				return exit125(err)
			}
			id, err := c.createContainer(cmd.Context(), cl, o.name, cc)
			if err != nil {
				return err
			}
			fmt.Fprintln(c.Out, id)
			return nil
		},
	}
	c.lazyFlags(cmd, func(f *pflag.FlagSet) { addRunFlags(f, &o) })
	return cmd
}

func (c *CLI) runCommand() *cobra.Command {
	var (
		o      runOptions
		detach bool
	)
	cmd := &cobra.Command{
		Use:   "run [OPTIONS] IMAGE [COMMAND] [ARG...]",
		Short: "Create and run a new container from an image",
		Args:  minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			cc, err := o.createConfig(cmd, args)
			if err != nil {
				return &StatusError{Status: "ctr: " + err.Error(), Code: 125}
			}
			cl, err := c.Client(ctx)
			if err != nil {
				return exit125(err)
			}
			id, err := c.createContainer(ctx, cl, o.name, cc)
			if err != nil {
				return err
			}
			if detach {
				if _, err := cl.Containers.Start(ctx, &api.StartContainerRequest{Id: id}); err != nil {
					return c.startFailed(ctx, cl, id, o.rm, err)
				}
				fmt.Fprintln(c.Out, id)
				return nil
			}
			return c.startAttached(ctx, cl, id, o.stdin, o.tty, o.rm)
		},
	}
	c.lazyFlags(cmd, func(f *pflag.FlagSet) {
		addRunFlags(f, &o)
		f.BoolVarP(&detach, "detach", "d", false, "Run container in background and print container ID")
	})
	return cmd
}

// startFailed reports a failed start with Docker's exit codes and, for
// --rm, removes the container that never ran.
func (c *CLI) startFailed(ctx context.Context, cl *api.Client, id string, rm bool, err error) error {
	code := 125
	if resp, ierr := cl.Containers.Wait(ctx, &api.WaitContainerRequest{Id: id}); ierr == nil && (resp.ExitCode == 126 || resp.ExitCode == 127) {
		code = int(resp.ExitCode)
	}
	// A container that could not start for a conflict (a host port already
	// taken) is of no use: nothing of it is left, as with --rm.
	if rm || errdefs.IsConflict(err) {
		_, _ = cl.Containers.Remove(context.Background(), &api.RemoveContainerRequest{Id: id, Force: true, Volumes: true})
	}
	return &StatusError{Status: "ctr: Error response from daemon: " + errdefs.Message(err), Code: code}
}

func exit125(err error) error {
	return &StatusError{Status: err.Error(), Code: 125}
}
