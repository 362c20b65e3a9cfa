package cli

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/ctrd/ctrd/api"
	"github.com/ctrd/ctrd/images/archive/compression"
	"github.com/ctrd/ctrd/images/build/buildcontext"
	"github.com/ctrd/ctrd/images/reference"
	units "github.com/docker/go-units"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

func (c *CLI) buildCommand() *cobra.Command {
	var (
		tags, buildArgs, labels []string
		file, target, progress  string
		noCache, pull, quiet    bool
	)
	cmd := &cobra.Command{
		Use:   "build [OPTIONS] PATH | -",
		Short: "Build an image from a Dockerfile",
		Long: "Build an image from a Dockerfile and a context: a directory (filtered by its .dockerignore) " +
			"or, with -, a tar archive (plain or compressed) or a lone Dockerfile on stdin.",
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			switch progress {
			case "auto", "plain", "tty":
			default:
				return &StatusError{Status: fmt.Sprintf("invalid argument %q for \"--progress\" flag: use auto, plain or tty", progress), Code: 125}
			}
			for _, t := range tags {
				if _, err := reference.Parse(t); err != nil {
					return &StatusError{Status: fmt.Sprintf("invalid argument %q for \"-t, --tag\" flag: %v", t, err), Code: 125}
				}
			}
			req := &api.BuildRequest{
				Tags: tags, NoCache: noCache, Pull: pull, Target: target, Quiet: quiet,
				Labels: labels, BuildArgs: resolveBuildArgs(buildArgs),
			}
			body, err := c.buildContext(args[0], file, req)
			if err != nil {
				return &StatusError{Status: err.Error(), Code: 1}
			}
			defer body.Close()
			cl, err := c.Client(ctx)
			if err != nil {
				return err
			}
			return c.runBuild(ctx, cl, body, req)
		},
	}
	c.lazyFlags(cmd, func(f *pflag.FlagSet) {
		stringArrayVar(f, &tags, "tag", "t", "Name and optionally a tag in the \"name:tag\" format")
		f.StringVarP(&file, "file", "f", "", "Name of the Dockerfile (default \"PATH/Dockerfile\")")
		stringArrayVar(f, &buildArgs, "build-arg", "", "Set build-time variables")
		f.BoolVar(&noCache, "no-cache", false, "Do not use cache when building the image")
		f.BoolVar(&pull, "pull", false, "Always attempt to pull a newer version of the image")
		f.StringVar(&target, "target", "", "Set the target build stage to build")
		stringArrayVar(f, &labels, "label", "", "Set metadata for an image")
		f.BoolVarP(&quiet, "quiet", "q", false, "Suppress the build output and print image ID on success")
		f.StringVar(&progress, "progress", "auto", "Set type of progress output (auto, plain, tty)")
	})
	return cmd
}

// resolveBuildArgs takes a bare --build-arg KEY's value from the
// environment, as Docker does; unset, it stays bare (declared, no value).
func resolveBuildArgs(in []string) []string {
	var out []string
	for _, a := range in {
		if !strings.Contains(a, "=") {
			if v, ok := os.LookupEnv(a); ok {
				a += "=" + v
			}
		}
		out = append(out, a)
	}
	return out
}

// buildContext prepares the context stream and sets req.Dockerfile.
func (c *CLI) buildContext(arg, file string, req *api.BuildRequest) (io.ReadCloser, error) {
	if arg == "-" {
		if file == "-" {
			return nil, errors.New("invalid argument: can't use stdin for both build context and dockerfile")
		}
		br := bufio.NewReaderSize(c.In, 1<<16)
		head, _ := br.Peek(512)
		if compression.Detect(head) != compression.Uncompressed || buildcontext.IsTar(head) {
			req.Dockerfile = file
			return io.NopCloser(br), nil
		}
		// A lone Dockerfile: the context is empty.
		data, err := io.ReadAll(br)
		if err != nil {
			return nil, fmt.Errorf("read Dockerfile from stdin: %w", err)
		}
		bc := &buildcontext.Context{}
		bc.Add("Dockerfile", data)
		req.Dockerfile = "Dockerfile"
		return c.contextStream(bc), nil
	}
	var (
		inside string
		extra  []byte
		name   string
	)
	switch {
	case file == "-":
		data, err := io.ReadAll(c.In)
		if err != nil {
			return nil, fmt.Errorf("read Dockerfile from stdin: %w", err)
		}
		extra, name = data, ".dockerfile."+randomSuffix()
	case file != "":
		if rel, ok := buildcontext.Within(arg, file); ok {
			inside, name = rel, rel
		} else {
			data, err := os.ReadFile(file)
			if err != nil {
				return nil, fmt.Errorf("unable to prepare context: unable to evaluate symlinks in Dockerfile path: %v", unwrapPathError(err))
			}
			extra, name = data, ".dockerfile."+randomSuffix()
		}
	default:
		inside, name = "Dockerfile", "Dockerfile"
		if _, err := os.Stat(filepath.Join(arg, "Dockerfile")); err != nil {
			if _, err2 := os.Stat(filepath.Join(arg, "dockerfile")); err2 == nil {
				inside, name = "dockerfile", "dockerfile"
			}
		}
	}
	if fi, err := os.Stat(arg); err == nil && fi.IsDir() && extra == nil {
		if _, err := os.Stat(filepath.Join(arg, filepath.FromSlash(inside))); err != nil {
			return nil, fmt.Errorf("unable to prepare context: unable to evaluate symlinks in Dockerfile path: %v", unwrapPathError(err))
		}
	}
	bc, err := buildcontext.Scan(arg, inside)
	if err != nil {
		return nil, err
	}
	if extra != nil {
		bc.Add(name, extra)
	}
	req.Dockerfile = name
	return c.contextStream(bc), nil
}

func (c *CLI) contextStream(bc *buildcontext.Context) io.ReadCloser {
	pr, pw := io.Pipe()
	go func() {
		_, err := bc.WriteTo(pw)
		pw.CloseWithError(err)
	}()
	return pr
}

func randomSuffix() string {
	var b [6]byte
	f, err := os.Open("/dev/urandom")
	if err == nil {
		_, _ = io.ReadFull(f, b[:])
		f.Close()
	}
	return fmt.Sprintf("%x", b)
}

// runBuild uploads the context while the daemon builds, and prints the
// build's output as it comes.
func (c *CLI) runBuild(ctx context.Context, cl *api.Client, body io.Reader, req *api.BuildRequest) error {
	var (
		out     io.Writer = c.Out
		buf     bytes.Buffer
		imageID string
		failure string
	)
	if req.Quiet {
		out = &buf
	}
	sent := &sentCounter{r: body, done: func(n int64) {
		fmt.Fprintf(out, "Sending build context to ctrd  %s\n", units.HumanSize(float64(n)))
	}}
	err := c.upload(ctx, cl, sent, -1, "Sending build context", func(ctx context.Context, id string) error {
		req.UploadId = id
		stream, err := api.NewBuildsClient(cl.Conn()).Build(ctx, req)
		if err != nil {
			return err
		}
		for {
			ev, err := stream.Recv()
			if errors.Is(err, io.EOF) {
				return nil
			}
			if err != nil {
				return err
			}
			switch {
			case len(ev.Stream) > 0:
				_, _ = out.Write(ev.Stream)
			case ev.Error != "":
				failure = ev.Error
			case ev.ImageId != "":
				imageID = ev.ImageId
			}
		}
	})
	if err != nil {
		if ctx.Err() != nil {
			return &StatusError{Status: "build canceled", Code: 1}
		}
		return daemonError(err)
	}
	if failure != "" {
		if req.Quiet && buf.Len() > 0 {
			_, _ = c.Err.Write(buf.Bytes())
		}
		return &StatusError{Status: failure, Code: 1}
	}
	if imageID == "" {
		return &StatusError{Status: "build ended without a result: see the daemon's log", Code: 1}
	}
	if req.Quiet {
		fmt.Fprintln(c.Out, imageID)
	}
	return nil
}

// sentCounter counts the context bytes read and reports the total at the
// end of the input, before the upload is closed, so the line comes before
// any build output.
type sentCounter struct {
	r    io.Reader
	n    int64
	done func(int64)
	once bool
}

func (s *sentCounter) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	s.n += int64(n)
	if errors.Is(err, io.EOF) && !s.once {
		s.once = true
		s.done(s.n)
	}
	return n, err
}
