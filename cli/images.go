package cli

import (
	"fmt"
	"strings"
	"time"

	"github.com/ctrd/ctrd/api"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// imageRow is one line of `ctr images`; field names are Docker's template names.
type imageRow struct {
	ID           string
	Repository   string
	Tag          string
	Digest       string
	CreatedSince string
	CreatedAt    string
	Size         string
}

var imageHeaders = map[string]string{
	"ID": "IMAGE ID", "Repository": "REPOSITORY", "Tag": "TAG", "Digest": "DIGEST",
	"CreatedSince": "CREATED", "CreatedAt": "CREATED AT", "Size": "SIZE",
}

func (c *CLI) imagesCommand() *cobra.Command {
	var (
		all, quiet, digests, noTrunc bool
		format                       string
	)
	cmd := &cobra.Command{
		Use:     "images [OPTIONS] [REPOSITORY[:TAG]]",
		Aliases: []string{"image ls"},
		Short:   "List images",
		Args:    rangeArgs(0, 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := c.Client(cmd.Context())
			if err != nil {
				return err
			}
			resp, err := cl.Images.List(cmd.Context(), &api.ListImagesRequest{All: all})
			if err != nil {
				return daemonError(err)
			}
			var rows []interface{}
			seen := map[string]bool{}
			for _, im := range resp.Images {
				id := im.Id
				if !noTrunc {
					id = shortID(id)
				}
				created := time.Unix(im.Created, 0)
				base := imageRow{ID: id, Digest: "<none>", CreatedSince: since(created), CreatedAt: created.Format("2006-01-02 15:04:05 -0700 MST"), Size: humanSize(im.Size)}
				tags := im.RepoTags
				if len(tags) == 0 {
					tags = []string{"<none>:<none>"}
				}
				for _, t := range tags {
					r := base
					i := strings.LastIndex(t, ":")
					r.Repository, r.Tag = t[:i], t[i+1:]
					if len(args) == 1 && !matchRepo(args[0], r.Repository, r.Tag) {
						continue
					}
					if quiet {
						if seen[r.ID] {
							continue
						}
						seen[r.ID] = true
					}
					rows = append(rows, r)
				}
			}
			switch {
			case quiet:
				format = "{{.ID}}"
			case format == "" && digests:
				format = "table {{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
			case format == "":
				format = "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
			}
			return table{out: c.Out, format: format, headers: imageHeaders}.render(rows)
		},
	}
	c.lazyFlags(cmd, func(f *pflag.FlagSet) {
		f.BoolVarP(&all, "all", "a", false, "Show all images (default hides intermediate images)")
		f.BoolVarP(&quiet, "quiet", "q", false, "Only show image IDs")
		f.BoolVar(&digests, "digests", false, "Show digests")
		f.BoolVar(&noTrunc, "no-trunc", false, "Don't truncate output")
		f.StringVar(&format, "format", "", "Format output using a Go template")
	})
	return cmd
}

// matchRepo filters `ctr images REPO[:TAG]`. The tag is after the last
// colon that follows the last slash (a registry's port is not a tag).
func matchRepo(filter, repo, tag string) bool {
	fr, ft, hasTag := filter, "", false
	if i := strings.LastIndex(filter, ":"); i > strings.LastIndex(filter, "/") {
		fr, ft, hasTag = filter[:i], filter[i+1:], true
	}
	if fr != repo && "docker.io/library/"+repo != fr && "library/"+repo != fr {
		return false
	}
	return !hasTag || ft == tag
}

func (c *CLI) tagCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "tag SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]",
		Short: "Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE",
		Args:  exactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := c.Client(cmd.Context())
			if err != nil {
				return err
			}
			_, err = cl.Images.Tag(cmd.Context(), &api.TagImageRequest{Source: args[0], Target: args[1]})
			return daemonError(err)
		},
	}
}

func (c *CLI) rmiCommand() *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:   "rmi [OPTIONS] IMAGE [IMAGE...]",
		Short: "Remove one or more images",
		Args:  minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := c.Client(cmd.Context())
			if err != nil {
				return err
			}
			var failed []string
			for _, name := range args {
				resp, err := cl.Images.Remove(cmd.Context(), &api.RemoveImageRequest{Name: name, Force: force})
				if err != nil {
					failed = append(failed, daemonError(err).Error())
					continue
				}
				for _, u := range resp.Untagged {
					fmt.Fprintf(c.Out, "Untagged: %s\n", u)
				}
				for _, d := range resp.Deleted {
					fmt.Fprintf(c.Out, "Deleted: %s\n", d)
				}
			}
			if len(failed) > 0 {
				return &StatusError{Status: strings.Join(failed, "\n"), Code: 1}
			}
			return nil
		},
	}
	c.lazyFlags(cmd, func(f *pflag.FlagSet) {
		f.BoolVarP(&force, "force", "f", false, "Force removal of the image")
	})
	return cmd
}

type historyRow struct {
	ID           string
	CreatedSince string
	CreatedAt    string
	CreatedBy    string
	Size         string
	Comment      string
}

func (c *CLI) historyCommand() *cobra.Command {
	var (
		quiet, noTrunc, human bool
		format                string
	)
	cmd := &cobra.Command{
		Use:   "history [OPTIONS] IMAGE",
		Short: "Show the history of an image",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := c.Client(cmd.Context())
			if err != nil {
				return err
			}
			resp, err := cl.Images.History(cmd.Context(), &api.HistoryRequest{Name: args[0]})
			if err != nil {
				return daemonError(err)
			}
			var rows []interface{}
			for _, it := range resp.Items {
				created := time.Unix(it.Created, 0)
				r := historyRow{ID: it.Id, CreatedBy: it.CreatedBy, Comment: it.Comment, CreatedAt: created.Format(time.RFC3339)}
				if !noTrunc {
					if r.ID != "<missing>" {
						r.ID = shortID(r.ID)
					}
					r.CreatedBy = truncate(strings.ReplaceAll(r.CreatedBy, "\t", " "), 45)
				}
				if human {
					r.CreatedSince = since(created)
					r.Size = humanSize(it.Size)
				} else {
					r.CreatedSince = created.Format(time.RFC3339)
					r.Size = fmt.Sprint(it.Size)
				}
				rows = append(rows, r)
			}
			switch {
			case quiet:
				format = "{{.ID}}"
			case format == "":
				format = "table {{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}"
			}
			return table{out: c.Out, format: format, headers: map[string]string{
				"ID": "IMAGE", "CreatedSince": "CREATED", "CreatedAt": "CREATED AT", "CreatedBy": "CREATED BY", "Size": "SIZE", "Comment": "COMMENT",
			}}.render(rows)
		},
	}
	c.lazyFlags(cmd, func(f *pflag.FlagSet) {
		f.BoolVarP(&quiet, "quiet", "q", false, "Only show image IDs")
		f.BoolVar(&noTrunc, "no-trunc", false, "Don't truncate output")
		f.BoolVar(&human, "human", true, "Print sizes and dates in human readable format")
		f.StringVar(&format, "format", "", "Format output using a Go template")
	})
	return cmd
}
