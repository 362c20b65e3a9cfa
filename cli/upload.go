package cli

import (
	"context"
	"errors"
	"io"
	"os"

	"github.com/ctrd/ctrd/api"
	"golang.org/x/term"
	"google.golang.org/protobuf/types/known/emptypb"
)

const uploadChunk = 1 << 20

// upload streams r to the daemon while consume (an RPC reading the upload,
// such as Import) runs. size < 0 means unknown. A progress bar is drawn on
// stderr when it is a terminal.
func (c *CLI) upload(ctx context.Context, cl *api.Client, r io.Reader, size int64, desc string, consume func(ctx context.Context, id string) error) error {
	up, err := cl.Uploads.Open(ctx, &emptypb.Empty{})
	if err != nil {
		return daemonError(err)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- consume(ctx, up.Id) }()

	bar := c.progress(size, desc)
	buf := make([]byte, uploadChunk)
	var readErr error
	for {
		n, err := io.ReadFull(r, buf)
		if n > 0 {
			if _, werr := cl.Uploads.Write(ctx, &api.WriteUploadRequest{Id: up.Id, Data: buf[:n]}); werr != nil {
				// The consumer stopped reading: its error says why.
				break
			}
			if bar != nil {
				bar.Add(n)
			}
		}
		if err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
				readErr = err
			}
			break
		}
	}
	closeReq := &api.CloseUploadRequest{Id: up.Id}
	if readErr != nil {
		closeReq.Error = "reading input: " + readErr.Error()
	}
	_, _ = cl.Uploads.Close(ctx, closeReq)
	err = <-done
	if bar != nil {
		bar.Finish()
	}
	return err
}

func (c *CLI) progress(size int64, desc string) *progressBar {
	f, ok := c.Err.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return nil
	}
	return newProgressBar(f, size, desc)
}
