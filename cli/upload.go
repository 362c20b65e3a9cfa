package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"time"

	"github.com/ctrd/ctrd/api"
	"golang.org/x/sys/unix"
	"golang.org/x/term"
)

const uploadChunk = 1 << 20

// upload streams r to the daemon while consume (an RPC reading the upload,
// such as Import) runs. size < 0 means unknown. A progress bar is drawn on
// stderr when it is a terminal. When r is a regular file and the daemon
// takes descriptors, the open file is handed over instead (handFile).
func (c *CLI) upload(ctx context.Context, cl *api.Client, r io.Reader, size int64, desc string, consume func(ctx context.Context, id string) error) error {
	up, err := cl.Uploads.Open(ctx, &api.Empty{})
	if err != nil {
		return daemonError(err)
	}
	if f, ok := r.(*os.File); ok && up.FdSocket != "" && isRegular(f) {
		handed, err := handFile(up.FdSocket, up.Id, f)
		if err != nil {
			return err
		}
		if handed {
			return c.readByDaemon(ctx, f, up.Id, size, desc, consume)
		}
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

func isRegular(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode().IsRegular()
}

// handFile gives the daemon the open file f as the input of upload id,
// over its fd socket: the daemon reads the file itself, sparing a copy of
// every byte through this process and the RPC framing. handed is false
// when the socket cannot be reached (the bytes are streamed then); a
// refusal by the daemon is an error.
func handFile(socket, id string, f *os.File) (handed bool, err error) {
	c, err := net.DialUnix("unix", nil, &net.UnixAddr{Name: socket, Net: "unix"})
	if err != nil {
		return false, nil
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, _, err := c.WriteMsgUnix([]byte(id), unix.UnixRights(int(f.Fd())), nil); err != nil {
		return false, nil
	}
	reply, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return false, fmt.Errorf("hand the file to the daemon: %w", err)
	}
	if reply = strings.TrimSpace(reply); reply != "ok" {
		return false, errors.New(reply) // the caller says it is the daemon's
	}
	return true, nil
}

// readByDaemon runs consume on a file the daemon reads itself. The file's
// offset is shared with the daemon's descriptor: it is the progress.
func (c *CLI) readByDaemon(ctx context.Context, f *os.File, id string, size int64, desc string, consume func(ctx context.Context, id string) error) error {
	bar := c.progress(size, desc)
	if bar == nil {
		return consume(ctx, id)
	}
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(progressInterval)
		defer t.Stop()
		var last int64
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				if off, err := f.Seek(0, io.SeekCurrent); err == nil && off > last {
					bar.Add(int(off - last))
					last = off
				}
			}
		}
	}()
	err := consume(ctx, id)
	close(stop)
	<-done
	bar.Finish()
	return err
}
