package cli

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"

	"github.com/ctrd/ctrd/api"
	"github.com/spf13/cobra"
)

func (c *CLI) importCommand() *cobra.Command {
	var (
		message string
		changes []string
	)
	cmd := &cobra.Command{
		Use:   "import [OPTIONS] file|URL|- [REPOSITORY[:TAG]]",
		Short: "Import the contents from a tarball to create a filesystem image",
		Long:  "Import a root file system tarball (plain tar, gzip, bzip2, xz or zstd; detected by content) as a one-layer image.",
		Args:  rangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			src := args[0]
			var ref string
			if len(args) == 2 {
				ref = args[1]
			}
			in, size, err := c.openSource(ctx, src)
			if err != nil {
				return err
			}
			defer in.Close()
			cl, err := c.Client(ctx)
			if err != nil {
				return err
			}
			var id string
			err = c.upload(ctx, cl, in, size, "Importing", func(ctx context.Context, upID string) error {
				resp, err := cl.Images.Import(ctx, &api.ImportRequest{
					UploadId: upID, Ref: ref, Message: message, Changes: changes, Source: src,
				})
				if err != nil {
					return err
				}
				id = resp.Id
				return nil
			})
			if err != nil {
				return daemonError(err)
			}
			fmt.Fprintln(c.Out, id)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVarP(&message, "message", "m", "", "Set commit message for imported image")
	f.StringArrayVarP(&changes, "change", "c", nil, "Apply Dockerfile instruction to the created image")
	return cmd
}

// openSource opens "-", a file or an http(s) URL, with its size if known.
func (c *CLI) openSource(ctx context.Context, src string) (io.ReadCloser, int64, error) {
	switch {
	case src == "-":
		return io.NopCloser(c.In), -1, nil
	case strings.HasPrefix(src, "http://") || strings.HasPrefix(src, "https://"):
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, src, nil)
		if err != nil {
			return nil, 0, fmt.Errorf("invalid URL %q: %w", src, err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return nil, 0, fmt.Errorf("download %s: %w", src, err)
		}
		if resp.StatusCode != http.StatusOK {
			resp.Body.Close()
			return nil, 0, fmt.Errorf("download %s: %s", src, resp.Status)
		}
		return resp.Body, resp.ContentLength, nil
	default:
		f, err := os.Open(src)
		if err != nil {
			return nil, 0, fmt.Errorf("open %s: %w", src, unwrapPathError(err))
		}
		st, err := f.Stat()
		if err != nil {
			f.Close()
			return nil, 0, err
		}
		if st.IsDir() {
			f.Close()
			return nil, 0, fmt.Errorf("open %s: is a directory, expected a tarball", src)
		}
		return f, st.Size(), nil
	}
}

func unwrapPathError(err error) error {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err
	}
	return err
}
