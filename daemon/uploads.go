package daemon

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/ctrd/ctrd/api"
	"github.com/ctrd/ctrd/api/errdefs"
)

// uploadIdle is how long an upload may go without a write before it is
// aborted, so an abandoned client never pins a consumer forever.
const uploadIdle = 2 * time.Minute

// uploads pairs the chunks clients write with the reader a consumer
// (import, build) takes. A Write returns once the consumer has read the
// chunk: memory stays bounded and a slow disk slows the client.
type uploads struct {
	mu sync.Mutex
	m  map[string]*upload
}

type upload struct {
	r     *io.PipeReader
	w     *io.PipeWriter
	timer *time.Timer
	// file, when the client handed its open file (upload_fds.go), is read
	// instead of the pipe; taken once a consumer has it (and closes it).
	file  *os.File
	taken bool
}

func newUploads() *uploads { return &uploads{m: map[string]*upload{}} }

func (u *uploads) open() string {
	id := newID()
	r, w := io.Pipe()
	up := &upload{r: r, w: w}
	up.timer = time.AfterFunc(uploadIdle, func() {
		w.CloseWithError(errors.New("upload abandoned: no data for 2 minutes"))
		u.remove(id)
	})
	u.mu.Lock()
	u.m[id] = up
	u.mu.Unlock()
	return id
}

func (u *uploads) get(id string) (*upload, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	up, ok := u.m[id]
	if !ok {
		return nil, errdefs.NotFound(fmt.Errorf("no upload %q in progress", id))
	}
	return up, nil
}

// attachFile makes f, a file the client handed over, the upload's input.
func (u *uploads) attachFile(id string, f *os.File) error {
	u.mu.Lock()
	defer u.mu.Unlock()
	up, ok := u.m[id]
	if !ok {
		return fmt.Errorf("no upload %q in progress", id)
	}
	if up.file != nil {
		return fmt.Errorf("upload %q already has its file", id)
	}
	// The idle timer runs on until a consumer takes the file: a client
	// that hands a file over and goes away leaves no descriptor behind.
	up.timer.Reset(uploadIdle)
	up.file = f
	return nil
}

// reader returns the consumer side of an upload. The consumer must call
// done with its result, which also unblocks any writer.
func (u *uploads) reader(id string) (io.Reader, func(error), error) {
	up, err := u.get(id)
	if err != nil {
		return nil, nil, err
	}
	u.mu.Lock()
	f := up.file
	if f != nil {
		up.taken = true
		up.timer.Stop()
	}
	u.mu.Unlock()
	if f != nil {
		return f, func(error) {
			f.Close()
			u.remove(id)
		}, nil
	}
	return up.r, func(err error) {
		if err == nil {
			err = errors.New("input no longer read")
		}
		up.r.CloseWithError(err)
		u.remove(id)
	}, nil
}

func (u *uploads) remove(id string) {
	u.mu.Lock()
	if up, ok := u.m[id]; ok {
		up.timer.Stop()
		if up.file != nil && !up.taken {
			up.file.Close()
		}
		delete(u.m, id)
	}
	u.mu.Unlock()
}

type uploadsService struct {
	u *uploads
	// fdSocket is where clients may hand over a file ("" if not served).
	fdSocket string
}

func (s *uploadsService) Open(ctx context.Context, _ *api.Empty) (*api.OpenUploadResponse, error) {
	return &api.OpenUploadResponse{Id: s.u.open(), FdSocket: s.fdSocket}, nil
}

func (s *uploadsService) Write(ctx context.Context, req *api.WriteUploadRequest) (*api.Empty, error) {
	up, err := s.u.get(req.Id)
	if err != nil {
		return nil, err
	}
	up.timer.Reset(uploadIdle)
	if _, err := up.w.Write(req.Data); err != nil {
		return nil, fmt.Errorf("upload aborted: %w", err)
	}
	return &api.Empty{}, nil
}

func (s *uploadsService) Close(ctx context.Context, req *api.CloseUploadRequest) (*api.Empty, error) {
	up, err := s.u.get(req.Id)
	if err != nil {
		return nil, err
	}
	if req.Error != "" {
		up.w.CloseWithError(errors.New(req.Error))
	} else {
		up.w.Close()
	}
	return &api.Empty{}, nil
}
