package archive

import (
	"bytes"
	"io"
	"os/exec"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
)

func compressWith(t *testing.T, prog string, data []byte) []byte {
	t.Helper()
	path, err := exec.LookPath(prog)
	if err != nil {
		t.Skipf("%s not installed", prog)
	}
	cmd := exec.Command(path, "-c")
	cmd.Stdin = bytes.NewReader(data)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s: %v", prog, err)
	}
	return out
}

func TestDecompressStream(t *testing.T) {
	data := mkTar(t, fileE("a", strings.Repeat("hello, layer ", 100000)), fileE("b", "b"))
	inProcess := map[string]func(t *testing.T) []byte{
		"gzip-go": func(t *testing.T) []byte {
			var b bytes.Buffer
			w := gzip.NewWriter(&b)
			w.Write(data)
			w.Close()
			return b.Bytes()
		},
		"gzip-multistream": func(t *testing.T) []byte {
			var b bytes.Buffer
			for _, part := range [][]byte{data[:1000], data[1000:]} {
				w := gzip.NewWriter(&b)
				w.Write(part)
				w.Close()
			}
			return b.Bytes()
		},
		"zstd-go": func(t *testing.T) []byte {
			var b bytes.Buffer
			w, _ := zstd.NewWriter(&b)
			w.Write(data)
			w.Close()
			return b.Bytes()
		},
		"xz-go": func(t *testing.T) []byte {
			var b bytes.Buffer
			w, _ := xz.NewWriter(&b)
			w.Write(data)
			w.Close()
			return b.Bytes()
		},
	}
	cases := []struct {
		name string
		want Compression
		str  string
		make func(t *testing.T) []byte
	}{
		{"tar", Uncompressed, "tar", func(t *testing.T) []byte { return data }},
		{"gzip", Gzip, "gzip", func(t *testing.T) []byte { return compressWith(t, "gzip", data) }},
		{"gzip-go", Gzip, "gzip", inProcess["gzip-go"]},
		{"gzip-multistream", Gzip, "gzip", inProcess["gzip-multistream"]},
		{"bzip2", Bzip2, "bzip2", func(t *testing.T) []byte { return compressWith(t, "bzip2", data) }},
		{"xz", Xz, "xz", func(t *testing.T) []byte { return compressWith(t, "xz", data) }},
		{"xz-go", Xz, "xz", inProcess["xz-go"]},
		{"zstd", Zstd, "zstd", func(t *testing.T) []byte { return compressWith(t, "zstd", data) }},
		{"zstd-go", Zstd, "zstd", inProcess["zstd-go"]},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			comp := c.make(t)
			if got := DetectCompression(comp[:16]); got != c.want {
				t.Errorf("DetectCompression = %v, want %v", got, c.want)
			}
			if c.want.String() != c.str {
				t.Errorf("String() = %q, want %q", c.want.String(), c.str)
			}
			rc, got, err := DecompressStream(bytes.NewReader(comp))
			if err != nil {
				t.Fatal(err)
			}
			defer rc.Close()
			if got != c.want {
				t.Errorf("DecompressStream compression = %v, want %v", got, c.want)
			}
			// Small reads exercise the read-ahead chunk boundaries.
			out, err := io.ReadAll(io.LimitReader(rc, 777))
			if err != nil {
				t.Fatal(err)
			}
			rest, err := io.ReadAll(rc)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, rest...)
			if !bytes.Equal(out, data) {
				t.Errorf("decompressed %d bytes, differ from the %d original", len(out), len(data))
			}
			if c.want != Uncompressed {
				// Truncated streams must fail, not end quietly.
				rc, _, err := DecompressStream(bytes.NewReader(comp[:len(comp)/2]))
				if err == nil {
					_, err = io.ReadAll(rc)
					rc.Close()
				}
				if err == nil {
					t.Errorf("truncated %s stream: no error", c.name)
				}
			}
		})
	}
}

func TestDetectCompressionShort(t *testing.T) {
	for _, head := range [][]byte{nil, {0x1f}, {0x1f, 0x8b}, []byte("BZh"), []byte("BZhx"), {0xfd, '7', 'z'}, []byte("ustar")} {
		if got := DetectCompression(head); got != Uncompressed {
			t.Errorf("DetectCompression(%q) = %v", head, got)
		}
	}
	if got := DetectCompression([]byte{0x50, 0x2a, 0x4d, 0x18, 0, 0, 0, 0}); got != Zstd {
		t.Errorf("zstd skippable frame: %v", got)
	}
	rc, c, err := DecompressStream(bytes.NewReader(nil))
	if err != nil || c != Uncompressed {
		t.Fatalf("empty stream: %v %v", c, err)
	}
	if b, err := io.ReadAll(rc); err != nil || len(b) != 0 {
		t.Errorf("empty stream read %q %v", b, err)
	}
}

func TestDecompressStreamClose(t *testing.T) {
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	w.Write(bytes.Repeat([]byte("abc"), 3<<20))
	w.Close()
	src := &countingReader{r: iotest.OneByteReader(bytes.NewReader(b.Bytes()))}
	rc, _, err := DecompressStream(src)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(rc, make([]byte, 1<<20)); err != nil {
		t.Fatal(err)
	}
	rc.Close()
	n := src.n // no race: Close waited for the read-ahead goroutine
	rc.Close()
	time.Sleep(10 * time.Millisecond)
	if src.n != n {
		t.Errorf("source read after Close")
	}
	if _, err := io.ReadAll(rc); err == nil {
		t.Errorf("read after close: no error")
	}
}
