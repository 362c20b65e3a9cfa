package cli

import (
	"encoding/json"
	"fmt"
	"runtime"

	"github.com/ctrd/ctrd/api"
	"github.com/ctrd/ctrd/api/types"
	"github.com/ctrd/ctrd/version"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

func (c *CLI) versionCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Show the ctr and ctrd version information",
		Args:  exactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			fmt.Fprintf(c.Out, "Client:\n Version:\t%s\n Git commit:\t%s\n Go version:\t%s\n OS/Arch:\t%s/%s\n\n",
				version.Version, version.GitCommit, runtime.Version(), runtime.GOOS, runtime.GOARCH)
			cl, err := c.Client(cmd.Context())
			if err != nil {
				return err
			}
			v, err := cl.System.Version(cmd.Context(), &api.Empty{})
			if err != nil {
				return daemonError(err)
			}
			fmt.Fprintf(c.Out, "Server:\n Version:\t%s\n API version:\t%s\n Git commit:\t%s\n Go version:\t%s\n OS/Arch:\t%s/%s\n",
				v.Version, v.ApiVersion, v.GitCommit, v.GoVersion, v.Os, v.Arch)
			return nil
		},
	}
}

func (c *CLI) infoCommand() *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "info [OPTIONS]",
		Short: "Display system-wide information",
		Args:  exactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := c.Client(cmd.Context())
			if err != nil {
				return err
			}
			resp, err := cl.System.Info(cmd.Context(), &api.Empty{})
			if err != nil {
				return daemonError(err)
			}
			if format != "" {
				doc, err := decodeJSON(resp.Json)
				if err != nil {
					return err
				}
				return table{out: c.Out, format: format}.render([]interface{}{doc})
			}
			var i types.Info
			if err := json.Unmarshal(resp.Json, &i); err != nil {
				return err
			}
			fmt.Fprintf(c.Out, "Containers: %d\n Running: %d\n Paused: %d\n Stopped: %d\nImages: %d\n",
				i.Containers, i.ContainersRunning, i.ContainersPaused, i.ContainersStopped, i.Images)
			fmt.Fprintf(c.Out, "Server Version: %s\nStorage Driver: %s\nLogging Driver: %s\nCgroup Driver: %s\nCgroup Version: %s\n",
				i.ServerVersion, i.Driver, i.LoggingDriver, i.CgroupDriver, i.CgroupVersion)
			fmt.Fprintf(c.Out, "Kernel Version: %s\nOperating System: %s\nOSType: %s\nArchitecture: %s\nCPUs: %d\nTotal Memory: %s\nName: %s\nID: %s\nRoot Dir: %s\nExec Root: %s\nDebug Mode: %v\nIPv4 Forwarding: %v\n",
				i.KernelVersion, i.OperatingSystem, i.OSType, i.Architecture, i.NCPU, humanSize(i.MemTotal), i.Name, i.ID, i.DataRoot, i.ExecRoot, i.Debug, i.IPv4Forwarding)
			for _, w := range i.Warnings {
				fmt.Fprintln(c.Err, "WARNING: "+w)
			}
			return nil
		},
	}
	c.lazyFlags(cmd, func(f *pflag.FlagSet) {
		f.StringVarP(&format, "format", "f", "", "Format output using a Go template")
	})
	return cmd
}
