package daemon

import (
	"bytes"
	"context"
	"path/filepath"
	"sync"

	"github.com/ctrd/ctrd/api"
	"github.com/ctrd/ctrd/api/errdefs"
	"github.com/ctrd/ctrd/images/build"
	"github.com/sirupsen/logrus"
)

// buildService serves `ctr build`: the context arrives through an upload,
// the output goes back as a stream of events.
type buildService struct {
	d *Daemon

	once    sync.Once
	builder *build.Builder
}

func (s *buildService) get() *build.Builder {
	s.once.Do(func() {
		s.builder = &build.Builder{
			Store:   s.d.images,
			Backend: &buildBackend{d: s.d},
			Root:    filepath.Join(s.d.cfg.DataRoot, "builder"),
		}
	})
	return s.builder
}

func (s *buildService) Build(ctx context.Context, req *api.BuildRequest, srv api.Builds_BuildServer) error {
	in, done, err := s.d.uploads.reader(req.UploadId)
	if err != nil {
		return srv.Send(&api.BuildEvent{Error: errdefs.Message(err)})
	}
	w := &eventWriter{srv: srv, quiet: req.Quiet}
	img, err := s.get().Build(ctx, build.Options{
		Context:    in,
		Dockerfile: req.Dockerfile,
		Tags:       req.Tags,
		BuildArgs:  req.BuildArgs,
		NoCache:    req.NoCache,
		Pull:       req.Pull,
		Target:     req.Target,
		Labels:     req.Labels,
		Out:        w,
	})
	done(err)
	if err != nil {
		logrus.WithError(err).Debug("build failed")
		if req.Quiet {
			w.flush()
		}
		return srv.Send(&api.BuildEvent{Error: errdefs.Message(err)})
	}
	logrus.WithField("image", img.ID).Info("image built")
	return srv.Send(&api.BuildEvent{ImageId: img.ID.String()})
}

// quietKeep bounds the output a quiet build keeps (one event's worth).
const quietKeep = 1 << 20

// eventWriter sends build output as events; quiet keeps it until flush
// (sent only when the build fails, as Docker's -q shows it then).
type eventWriter struct {
	mu    sync.Mutex
	srv   api.Builds_BuildServer
	quiet bool
	buf   bytes.Buffer
	err   error
}

func (w *eventWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.quiet {
		// Keep the last quietKeep bytes: what is shown if the build fails.
		w.buf.Write(p)
		if extra := w.buf.Len() - quietKeep; extra > 0 {
			w.buf.Next(extra)
		}
		return len(p), nil
	}
	if w.err != nil {
		return len(p), nil // the client went away: the build's context ends it
	}
	w.err = w.srv.Send(&api.BuildEvent{Stream: append([]byte(nil), p...)})
	return len(p), nil
}

func (w *eventWriter) flush() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.buf.Len() > 0 {
		w.err = w.srv.Send(&api.BuildEvent{Stream: w.buf.Bytes()})
		w.buf.Reset()
	}
}
