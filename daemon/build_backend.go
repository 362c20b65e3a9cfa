package daemon

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/ctrd/ctrd/api/types"
	"github.com/ctrd/ctrd/images"
	"github.com/ctrd/ctrd/images/archive"
	"github.com/ctrd/ctrd/images/build"
	"github.com/ctrd/ctrd/runtime/attach"
	"github.com/ctrd/ctrd/runtime/shim"
	"github.com/sirupsen/logrus"
)

// buildBackend runs the RUN steps of builds in ordinary containers of this
// daemon: created from the step's parent image, started with the default
// network, output streamed to the build, committed as a layer, removed.
type buildBackend struct{ d *Daemon }

var _ build.Backend = (*buildBackend)(nil)

func (b *buildBackend) Run(ctx context.Context, req build.RunRequest) (_ images.PendingLayer, retErr error) {
	d := b.d
	cc := types.CreateConfig{EntrypointSet: true}
	cc.Config = types.Config{
		Image:        req.Image.String(),
		Cmd:          req.Cmd,
		Env:          req.Env,
		User:         req.User,
		WorkingDir:   req.WorkingDir,
		AttachStdout: true,
		AttachStderr: true,
	}
	c, _, err := d.createContainer(ctx, "", cc)
	if err != nil {
		return images.PendingLayer{}, err
	}
	id := c.rec.ID
	defer func() {
		if err := d.removeContainer(context.Background(), c, true, true); err != nil {
			logrus.WithError(err).WithField("container", id[:12]).Warn("build: remove intermediate container")
		}
	}()
	if req.Started != nil {
		req.Started(id)
	}
	if _, err := d.startContainer(ctx, c, true); err != nil {
		var se *shim.StartError
		if errors.As(err, &se) && se.ExitCode != 0 {
			fmt.Fprintln(req.Stderr, err.Error())
			return images.PendingLayer{}, &build.ExitError{Code: se.ExitCode}
		}
		return images.PendingLayer{}, err
	}
	conn, err := attach.Dial(ctx, shim.AttachSocketPath(d.bundleDir(id), ""))
	if err != nil {
		return images.PendingLayer{}, fmt.Errorf("attach to build container: %w", err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := attach.Session(ctx, conn, attach.Streams{Stdout: req.Stdout, Stderr: req.Stderr})
		done <- err
	}()
	if err := d.begin(ctx, c); err != nil {
		conn.Close()
		<-done
		return images.PendingLayer{}, err
	}
	if err := <-done; err != nil {
		return images.PendingLayer{}, err
	}
	code, msg, err := d.waitContainer(ctx, c, "not-running")
	if err != nil {
		return images.PendingLayer{}, err
	}
	if code != 0 {
		if msg != "" {
			fmt.Fprintln(req.Stderr, msg)
		}
		return images.PendingLayer{}, &build.ExitError{Code: code}
	}
	upper, err := d.images.Snapshotter().UpperDir(id)
	if err != nil {
		return images.PendingLayer{}, err
	}
	pr, pw := io.Pipe()
	go func() {
		_, err := archive.WriteDiff(ctx, pw, upper)
		pw.CloseWithError(err)
	}()
	layer, err := d.images.WriteLayer(ctx, req.ParentChain, pr)
	pr.CloseWithError(io.ErrClosedPipe)
	if err != nil {
		return images.PendingLayer{}, fmt.Errorf("commit RUN layer: %w", err)
	}
	return layer, nil
}
