package cli

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/ctrd/ctrd/api"
	"github.com/ctrd/ctrd/api/errdefs"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

func (c *CLI) inspectCommand() *cobra.Command {
	var (
		format string
		kind   string
	)
	cmd := &cobra.Command{
		Use:   "inspect [OPTIONS] NAME|ID [NAME|ID...]",
		Short: "Return low-level information on ctrd objects",
		Args:  minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := c.Client(cmd.Context())
			if err != nil {
				return err
			}
			return c.inspectEach(args, format, "object", func(name string) (json.RawMessage, error) {
				return c.inspectOne(cmd, cl, kind, name)
			})
		},
	}
	c.lazyFlags(cmd, func(f *pflag.FlagSet) {
		f.StringVarP(&format, "format", "f", "", "Format output using a Go template")
		f.StringVar(&kind, "type", "", "Return JSON for specified type")
	})
	return cmd
}

// inspectOne looks name up as a container first, then as an image, as
// Docker does (unless --type says which).
func (c *CLI) inspectOne(cmd *cobra.Command, cl *api.Client, kind, name string) (json.RawMessage, error) {
	if kind == "" || kind == "container" {
		resp, err := cl.Containers.Inspect(cmd.Context(), &api.ContainerRequest{Id: name})
		if err == nil {
			return resp.Json, nil
		}
		if kind == "container" || !errdefs.IsNotFound(err) {
			return nil, err
		}
	}
	if kind != "" && kind != "image" {
		return nil, fmt.Errorf("%q is not a valid value for --type", kind)
	}
	resp, err := cl.Images.Inspect(cmd.Context(), &api.InspectImageRequest{Name: name})
	if err != nil {
		return nil, err
	}
	return resp.Json, nil
}

// inspectEach fetches each named object with get and prints them all as
// `inspect` does (JSON array or --format), then reports the names that
// failed, one line each.
func (c *CLI) inspectEach(names []string, format, kind string, get func(name string) (json.RawMessage, error)) error {
	var docs []json.RawMessage
	var failed []string
	for _, name := range names {
		doc, err := get(name)
		switch {
		case err == nil:
			docs = append(docs, doc)
		case errdefs.IsNotFound(err):
			failed = append(failed, fmt.Sprintf("Error: No such %s: %s", kind, name))
		default:
			failed = append(failed, daemonError(err).Error())
		}
	}
	if err := c.printDocs(docs, format); err != nil {
		return err
	}
	if len(failed) > 0 {
		return &StatusError{Status: strings.Join(failed, "\n"), Code: 1}
	}
	return nil
}
