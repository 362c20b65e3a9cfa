package cli

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/ctrd/ctrd/api"
	"github.com/ctrd/ctrd/api/types"
	"github.com/ctrd/ctrd/runtime/logfile"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

type psRow struct {
	ID, Image, Command, CreatedAt, RunningFor, Ports, Status, Names, Labels, Mounts, Networks, State, Size string
}

var psHeaders = map[string]string{
	"ID": "CONTAINER ID", "Image": "IMAGE", "Command": "COMMAND", "CreatedAt": "CREATED AT",
	"RunningFor": "CREATED", "Ports": "PORTS", "Status": "STATUS", "Names": "NAMES",
	"Labels": "LABELS", "Mounts": "MOUNTS", "Networks": "NETWORKS", "State": "STATE", "Size": "SIZE",
}

func (c *CLI) psCommand() *cobra.Command {
	var (
		all, quiet, noTrunc, latest bool
		last                        int
		format                      string
		filters                     []string
	)
	cmd := &cobra.Command{
		Use:     "ps [OPTIONS]",
		Aliases: []string{"container ls"},
		Short:   "List containers",
		Args:    exactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			cl, err := c.Client(ctx)
			if err != nil {
				return err
			}
			if latest {
				last = 1
			}
			resp, err := cl.Containers.List(ctx, &api.ListContainersRequest{All: all || last > 0})
			if err != nil {
				return daemonError(err)
			}
			var list []types.ContainerSummary
			if err := json.Unmarshal(resp.Json, &list); err != nil {
				return err
			}
			match, err := psFilter(filters)
			if err != nil {
				return &StatusError{Status: "Error: " + err.Error(), Code: 1}
			}
			var rows []interface{}
			for _, s := range list {
				if !match(s) {
					continue
				}
				if last > 0 && len(rows) >= last {
					break
				}
				rows = append(rows, psRowOf(s, noTrunc))
			}
			switch {
			case quiet:
				format = "{{.ID}}"
			case format == "":
				format = "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}"
			}
			return table{out: c.Out, format: format, headers: psHeaders}.render(rows)
		},
	}
	c.lazyFlags(cmd, func(f *pflag.FlagSet) {
		f.BoolVarP(&all, "all", "a", false, "Show all containers (default shows just running)")
		f.BoolVarP(&quiet, "quiet", "q", false, "Only display container IDs")
		f.BoolVar(&noTrunc, "no-trunc", false, "Don't truncate output")
		f.BoolVarP(&latest, "latest", "l", false, "Show the latest created container (includes all states)")
		f.IntVarP(&last, "last", "n", -1, "Show n last created containers (includes all states)")
		f.StringVar(&format, "format", "", "Format output using a Go template")
		stringArrayVar(f, &filters, "filter", "f", "Filter output based on conditions provided (status=, name=, id=, ancestor=, label=, exited=)")
	})
	return cmd
}

func psFilter(filters []string) (func(types.ContainerSummary) bool, error) {
	type cond struct{ key, value string }
	var conds []cond
	for _, f := range filters {
		k, v, ok := strings.Cut(f, "=")
		if !ok {
			return nil, fmt.Errorf("bad format of filter (expected name=value): %s", f)
		}
		switch k {
		case "status":
			switch v {
			case "created", "restarting", "running", "removing", "paused", "exited", "dead":
			default:
				return nil, fmt.Errorf("invalid filter 'status=%s'", v)
			}
		case "name", "id", "ancestor", "label", "exited":
		default:
			return nil, fmt.Errorf("invalid filter '%s'", k)
		}
		conds = append(conds, cond{k, v})
	}
	return func(s types.ContainerSummary) bool {
		byKey := map[string]bool{}
		matched := map[string]bool{}
		for _, c := range conds {
			byKey[c.key] = true
			ok := false
			switch c.key {
			case "status":
				ok = s.State == c.value
			case "name":
				for _, n := range s.Names {
					ok = ok || strings.Contains(strings.TrimPrefix(n, "/"), strings.TrimPrefix(c.value, "/"))
				}
			case "id":
				ok = strings.HasPrefix(s.ID, c.value)
			case "ancestor":
				ok = s.Image == c.value || strings.HasPrefix(strings.TrimPrefix(s.ImageID, "sha256:"), strings.TrimPrefix(c.value, "sha256:"))
			case "label":
				k, v, hasV := strings.Cut(c.value, "=")
				lv, has := s.Labels[k]
				ok = has && (!hasV || lv == v)
			case "exited":
				ok = s.State == "exited" && fmt.Sprint(s.ExitCode) == c.value
			}
			matched[c.key] = matched[c.key] || ok
		}
		for k := range byKey {
			if !matched[k] {
				return false
			}
		}
		return true
	}, nil
}

func psRowOf(s types.ContainerSummary, noTrunc bool) psRow {
	r := psRow{
		ID:         s.ID,
		Image:      s.Image,
		Command:    s.Command,
		CreatedAt:  time.Unix(s.Created, 0).Format("2006-01-02 15:04:05 -0700 MST"),
		RunningFor: since(time.Unix(s.Created, 0)),
		Status:     s.Status,
		State:      s.State,
		Ports:      formatPorts(s.Ports),
		Networks:   strings.Join(s.Networks, ","),
	}
	var names []string
	for _, n := range s.Names {
		names = append(names, strings.TrimPrefix(n, "/"))
	}
	r.Names = strings.Join(names, ",")
	var labels []string
	for k, v := range s.Labels {
		labels = append(labels, k+"="+v)
	}
	sort.Strings(labels)
	r.Labels = strings.Join(labels, ",")
	var mounts []string
	for _, m := range s.Mounts {
		if m.Name != "" {
			mounts = append(mounts, m.Name)
		} else {
			mounts = append(mounts, m.Source)
		}
	}
	r.Mounts = strings.Join(mounts, ",")
	if !noTrunc {
		r.ID = shortID(r.ID)
		r.Command = truncate(r.Command, 20)
		if strings.HasPrefix(r.Image, "sha256:") {
			r.Image = shortID(r.Image)
		}
	}
	r.Command = `"` + r.Command + `"`
	return r
}

// formatPorts is Docker's PORTS column: "0.0.0.0:1216->80/tcp, 443/tcp".
func formatPorts(ports []types.Port) string {
	var out []string
	for _, p := range ports {
		if p.PublicPort == 0 {
			out = append(out, fmt.Sprintf("%d/%s", p.PrivatePort, p.Type))
			continue
		}
		ip := p.IP
		if ip == "" {
			ip = "0.0.0.0"
		}
		out = append(out, fmt.Sprintf("%s:%d->%d/%s", ip, p.PublicPort, p.PrivatePort, p.Type))
	}
	return strings.Join(out, ", ")
}

func (c *CLI) stopCommand() *cobra.Command {
	var (
		timeout int
		signal  string
	)
	cmd := &cobra.Command{
		Use:   "stop [OPTIONS] CONTAINER [CONTAINER...]",
		Short: "Stop one or more running containers",
		Args:  minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := c.Client(cmd.Context())
			if err != nil {
				return err
			}
			t := int32(-1)
			if cmd.Flags().Changed("time") {
				t = int32(timeout)
			}
			return forEach(c, args, func(name string) error {
				_, err := cl.Containers.Stop(cmd.Context(), &api.StopContainerRequest{Id: name, Timeout: t, Signal: signal})
				return err
			}, func(name string) { fmt.Fprintln(c.Out, name) })
		},
	}
	c.lazyFlags(cmd, func(f *pflag.FlagSet) {
		f.IntVarP(&timeout, "time", "t", 10, "Seconds to wait before killing the container")
		f.StringVarP(&signal, "signal", "s", "", "Signal to send to the container")
	})
	return cmd
}

func (c *CLI) restartCommand() *cobra.Command {
	var timeout int
	cmd := &cobra.Command{
		Use:   "restart [OPTIONS] CONTAINER [CONTAINER...]",
		Short: "Restart one or more containers",
		Args:  minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := c.Client(cmd.Context())
			if err != nil {
				return err
			}
			t := int32(-1)
			if cmd.Flags().Changed("time") {
				t = int32(timeout)
			}
			return forEach(c, args, func(name string) error {
				_, err := cl.Containers.Restart(cmd.Context(), &api.StopContainerRequest{Id: name, Timeout: t})
				return err
			}, func(name string) { fmt.Fprintln(c.Out, name) })
		},
	}
	c.lazyFlags(cmd, func(f *pflag.FlagSet) {
		f.IntVarP(&timeout, "time", "t", 10, "Seconds to wait before killing the container")
	})
	return cmd
}

func (c *CLI) killCommand() *cobra.Command {
	var signal string
	cmd := &cobra.Command{
		Use:   "kill [OPTIONS] CONTAINER [CONTAINER...]",
		Short: "Kill one or more running containers",
		Args:  minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := c.Client(cmd.Context())
			if err != nil {
				return err
			}
			return forEach(c, args, func(name string) error {
				_, err := cl.Containers.Kill(cmd.Context(), &api.KillContainerRequest{Id: name, Signal: signal})
				return err
			}, func(name string) { fmt.Fprintln(c.Out, name) })
		},
	}
	c.lazyFlags(cmd, func(f *pflag.FlagSet) {
		f.StringVarP(&signal, "signal", "s", "KILL", "Signal to send to the container")
	})
	return cmd
}

func (c *CLI) rmCommand() *cobra.Command {
	var force, volumes bool
	cmd := &cobra.Command{
		Use:   "rm [OPTIONS] CONTAINER [CONTAINER...]",
		Short: "Remove one or more containers",
		Args:  minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := c.Client(cmd.Context())
			if err != nil {
				return err
			}
			return forEach(c, args, func(name string) error {
				_, err := cl.Containers.Remove(cmd.Context(), &api.RemoveContainerRequest{Id: name, Force: force, Volumes: volumes})
				return err
			}, func(name string) { fmt.Fprintln(c.Out, name) })
		},
	}
	c.lazyFlags(cmd, func(f *pflag.FlagSet) {
		f.BoolVarP(&force, "force", "f", false, "Force the removal of a running container (uses SIGKILL)")
		f.BoolVarP(&volumes, "volumes", "v", false, "Remove anonymous volumes associated with the container")
	})
	return cmd
}

func (c *CLI) waitCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "wait CONTAINER [CONTAINER...]",
		Short: "Block until one or more containers stop, then print their exit codes",
		Args:  minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := c.Client(cmd.Context())
			if err != nil {
				return err
			}
			return forEach(c, args, func(name string) error {
				resp, err := cl.Containers.Wait(cmd.Context(), &api.WaitContainerRequest{Id: name})
				if err != nil {
					return err
				}
				fmt.Fprintln(c.Out, resp.ExitCode)
				return nil
			}, nil)
		},
	}
}

func (c *CLI) renameCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "rename CONTAINER NEW_NAME",
		Short: "Rename a container",
		Args:  exactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := c.Client(cmd.Context())
			if err != nil {
				return err
			}
			_, err = cl.Containers.Rename(cmd.Context(), &api.RenameContainerRequest{Id: args[0], Name: args[1]})
			return daemonError(err)
		},
	}
}

func (c *CLI) pauseCommand(pause bool) *cobra.Command {
	use, short := "pause CONTAINER [CONTAINER...]", "Pause all processes within one or more containers"
	if !pause {
		use, short = "unpause CONTAINER [CONTAINER...]", "Unpause all processes within one or more containers"
	}
	return &cobra.Command{
		Use:   use,
		Short: short,
		Args:  minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := c.Client(cmd.Context())
			if err != nil {
				return err
			}
			return forEach(c, args, func(name string) error {
				var err error
				if pause {
					_, err = cl.Containers.Pause(cmd.Context(), &api.ContainerRequest{Id: name})
				} else {
					_, err = cl.Containers.Unpause(cmd.Context(), &api.ContainerRequest{Id: name})
				}
				return err
			}, func(name string) { fmt.Fprintln(c.Out, name) })
		},
	}
}

func (c *CLI) updateCommand() *cobra.Command {
	var restartPolicy string
	cmd := &cobra.Command{
		Use:   "update [OPTIONS] CONTAINER [CONTAINER...]",
		Short: "Update configuration of one or more containers",
		Args:  minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := c.Client(cmd.Context())
			if err != nil {
				return err
			}
			if restartPolicy == "" {
				return &StatusError{Status: "You must provide one or more flags when using this command.", Code: 1}
			}
			return forEach(c, args, func(name string) error {
				_, err := cl.Containers.Update(cmd.Context(), &api.UpdateContainerRequest{Id: name, RestartPolicy: restartPolicy})
				return err
			}, func(name string) { fmt.Fprintln(c.Out, name) })
		},
	}
	c.lazyFlags(cmd, func(f *pflag.FlagSet) {
		f.StringVar(&restartPolicy, "restart", "", "Restart policy to apply when a container exits")
	})
	return cmd
}

func (c *CLI) topCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "top CONTAINER",
		Short: "Display the running processes of a container",
		Args:  minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := c.Client(cmd.Context())
			if err != nil {
				return err
			}
			resp, err := cl.Containers.Top(cmd.Context(), &api.ContainerRequest{Id: args[0]})
			if err != nil {
				return daemonError(err)
			}
			var rows []interface{}
			headers := map[string]string{}
			var cols []string
			for i, t := range resp.Titles {
				k := fmt.Sprintf("C%d", i)
				headers[k] = t
				cols = append(cols, "{{."+k+"}}")
			}
			for _, p := range resp.Processes {
				m := map[string]string{}
				for i, f := range p.Fields {
					m[fmt.Sprintf("C%d", i)] = f
				}
				rows = append(rows, m)
			}
			return table{out: c.Out, format: "table " + strings.Join(cols, "\t"), headers: headers}.render(rows)
		},
	}
}

func (c *CLI) diffCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "diff CONTAINER",
		Short: "Inspect changes to files or directories on a container's filesystem",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := c.Client(cmd.Context())
			if err != nil {
				return err
			}
			resp, err := cl.Containers.Diff(cmd.Context(), &api.ContainerRequest{Id: args[0]})
			if err != nil {
				return daemonError(err)
			}
			for _, ch := range resp.Changes {
				fmt.Fprintf(c.Out, "%s %s\n", ch.Kind, ch.Path)
			}
			return nil
		},
	}
}

func (c *CLI) logsCommand() *cobra.Command {
	var (
		follow, timestamps bool
		tail, sinceS       string
		untilS             string
	)
	cmd := &cobra.Command{
		Use:   "logs [OPTIONS] CONTAINER",
		Short: "Fetch the logs of a container",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			cl, err := c.Client(ctx)
			if err != nil {
				return err
			}
			resp, err := cl.Containers.Logs(ctx, &api.ContainerRequest{Id: args[0]})
			if err != nil {
				return daemonError(err)
			}
			o := logfile.ReadOptions{Tail: -1, Follow: follow && resp.Running}
			if tail != "" && tail != "all" {
				if _, err := fmt.Sscanf(tail, "%d", &o.Tail); err != nil || o.Tail < 0 {
					return &StatusError{Status: fmt.Sprintf("invalid value for \"tail\": %q is not a number or \"all\"", tail), Code: 1}
				}
			}
			if o.Since, err = parseTimeArg(sinceS); err != nil {
				return &StatusError{Status: "invalid value for \"since\": " + err.Error(), Code: 1}
			}
			if o.Until, err = parseTimeArg(untilS); err != nil {
				return &StatusError{Status: "invalid value for \"until\": " + err.Error(), Code: 1}
			}
			if o.Follow {
				done := make(chan struct{})
				o.Done = done
				go func() {
					// Stop following once the container has stopped for good.
					_, _ = cl.Containers.Wait(ctx, &api.WaitContainerRequest{Id: args[0], Condition: "not-running"})
					close(done)
				}()
			}
			err = logfile.Read(ctx, resp.Path, o, func(e logfile.Entry) error {
				w := c.Out
				if e.Stream == "stderr" {
					w = c.Err
				}
				if timestamps {
					fmt.Fprint(w, e.Time.UTC().Format("2006-01-02T15:04:05.000000000Z")+" ")
				}
				_, err := w.Write(e.Line)
				return err
			})
			if err != nil && ctx.Err() == nil {
				return err
			}
			return nil
		},
	}
	c.lazyFlags(cmd, func(f *pflag.FlagSet) {
		f.BoolVarP(&follow, "follow", "f", false, "Follow log output")
		f.BoolVarP(&timestamps, "timestamps", "t", false, "Show timestamps")
		f.StringVarP(&tail, "tail", "n", "all", "Number of lines to show from the end of the logs")
		f.StringVar(&sinceS, "since", "", "Show logs since timestamp (e.g. 2013-01-02T13:23:37Z) or relative (e.g. 42m for 42 minutes)")
		f.StringVar(&untilS, "until", "", "Show logs before a timestamp or relative (e.g. 42m)")
	})
	return cmd
}

// parseTimeArg accepts RFC 3339 times, unix seconds and durations ago.
func parseTimeArg(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if d, err := time.ParseDuration(s); err == nil {
		return time.Now().Add(-d), nil
	}
	for _, layout := range []string{time.RFC3339Nano, time.RFC3339, "2006-01-02T15:04:05", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	var sec float64
	if _, err := fmt.Sscanf(s, "%f", &sec); err == nil {
		return time.Unix(int64(sec), 0), nil
	}
	return time.Time{}, fmt.Errorf("%q is not a timestamp or duration", s)
}

func (c *CLI) commitCommand() *cobra.Command {
	var (
		message, author string
		changes         []string
		pause           bool
	)
	cmd := &cobra.Command{
		Use:   "commit [OPTIONS] CONTAINER [REPOSITORY[:TAG]]",
		Short: "Create a new image from a container's changes",
		Args:  rangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := c.Client(cmd.Context())
			if err != nil {
				return err
			}
			req := &api.CommitRequest{Id: args[0], Message: message, Author: author, Changes: changes, Pause: pause}
			if len(args) == 2 {
				req.Ref = args[1]
			}
			resp, err := cl.Containers.Commit(cmd.Context(), req)
			if err != nil {
				return daemonError(err)
			}
			fmt.Fprintln(c.Out, resp.ImageId)
			return nil
		},
	}
	c.lazyFlags(cmd, func(f *pflag.FlagSet) {
		f.StringVarP(&message, "message", "m", "", "Commit message")
		f.StringVarP(&author, "author", "a", "", `Author (e.g., "John Hannibal Smith <hannibal@a-team.com>")`)
		stringArrayVar(f, &changes, "change", "c", "Apply Dockerfile instruction to the created image")
		f.BoolVarP(&pause, "pause", "p", true, "Pause container during commit")
	})
	return cmd
}
