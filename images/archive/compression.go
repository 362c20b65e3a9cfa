package archive

import (
	"bufio"
	"compress/bzip2"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/ctrd/ctrd/images/archive/compression"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
)

// Compression is the compression of a layer or image stream, detected from
// its first bytes (package compression, which ctr links on its own).
type Compression = compression.Kind

// Known compressions.
const (
	Uncompressed = compression.Uncompressed
	Gzip         = compression.Gzip
	Bzip2        = compression.Bzip2
	Xz           = compression.Xz
	Zstd         = compression.Zstd
)

// DetectCompression tells the compression of a stream from its first bytes
// (at least 6 are needed to recognise every format).
func DetectCompression(head []byte) Compression { return compression.Detect(head) }

// DecompressStream peeks at r and returns a reader of its decompressed bytes
// and the compression found. Closing the returned reader releases the
// decompressor; it never closes r.
//
// Compressed streams are decompressed by a read-ahead goroutine, so that on a
// multi-core machine decompression overlaps with whatever the caller does
// with the bytes (e.g. writing files in Apply). Close stops it and waits for
// a Read of r under way to return, so r is never read after Close returns
// (to abort a stalled network read, close the source first).
func DecompressStream(r io.Reader) (io.ReadCloser, Compression, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	head, err := br.Peek(compression.HeadLen)
	if err != nil && err != io.EOF && err != bufio.ErrBufferFull {
		return nil, Uncompressed, fmt.Errorf("archive: reading stream header: %w", err)
	}
	c := DetectCompression(head)
	var dr io.ReadCloser
	switch c {
	case Uncompressed:
		return io.NopCloser(br), c, nil
	case Gzip:
		gz, err := gzip.NewReader(br)
		if err != nil {
			return nil, c, fmt.Errorf("archive: gzip: %w", err)
		}
		dr = gz
	case Bzip2:
		dr = io.NopCloser(bzip2.NewReader(br))
	case Xz:
		xr, err := xz.NewReader(br)
		if err != nil {
			return nil, c, fmt.Errorf("archive: xz: %w", err)
		}
		dr = io.NopCloser(xr)
	case Zstd:
		zr, err := zstd.NewReader(br, zstd.WithDecoderConcurrency(1))
		if err != nil {
			return nil, c, fmt.Errorf("archive: zstd: %w", err)
		}
		dr = zr.IOReadCloser()
	}
	return newReadahead(dr, c), c, nil
}

// readahead runs the reads of src in its own goroutine, keeping a few chunks
// of decompressed data ready for the consumer.
type readahead struct {
	c     Compression
	ready chan chunk
	free  chan []byte
	done  chan struct{} // closed by Close
	exit  chan struct{} // closed when fill returns
	once  sync.Once
	cur   chunk
	off   int
	err   error
}

var errReadAfterClose = errors.New("archive: read of a closed decompressor")

type chunk struct {
	buf []byte
	err error
}

const (
	chunkSize   = 1 << 20
	chunkCount  = 4
	errNameComp = "archive: decompressing %s stream: %w"
)

func newReadahead(src io.ReadCloser, c Compression) *readahead {
	ra := &readahead{
		c:     c,
		ready: make(chan chunk, chunkCount),
		free:  make(chan []byte, chunkCount),
		done:  make(chan struct{}),
		exit:  make(chan struct{}),
	}
	for i := 0; i < chunkCount; i++ {
		ra.free <- make([]byte, chunkSize)
	}
	go ra.fill(src)
	return ra
}

func (ra *readahead) fill(src io.ReadCloser) {
	defer close(ra.exit)
	defer src.Close()
	for {
		var buf []byte
		select {
		case buf = <-ra.free:
		case <-ra.done:
			return
		}
		// Fill the chunk; unlike io.ReadFull, keep the source's own error
		// (a decompressor reports truncation as io.ErrUnexpectedEOF).
		buf = buf[:cap(buf)]
		n := 0
		var err error
		for n < len(buf) && err == nil {
			select {
			case <-ra.done:
				return
			default:
			}
			var m int
			m, err = src.Read(buf[n:])
			n += m
		}
		ra.ready <- chunk{buf: buf[:n], err: err} // never blocks: at most chunkCount buffers exist
		if err != nil {
			return
		}
	}
}

func (ra *readahead) Read(p []byte) (int, error) {
	for ra.off == len(ra.cur.buf) {
		if ra.err != nil {
			return 0, ra.err
		}
		if ra.cur.buf != nil {
			ra.free <- ra.cur.buf[:0]
			ra.cur.buf = nil
		}
		select {
		case ra.cur = <-ra.ready:
		case <-ra.done:
			ra.cur, ra.off, ra.err = chunk{}, 0, errReadAfterClose
			continue
		}
		ra.off = 0
		if ra.cur.err != nil {
			ra.err = ra.cur.err
			if ra.err != io.EOF {
				ra.err = fmt.Errorf(errNameComp, ra.c, ra.err)
			}
		}
	}
	n := copy(p, ra.cur.buf[ra.off:])
	ra.off += n
	return n, nil
}

// Close stops the read-ahead goroutine and waits for it to return.
func (ra *readahead) Close() error {
	ra.once.Do(func() { close(ra.done) })
	<-ra.exit
	return nil
}
