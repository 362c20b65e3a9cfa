package cli

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/ctrd/ctrd/api"
	"github.com/ctrd/ctrd/api/errdefs"
	"github.com/spf13/cobra"
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
			var docs []json.RawMessage
			var failed []string
			for _, name := range args {
				doc, err := c.inspectOne(cmd, cl, kind, name)
				if err != nil {
					if errdefs.IsNotFound(err) {
						failed = append(failed, "Error: No such object: "+name)
						continue
					}
					failed = append(failed, daemonError(err).Error())
					continue
				}
				docs = append(docs, doc)
			}
			if format != "" {
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
			} else if err := printJSONArray(c.Out, docs); err != nil {
				return err
			}
			if len(failed) > 0 {
				return &StatusError{Status: strings.Join(failed, "\n"), Code: 1}
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&format, "format", "f", "", "Format output using a Go template")
	cmd.Flags().StringVar(&kind, "type", "", "Return JSON for specified type")
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
