package cli

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/ctrd/ctrd/api"
	"github.com/ctrd/ctrd/api/types"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

type networkRow struct {
	ID, Name, Driver, Scope, Subnet, Gateway string
}

func (c *CLI) networkCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "network COMMAND",
		Short: "Manage networks",
		Args:  exactArgs(0),
		RunE:  func(cmd *cobra.Command, args []string) error { return cmd.Help() },
	}
	var subnet, gateway, driver string
	create := &cobra.Command{
		Use:   "create [OPTIONS] NETWORK",
		Short: "Create a network",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := c.Client(cmd.Context())
			if err != nil {
				return err
			}
			resp, err := cl.Networks.Create(cmd.Context(), &api.CreateNetworkRequest{Name: args[0], Subnet: subnet, Gateway: gateway, Driver: driver})
			if err != nil {
				return daemonError(err)
			}
			var n networkRow
			_ = json.Unmarshal(resp.Json, &n)
			fmt.Fprintln(c.Out, n.ID)
			return nil
		},
	}
	c.lazyFlags(create, func(f *pflag.FlagSet) {
		f.StringVar(&subnet, "subnet", "", "Subnet in CIDR format (default: a free /24)")
		f.StringVar(&gateway, "gateway", "", "IPv4 gateway for the subnet")
		f.StringVarP(&driver, "driver", "d", "bridge", "Driver to manage the network")
	})

	var quiet bool
	var format string
	ls := &cobra.Command{
		Use:     "ls [OPTIONS]",
		Aliases: []string{"list"},
		Short:   "List networks",
		Args:    exactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := c.Client(cmd.Context())
			if err != nil {
				return err
			}
			resp, err := cl.Networks.List(cmd.Context(), &api.Empty{})
			if err != nil {
				return daemonError(err)
			}
			var ns []networkRow
			if err := json.Unmarshal(resp.Json, &ns); err != nil {
				return err
			}
			var rows []interface{}
			for _, n := range ns {
				n.Scope = "local"
				n.ID = shortID(n.ID)
				rows = append(rows, n)
			}
			switch {
			case quiet:
				format = "{{.ID}}"
			case format == "":
				format = "table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}"
			}
			return table{out: c.Out, format: format, headers: map[string]string{
				"ID": "NETWORK ID", "Name": "NAME", "Driver": "DRIVER", "Scope": "SCOPE", "Subnet": "SUBNET", "Gateway": "GATEWAY",
			}}.render(rows)
		},
	}
	c.lazyFlags(ls, func(f *pflag.FlagSet) {
		f.BoolVarP(&quiet, "quiet", "q", false, "Only display network IDs")
		f.StringVar(&format, "format", "", "Format output using a Go template")
	})

	var inspectFormat string
	inspect := &cobra.Command{
		Use:   "inspect [OPTIONS] NETWORK [NETWORK...]",
		Short: "Display detailed information on one or more networks",
		Args:  minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := c.Client(cmd.Context())
			if err != nil {
				return err
			}
			return c.inspectEach(args, inspectFormat, "network", func(name string) (json.RawMessage, error) {
				resp, err := cl.Networks.Inspect(cmd.Context(), &api.NetworkRequest{Name: name})
				if err != nil {
					return nil, err
				}
				return resp.Json, nil
			})
		},
	}
	c.lazyFlags(inspect, func(f *pflag.FlagSet) {
		f.StringVarP(&inspectFormat, "format", "f", "", "Format output using a Go template")
	})

	rm := &cobra.Command{
		Use:     "rm NETWORK [NETWORK...]",
		Aliases: []string{"remove"},
		Short:   "Remove one or more networks",
		Args:    minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := c.Client(cmd.Context())
			if err != nil {
				return err
			}
			return forEach(c, args, func(name string) error {
				_, err := cl.Networks.Remove(cmd.Context(), &api.NetworkRequest{Name: name})
				return err
			}, func(name string) { fmt.Fprintln(c.Out, name) })
		},
	}
	cmd.AddCommand(create, ls, inspect, rm)
	return cmd
}

func (c *CLI) portCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "port CONTAINER [PRIVATE_PORT[/PROTO]]",
		Short: "List port mappings or a specific mapping for the container",
		Args:  rangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := c.Client(cmd.Context())
			if err != nil {
				return err
			}
			resp, err := cl.Containers.Inspect(cmd.Context(), &api.ContainerRequest{Id: args[0]})
			if err != nil {
				return daemonError(err)
			}
			var doc types.ContainerJSON
			if err := json.Unmarshal(resp.Json, &doc); err != nil {
				return err
			}
			var keys []string
			if doc.NetworkSettings != nil {
				for k := range doc.NetworkSettings.Ports {
					keys = append(keys, k)
				}
			}
			sort.Strings(keys)
			if len(args) == 2 {
				want := args[1]
				if !strings.Contains(want, "/") {
					want += "/tcp"
				}
				bs := doc.NetworkSettings.Ports[want]
				if len(bs) == 0 {
					return &StatusError{Status: fmt.Sprintf("Error: No public port '%s' published for %s", want, args[0]), Code: 1}
				}
				for _, b := range bs {
					fmt.Fprintf(c.Out, "%s:%s\n", b.HostIP, b.HostPort)
				}
				return nil
			}
			for _, k := range keys {
				for _, b := range doc.NetworkSettings.Ports[k] {
					fmt.Fprintf(c.Out, "%s -> %s:%s\n", k, b.HostIP, b.HostPort)
				}
			}
			return nil
		},
	}
}
