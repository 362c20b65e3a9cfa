package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/ctrd/ctrd/api"
	"github.com/ctrd/ctrd/api/errdefs"
	"github.com/ctrd/ctrd/rpc"
)

// images answers Tag and Remove; the rest of the service is not needed.
type images struct{ api.ImagesService }

func (images) Tag(ctx context.Context, req *api.TagImageRequest) (*api.Empty, error) {
	if req.Source == "" {
		return nil, errdefs.InvalidArgument(errors.New("no source"))
	}
	return &api.Empty{}, nil
}

func (images) Remove(ctx context.Context, req *api.RemoveImageRequest) (*api.RemoveImageResponse, error) {
	return nil, errdefs.NotFound(fmt.Errorf("No such image: %s", req.Name))
}

// uploads answers Write with nothing; it keeps what it got.
type uploads struct {
	api.UploadsService
	got chan []byte
}

func (u uploads) Write(ctx context.Context, req *api.WriteUploadRequest) (*api.Empty, error) {
	u.got <- req.Data
	return &api.Empty{}, nil
}

type builds struct{}

func (builds) Build(ctx context.Context, req *api.BuildRequest, srv api.Builds_BuildServer) error {
	for i := range 50 {
		if err := srv.Send(&api.BuildEvent{Stream: []byte(fmt.Sprintf("step %d\n", i))}); err != nil {
			return err
		}
	}
	if req.Target == "fail" {
		return errdefs.Conflict(errors.New("broken"))
	}
	return srv.Send(&api.BuildEvent{ImageId: "sha256:abc"})
}

var written = make(chan []byte, 1)

func serve(t *testing.T) *api.Client {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "api.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := api.NewServer(func(ctx context.Context, name string, m api.Method, params json.RawMessage) (any, error) {
		res, err := m(ctx, params)
		return res, errdefs.ToWire(err)
	})
	api.RegisterImagesService(srv, images{})
	api.RegisterBuildsService(srv, builds{})
	api.RegisterUploadsService(srv, uploads{got: written})
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close() })
	cl, err := api.Dial(context.Background(), "unix://"+sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cl.Close() })
	return cl
}

// Calls reach their method, and errors keep their kind across the wire.
func TestCallsAndErrors(t *testing.T) {
	cl := serve(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := cl.Images.Tag(ctx, &api.TagImageRequest{Source: "a", Target: "b"}); err != nil {
		t.Fatalf("Tag: %v", err)
	}
	_, err := cl.Images.Tag(ctx, &api.TagImageRequest{})
	if !errdefs.IsInvalidArgument(err) || errdefs.Message(err) != "no source" {
		t.Errorf("Tag without source: %v (invalid argument: %v)", err, errdefs.IsInvalidArgument(err))
	}
	_, err = cl.Images.Remove(ctx, &api.RemoveImageRequest{Name: "x"})
	if !errdefs.IsNotFound(err) || errdefs.Message(err) != "No such image: x" {
		t.Errorf("Remove: %v (not found: %v)", err, errdefs.IsNotFound(err))
	}
	// A method this server lacks.
	_, err = cl.Containers.List(ctx, &api.ListContainersRequest{})
	var re *rpc.Error
	if !errors.As(err, &re) || re.Code != api.CodeUnimplemented {
		t.Errorf("unserved method: %v", err)
	}
}

// An upload's chunk arrives whole, as the call's bulk bytes.
func TestUploadWrite(t *testing.T) {
	cl := serve(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	data := make([]byte, 1<<20)
	for i := range data {
		data[i] = byte(i * 7)
	}
	if _, err := cl.Uploads.Write(ctx, &api.WriteUploadRequest{Id: "u", Data: data}); err != nil {
		t.Fatal(err)
	}
	if got := <-written; !bytes.Equal(got, data) {
		t.Errorf("the service got %d bytes, not the %d written", len(got), len(data))
	}
}

// A streaming call's events come in order, then its end: io.EOF, or the
// handler's error.
func TestBuildStream(t *testing.T) {
	cl := serve(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, target := range []string{"", "fail"} {
		stream, err := api.NewBuildsClient(cl.Conn()).Build(ctx, &api.BuildRequest{Target: target})
		if err != nil {
			t.Fatal(err)
		}
		var steps int
		var image string
		for {
			ev, err := stream.Recv()
			if errors.Is(err, io.EOF) {
				if target == "fail" {
					t.Error("failed build ended with io.EOF")
				}
				break
			}
			if err != nil {
				if target != "fail" || !errdefs.IsConflict(err) {
					t.Errorf("target %q: %v", target, err)
				}
				break
			}
			switch {
			case len(ev.Stream) > 0:
				if want := fmt.Sprintf("step %d\n", steps); string(ev.Stream) != want {
					t.Fatalf("event %d is %q", steps, ev.Stream)
				}
				steps++
			case ev.ImageId != "":
				image = ev.ImageId
			}
		}
		if steps != 50 || (target == "" && image != "sha256:abc") {
			t.Errorf("target %q: %d steps, image %q", target, steps, image)
		}
	}
}
