package cli

import (
	"bufio"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/ctrd/ctrd/api"
	"github.com/ctrd/ctrd/api/errdefs"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

type volumeRow struct {
	Name, Driver, Mountpoint, Scope, CreatedAt string
	Labels                                     map[string]string
}

func (c *CLI) volumeCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "volume COMMAND",
		Short: "Manage volumes",
		Args:  exactArgs(0),
		RunE:  func(cmd *cobra.Command, args []string) error { return cmd.Help() },
	}
	cmd.AddCommand(c.volumeCreateCommand(), c.volumeLsCommand(), c.volumeInspectCommand(), c.volumeRmCommand(), c.volumePruneCommand())
	return cmd
}

func (c *CLI) volumeCreateCommand() *cobra.Command {
	var labels []string
	cmd := &cobra.Command{
		Use:   "create [OPTIONS] [VOLUME]",
		Short: "Create a volume",
		Args:  rangeArgs(0, 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := c.Client(cmd.Context())
			if err != nil {
				return err
			}
			req := &api.CreateVolumeRequest{Labels: map[string]string{}}
			if len(args) == 1 {
				req.Name = args[0]
			}
			for _, l := range labels {
				k, v, _ := strings.Cut(l, "=")
				req.Labels[k] = v
			}
			resp, err := cl.Volumes.Create(cmd.Context(), req)
			if err != nil {
				return daemonError(err)
			}
			var v volumeRow
			if err := json.Unmarshal(resp.Json, &v); err != nil {
				return err
			}
			fmt.Fprintln(c.Out, v.Name)
			return nil
		},
	}
	c.lazyFlags(cmd, func(f *pflag.FlagSet) {
		stringArrayVar(f, &labels, "label", "l", "Set metadata for a volume")
		f.StringP("driver", "d", "local", "Specify volume driver name")
	})
	return cmd
}

func (c *CLI) volumeLsCommand() *cobra.Command {
	var (
		quiet  bool
		format string
	)
	cmd := &cobra.Command{
		Use:     "ls [OPTIONS]",
		Aliases: []string{"list"},
		Short:   "List volumes",
		Args:    exactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := c.Client(cmd.Context())
			if err != nil {
				return err
			}
			resp, err := cl.Volumes.List(cmd.Context(), &api.Empty{})
			if err != nil {
				return daemonError(err)
			}
			var vs []volumeRow
			if err := json.Unmarshal(resp.Json, &vs); err != nil {
				return err
			}
			var rows []interface{}
			for _, v := range vs {
				rows = append(rows, v)
			}
			switch {
			case quiet:
				format = "{{.Name}}"
			case format == "":
				format = "table {{.Driver}}\t{{.Name}}"
			}
			return table{out: c.Out, format: format, headers: map[string]string{
				"Name": "VOLUME NAME", "Driver": "DRIVER", "Mountpoint": "MOUNTPOINT", "Scope": "SCOPE", "CreatedAt": "CREATED AT", "Labels": "LABELS",
			}}.render(rows)
		},
	}
	c.lazyFlags(cmd, func(f *pflag.FlagSet) {
		f.BoolVarP(&quiet, "quiet", "q", false, "Only display volume names")
		f.StringVar(&format, "format", "", "Format output using a Go template")
	})
	return cmd
}

func (c *CLI) volumeInspectCommand() *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "inspect [OPTIONS] VOLUME [VOLUME...]",
		Short: "Display detailed information on one or more volumes",
		Args:  minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := c.Client(cmd.Context())
			if err != nil {
				return err
			}
			return c.inspectEach(args, format, "volume", func(name string) (json.RawMessage, error) {
				resp, err := cl.Volumes.Inspect(cmd.Context(), &api.VolumeRequest{Name: name})
				if err != nil {
					return nil, err
				}
				return resp.Json, nil
			})
		},
	}
	c.lazyFlags(cmd, func(f *pflag.FlagSet) {
		f.StringVarP(&format, "format", "f", "", "Format output using a Go template")
	})
	return cmd
}

func (c *CLI) volumeRmCommand() *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:     "rm [OPTIONS] VOLUME [VOLUME...]",
		Aliases: []string{"remove"},
		Short:   "Remove one or more volumes",
		Args:    minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := c.Client(cmd.Context())
			if err != nil {
				return err
			}
			return forEach(c, args, func(name string) error {
				_, err := cl.Volumes.Remove(cmd.Context(), &api.RemoveVolumeRequest{Name: name, Force: force})
				if err != nil && force && errdefs.IsNotFound(err) {
					return nil
				}
				return err
			}, func(name string) { fmt.Fprintln(c.Out, name) })
		},
	}
	c.lazyFlags(cmd, func(f *pflag.FlagSet) {
		f.BoolVarP(&force, "force", "f", false, "Do not error when a volume does not exist")
	})
	return cmd
}

func (c *CLI) volumePruneCommand() *cobra.Command {
	var all, force bool
	cmd := &cobra.Command{
		Use:   "prune [OPTIONS]",
		Short: "Remove unused local volumes",
		Args:  exactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := c.Client(cmd.Context())
			if err != nil {
				return err
			}
			if !force {
				what := "anonymous local volumes"
				if all {
					what = "local volumes"
				}
				fmt.Fprintf(c.Out, "WARNING! This will remove all %s not used by at least one container.\nAre you sure you want to continue? [y/N] ", what)
				line, _ := bufio.NewReader(c.In).ReadString('\n')
				if a := strings.ToLower(strings.TrimSpace(line)); a != "y" && a != "yes" {
					return nil
				}
			}
			resp, err := cl.Volumes.Prune(cmd.Context(), &api.PruneVolumesRequest{All: all})
			if err != nil {
				return daemonError(err)
			}
			if len(resp.Deleted) > 0 {
				fmt.Fprintln(c.Out, "Deleted Volumes:")
				for _, n := range resp.Deleted {
					fmt.Fprintln(c.Out, n)
				}
				fmt.Fprintln(c.Out)
			}
			fmt.Fprintf(c.Out, "Total reclaimed space: %s\n", humanSize(int64(resp.SpaceReclaimed)))
			return nil
		},
	}
	c.lazyFlags(cmd, func(f *pflag.FlagSet) {
		f.BoolVarP(&all, "all", "a", false, "Remove all unused volumes, not just anonymous ones")
		f.BoolVarP(&force, "force", "f", false, "Do not prompt for confirmation")
	})
	return cmd
}

// printDocs prints inspect documents as JSON or through a --format template.
func (c *CLI) printDocs(docs []json.RawMessage, format string) error {
	if format == "" {
		return printJSONArray(c.Out, docs)
	}
	var rows []interface{}
	for _, d := range docs {
		v, err := decodeJSON(d)
		if err != nil {
			return err
		}
		rows = append(rows, v)
	}
	if err := (table{out: c.Out, format: format}).render(rows); err != nil {
		return &StatusError{Status: "Error: " + err.Error(), Code: 1}
	}
	return nil
}
