package archive

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"
	"golang.org/x/sys/unix"
)

// benchTar builds a layer of `files` small files (256 B - 32 KiB) in 100
// directories plus bigFiles files of 16 MiB. The content is text-like and
// compresses about 3:1, like a typical OS layer.
func benchTar(b *testing.B, files, bigFiles int) []byte {
	rnd := rand.New(rand.NewSource(1))
	vocab := make([][]byte, 2000)
	for i := range vocab {
		w := make([]byte, 2+rnd.Intn(10))
		for j := range w {
			w[j] = byte('a' + rnd.Intn(26))
		}
		vocab[i] = append(w, ' ')
	}
	content := func(n int) string {
		buf := make([]byte, 0, n+16)
		for len(buf) < n {
			buf = append(buf, vocab[rnd.Intn(len(vocab))]...)
		}
		return string(buf[:n])
	}
	var ents []ent
	for d := 0; d < 100; d++ {
		ents = append(ents, dirE(fmt.Sprintf("usr/share/d%03d/", d)))
	}
	for i := 0; i < files; i++ {
		ents = append(ents, fileE(fmt.Sprintf("usr/share/d%03d/f%05d", i%100, i), content(256+rnd.Intn(32<<10))))
	}
	for i := 0; i < 20; i++ {
		ents = append(ents, symlinkE(fmt.Sprintf("usr/share/d000/l%d", i), "f00000"))
	}
	big := content(16 << 20)
	for i := 0; i < bigFiles; i++ {
		ents = append(ents, fileE(fmt.Sprintf("opt/big%d", i), big).with(func(h *tar.Header) { h.Mode = 0o755 }))
	}
	return mkTar(b, ents...)
}

func cpuTime() time.Duration {
	var ru unix.Rusage
	unix.Getrusage(unix.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// benchApply applies stream() into a fresh directory per iteration and also
// reports the CPU time per op (this machine is shared: wall time is noisy).
func benchApply(b *testing.B, size int, stream func() *bytes.Reader) {
	for _, workers := range []int{0, applyWorkers} {
		b.Run(fmt.Sprintf("workers=%d", workers), func(b *testing.B) {
			defer func(w int) { applyWorkers = w }(applyWorkers)
			applyWorkers = workers
			b.SetBytes(int64(size))
			base := b.TempDir()
			var cpu time.Duration
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				dir := filepath.Join(base, fmt.Sprint(i))
				if err := os.Mkdir(dir, 0o755); err != nil {
					b.Fatal(err)
				}
				c0 := cpuTime()
				rc, _, err := DecompressStream(stream())
				if err != nil {
					b.Fatal(err)
				}
				if _, err := Apply(context.Background(), dir, rc); err != nil {
					b.Fatal(err)
				}
				rc.Close()
				cpu += cpuTime() - c0
				b.StopTimer()
				os.RemoveAll(dir)
				b.StartTimer()
			}
			b.ReportMetric(float64(cpu.Milliseconds())/float64(b.N), "cpu-ms/op")
		})
	}
}

// BenchmarkApply applies an uncompressed ~150 MB layer of 5,000 small files
// and 4 large ones.
func BenchmarkApply(b *testing.B) {
	requireRoot(b)
	data := benchTar(b, 5000, 4)
	benchApply(b, len(data), func() *bytes.Reader { return bytes.NewReader(data) })
}

// BenchmarkApplyGzip is BenchmarkApply through DecompressStream of a gzip
// stream (MB/s are of the uncompressed tar).
func BenchmarkApplyGzip(b *testing.B) {
	requireRoot(b)
	data := benchTar(b, 5000, 4)
	var gz bytes.Buffer
	w := gzip.NewWriter(&gz)
	w.Write(data)
	w.Close()
	b.Logf("tar %d MB, gzip %d MB", len(data)>>20, gz.Len()>>20)
	benchApply(b, len(data), func() *bytes.Reader { return bytes.NewReader(gz.Bytes()) })
}
