package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/ctrd/ctrd/api"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
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
			if isURL(src) {
				// The daemon downloads a URL itself, as Docker's does.
				cl, err := c.Client(ctx)
				if err != nil {
					return err
				}
				resp, err := cl.Images.Import(ctx, &api.ImportRequest{
					Ref: ref, Message: message, Changes: changes, Source: src,
				})
				if err != nil {
					return daemonError(err)
				}
				fmt.Fprintln(c.Out, resp.Id)
				return nil
			}
			in, size, err := c.openSource(src)
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
	c.lazyFlags(cmd, func(f *pflag.FlagSet) {
		f.StringVarP(&message, "message", "m", "", "Set commit message for imported image")
		stringArrayVar(f, &changes, "change", "c", "Apply Dockerfile instruction to the created image")
	})
	return cmd
}

// isURL tells a source the daemon downloads (http or https).
func isURL(src string) bool {
	return strings.HasPrefix(src, "http://") || strings.HasPrefix(src, "https://")
}

// openSource opens "-" or a file, with its size if known.
func (c *CLI) openSource(src string) (io.ReadCloser, int64, error) {
	if src == "-" {
		// Standard input redirected from a file is a file (which the
		// daemon can read itself, see upload).
		if f, ok := c.In.(*os.File); ok && isRegular(f) {
			if st, err := f.Stat(); err == nil {
				return f, st.Size(), nil
			}
		}
		return io.NopCloser(c.In), -1, nil
	}
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

func unwrapPathError(err error) error {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err
	}
	return err
}
