// Package compression tells the compression of a stream from its first
// bytes (never from a file name). It is apart from package archive, which
// links the decompressors, so that ctr can recognise a compressed build
// context without paying for their initialisation at every start.
package compression

import (
	"bytes"
	"encoding/binary"
	"fmt"
)

// Kind is the compression of a layer or image stream.
type Kind int

// Known compressions.
const (
	Uncompressed Kind = iota
	Gzip
	Bzip2
	Xz
	Zstd
)

// String returns "tar", "gzip", "bzip2", "xz" or "zstd".
func (k Kind) String() string {
	switch k {
	case Uncompressed:
		return "tar"
	case Gzip:
		return "gzip"
	case Bzip2:
		return "bzip2"
	case Xz:
		return "xz"
	case Zstd:
		return "zstd"
	}
	return fmt.Sprintf("compression(%d)", int(k))
}

var (
	magicGzip  = []byte{0x1f, 0x8b, 0x08}
	magicBzip2 = []byte{'B', 'Z', 'h'}
	magicXz    = []byte{0xfd, '7', 'z', 'X', 'Z', 0x00}
	magicZstd  = []byte{0x28, 0xb5, 0x2f, 0xfd}
)

// HeadLen is the number of leading bytes Detect looks at.
const HeadLen = 6

// Detect tells the compression of a stream from its first bytes (at least
// HeadLen are needed to recognise every format).
func Detect(head []byte) Kind {
	switch {
	case bytes.HasPrefix(head, magicGzip):
		return Gzip
	case bytes.HasPrefix(head, magicBzip2) && len(head) > 3 && head[3] >= '1' && head[3] <= '9':
		return Bzip2
	case bytes.HasPrefix(head, magicXz):
		return Xz
	case bytes.HasPrefix(head, magicZstd):
		return Zstd
	case len(head) >= 4 && binary.LittleEndian.Uint32(head)&0xfffffff0 == 0x184d2a50:
		// A zstd skippable frame (used e.g. by seekable or eStargz-like
		// formats) followed by zstd frames.
		return Zstd
	}
	return Uncompressed
}
