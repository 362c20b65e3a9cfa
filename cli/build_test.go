package cli

import (
	"math/rand"
	"testing"

	"github.com/ctrd/ctrd/images/archive"
)

// TestIsCompressedMatchesArchive: ctr tells a compressed build context from
// a Dockerfile on stdin as the daemon's decompressor does.
func TestIsCompressedMatchesArchive(t *testing.T) {
	heads := [][]byte{
		nil, {0x1f}, {0x1f, 0x8b}, {0x1f, 0x8b, 0x08}, {0x1f, 0x8b, 0x07},
		[]byte("BZh"), []byte("BZh9"), []byte("BZh0"), []byte("BZhx"),
		{0xfd, '7', 'z', 'X', 'Z'}, {0xfd, '7', 'z', 'X', 'Z', 0}, {0x28, 0xb5, 0x2f, 0xfd},
		{0x50, 0x2a, 0x4d, 0x18}, {0x5f, 0x2a, 0x4d, 0x18, 1}, {0x60, 0x2a, 0x4d, 0x18},
		[]byte("FROM busybox\n"),
	}
	rng := rand.New(rand.NewSource(1))
	magic := [][]byte{{0x1f, 0x8b, 0x08}, []byte("BZh"), {0xfd, '7', 'z', 'X', 'Z', 0}, {0x28, 0xb5, 0x2f, 0xfd}, {0x2a, 0x4d, 0x18}}
	for i := 0; i < 100000; i++ {
		h := make([]byte, rng.Intn(8))
		rng.Read(h)
		if m := magic[rng.Intn(len(magic))]; rng.Intn(2) == 0 && len(h) > 0 {
			copy(h[rng.Intn(2):], m)
		}
		heads = append(heads, h)
	}
	for _, h := range heads {
		if got, want := isCompressed(h), archive.DetectCompression(h) != archive.Uncompressed; got != want {
			t.Errorf("isCompressed(% x) = %v, want %v", h, got, want)
		}
	}
}
