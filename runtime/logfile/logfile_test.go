package logfile

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"
)

var t0 = time.Date(2024, 5, 6, 7, 8, 9, 123456789, time.UTC)

func TestEncoding(t *testing.T) {
	tests := []struct {
		name   string
		line   string
		stream string
		time   time.Time
		want   string
	}{
		{"with newline", "hello\n", "stdout", t0, `{"log":"hello\n","stream":"stdout","time":"2024-05-06T07:08:09.123456789Z"}` + "\n"},
		{"without newline", "partial", "stderr", t0, `{"log":"partial","stream":"stderr","time":"2024-05-06T07:08:09.123456789Z"}` + "\n"},
		{"quotes and backslash", `say "hi" \o/` + "\n", "stdout", t0, `{"log":"say \"hi\" \\o/\n","stream":"stdout","time":"2024-05-06T07:08:09.123456789Z"}` + "\n"},
		{"control chars", "a\tb\rc\x00d\x1b[0m\x7f\n", "stdout", t0, `{"log":"a\u0009b\rc\u0000d\u001b[0m` + "\x7f" + `\n","stream":"stdout","time":"2024-05-06T07:08:09.123456789Z"}` + "\n"},
		{"html", "<a href='x'>&</a>", "stdout", t0, `{"log":"\u003ca href='x'\u003e\u0026\u003c/a\u003e","stream":"stdout","time":"2024-05-06T07:08:09.123456789Z"}` + "\n"},
		{"utf8 kept", "héllo wörld ✓ 😀\n", "stdout", t0, `{"log":"héllo wörld ✓ 😀\n","stream":"stdout","time":"2024-05-06T07:08:09.123456789Z"}` + "\n"},
		{"invalid utf8", "a\xffb\xc3\n", "stdout", t0, `{"log":"a\ufffdb\ufffd\n","stream":"stdout","time":"2024-05-06T07:08:09.123456789Z"}` + "\n"},
		{"line separators", "x\u2028y\u2029z", "stdout", t0, `{"log":"x\u2028y\u2029z","stream":"stdout","time":"2024-05-06T07:08:09.123456789Z"}` + "\n"},
		{"time trims zeros, converts to UTC", "x\n", "stdout", time.Date(2024, 1, 2, 4, 4, 5, 500000000, time.FixedZone("X", 3600)),
			`{"log":"x\n","stream":"stdout","time":"2024-01-02T03:04:05.5Z"}` + "\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := string(appendEntry(nil, tt.stream, []byte(tt.line), tt.time))
			if got != tt.want {
				t.Fatalf("got  %s\nwant %s", got, tt.want)
			}
			// Valid JSON that decodes to the same text (invalid UTF-8 as U+FFFD).
			var rec struct {
				Log, Stream string
				Time        time.Time
			}
			if err := json.Unmarshal([]byte(got), &rec); err != nil {
				t.Fatal(err)
			}
			wantLog := strings.ToValidUTF8(tt.line, "\uFFFD")
			if tt.name == "invalid utf8" {
				wantLog = "a\uFFFDb\uFFFD\n"
			}
			if rec.Log != wantLog || rec.Stream != tt.stream || !rec.Time.Equal(tt.time) {
				t.Fatalf("decoded %+v", rec)
			}
			e, err := parseEntry([]byte(strings.TrimSuffix(got, "\n")))
			if err != nil || string(e.Line) != wantLog || e.Stream != tt.stream || !e.Time.Equal(tt.time) {
				t.Fatalf("parseEntry = %+v, %v", e, err)
			}
		})
	}
}

// Matches what encoding/json decodes, for records we write and for others.
func TestParseEntry(t *testing.T) {
	for _, raw := range []string{
		`{"log":"docker \"line\"\n","stream":"stdout","attrs":{"tag":"x"},"time":"2023-01-01T00:00:00.000000001Z"}`,
		`{"stream":"stderr","log":"reordered\n","time":"2023-01-01T00:00:00Z"}`,
		`{"log":"esc \u00e9 \ud83d\ude00 \/ \b\f\t","stream":"stdout","time":"2023-01-01T00:00:00Z"}`,
		`{"log":"lone \ud83d surrogate","stream":"stdout","time":"2023-01-01T00:00:00Z"}`,
		`{"log":"UPPER \u00E9","stream":"stdout","time":"2023-01-01T00:00:00+02:00"}`,
	} {
		var want struct {
			Log, Stream string
			Time        time.Time
		}
		if err := json.Unmarshal([]byte(raw), &want); err != nil {
			t.Fatal(err)
		}
		e, err := parseEntry([]byte(raw))
		if err != nil || string(e.Line) != want.Log || e.Stream != want.Stream || !e.Time.Equal(want.Time) {
			t.Errorf("%s: got %+v %v, want %+v", raw, e, err, want)
		}
	}
	for _, bad := range []string{``, `{`, `not json`, `{"log":"x","stream":"stdout","time":"yesterday"}`, `{"log":"unterminated`} {
		if _, err := parseEntry([]byte(bad)); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}

func FuzzRoundTrip(f *testing.F) {
	for _, s := range []string{"", "x\n", "\x00\xff\"\\<>&\u2028", "\ud7ff\ue000", "a\tb"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		rec := appendEntry(nil, "stdout", line, t0)
		if !json.Valid(rec) {
			t.Fatalf("invalid JSON %q", rec)
		}
		e, err := parseEntry(rec[:len(rec)-1])
		if err != nil {
			t.Fatal(err)
		}
		var want struct{ Log string }
		json.Unmarshal(rec, &want)
		if string(e.Line) != want.Log {
			t.Fatalf("parse %q != json %q", e.Line, want.Log)
		}
		if utf8.Valid(line) && string(e.Line) != string(line) {
			t.Fatalf("round trip %q -> %q", line, e.Line)
		}
	})
}

func readAllEntries(t *testing.T, path string, o ReadOptions) []Entry {
	t.Helper()
	var out []Entry
	if err := Read(context.Background(), path, o, func(e Entry) error { out = append(out, e); return nil }); err != nil {
		t.Fatal(err)
	}
	return out
}

func lines(es []Entry) []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = string(e.Line)
	}
	return out
}

func seq(from, to int) []string {
	var out []string
	for i := from; i <= to; i++ {
		out = append(out, fmt.Sprintf("line %04d\n", i))
	}
	return out
}

func TestWriteAndRotate(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "c-json.log")
	w, err := NewWriter(path, 1000, 3)
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 100; i++ {
		if err := w.WriteLine("stdout", fmt.Appendf(nil, "line %04d\n", i), t0.Add(time.Duration(i)*time.Second)); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := w.WriteLine("stdout", []byte("x"), t0); !errors.Is(err, os.ErrClosed) {
		t.Fatalf("write after close: %v", err)
	}
	names, _ := filepath.Glob(path + "*")
	if len(names) != 3 {
		t.Fatalf("files %v, want 3", names)
	}
	var all []string
	for _, n := range []string{path + ".2", path + ".1", path} {
		data, err := os.ReadFile(n)
		if err != nil {
			t.Fatal(err)
		}
		if len(data) > 1000 {
			t.Errorf("%s is %d bytes > max size", n, len(data))
		}
		for _, l := range strings.SplitAfter(strings.TrimSuffix(string(data), "\n"), "\n") {
			e, err := parseEntry([]byte(strings.TrimSuffix(l, "\n")))
			if err != nil {
				t.Fatalf("%s: bad record %q", n, l)
			}
			all = append(all, string(e.Line))
		}
	}
	// The oldest records were dropped; what is kept is contiguous up to 100.
	first := 101 - len(all)
	if first <= 1 || strings.Join(all, "") != strings.Join(seq(first, 100), "") {
		t.Fatalf("kept %q", all)
	}
	got := readAllEntries(t, path, ReadOptions{Tail: -1})
	if strings.Join(lines(got), "") != strings.Join(seq(first, 100), "") {
		t.Fatalf("Read: %q", lines(got))
	}

	// Reopening appends to the current file and honours its size.
	w, err = NewWriter(path, 1000, 3)
	if err != nil {
		t.Fatal(err)
	}
	w.WriteLine("stdout", []byte("line 0101\n"), t0.Add(101*time.Second))
	w.Close()
	got = readAllEntries(t, path, ReadOptions{Tail: 1})
	if len(got) != 1 || string(got[0].Line) != "line 0101\n" {
		t.Fatalf("after reopen: %q", lines(got))
	}
}

func TestMaxFilesOneAndShrink(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "log")
	w, _ := NewWriter(path, 500, 4)
	for i := 1; i <= 60; i++ {
		w.WriteLine("stdout", fmt.Appendf(nil, "line %04d\n", i), t0)
	}
	w.Close()
	if _, err := os.Stat(path + ".3"); err != nil {
		t.Fatal("expected 4 files")
	}
	w, _ = NewWriter(path, 500, 1) // fewer files now: extra ones go
	for i := 61; i <= 80; i++ {
		w.WriteLine("stdout", fmt.Appendf(nil, "line %04d\n", i), t0)
	}
	w.Close()
	names, _ := filepath.Glob(path + "*")
	if len(names) != 1 {
		t.Fatalf("files %v", names)
	}
	got := lines(readAllEntries(t, path, ReadOptions{Tail: -1}))
	if len(got) == 0 || got[len(got)-1] != "line 0080\n" || len(got) > 8 {
		t.Fatalf("got %q", got)
	}
	if _, err := NewWriter(path, 10, 0); err == nil {
		t.Fatal("max files 0 accepted")
	}
}

func TestUnlimitedAndEmpty(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log")
	w, _ := NewWriter(path, 0, 1)
	for i := 0; i < 1000; i++ {
		w.WriteLine("stdout", []byte("0123456789012345678901234567890123456789\n"), t0)
	}
	w.WriteLine("stdout", nil, t0) // ignored
	w.Close()
	names, _ := filepath.Glob(path + "*")
	if len(names) != 1 {
		t.Fatalf("files %v", names)
	}
	if n := len(readAllEntries(t, path, ReadOptions{Tail: -1})); n != 1000 {
		t.Fatalf("%d entries", n)
	}
	// A missing log reads as empty.
	if n := len(readAllEntries(t, filepath.Join(t.TempDir(), "none"), ReadOptions{Tail: -1})); n != 0 {
		t.Fatalf("missing log: %d entries", n)
	}
}

// writeFixture writes n lines, alternating stdout/stderr, one second apart,
// rotating every ~maxSize bytes.
func writeFixture(t *testing.T, path string, n int, maxSize int64, maxFiles int) {
	t.Helper()
	w, err := NewWriter(path, maxSize, maxFiles)
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= n; i++ {
		stream := "stdout"
		if i%2 == 0 {
			stream = "stderr"
		}
		if err := w.WriteLine(stream, fmt.Appendf(nil, "line %04d\n", i), t0.Add(time.Duration(i)*time.Second)); err != nil {
			t.Fatal(err)
		}
	}
	w.Close()
}

func TestReadFilters(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log")
	writeFixture(t, path, 200, 2000, 10) // ~25 lines a file, 8 files
	if _, err := os.Stat(path + ".5"); err != nil {
		t.Fatal("fixture did not rotate enough")
	}
	at := func(i int) time.Time { return t0.Add(time.Duration(i) * time.Second) }
	tests := []struct {
		name string
		o    ReadOptions
		want []string
	}{
		{"all", ReadOptions{Tail: -1}, seq(1, 200)},
		{"tail 5", ReadOptions{Tail: 5}, seq(196, 200)},
		{"tail 0", ReadOptions{Tail: 0}, nil},
		{"tail 60 spans files", ReadOptions{Tail: 60}, seq(141, 200)},
		{"tail more than all", ReadOptions{Tail: 1000}, seq(1, 200)},
		{"since", ReadOptions{Tail: -1, Since: at(190)}, seq(190, 200)},
		{"since across files", ReadOptions{Tail: -1, Since: at(120)}, seq(120, 200)},
		{"until", ReadOptions{Tail: -1, Until: at(30)}, seq(1, 30)},
		{"since+until", ReadOptions{Tail: -1, Since: at(50), Until: at(80)}, seq(50, 80)},
		{"tail+since: since wins", ReadOptions{Tail: 50, Since: at(180)}, seq(180, 200)},
		{"tail+since: tail wins", ReadOptions{Tail: 3, Since: at(10)}, seq(198, 200)},
		{"tail+until", ReadOptions{Tail: 3, Until: at(100)}, seq(98, 100)},
		{"stdout only", ReadOptions{Tail: -1, Stdout: true, Since: at(191)}, []string{"line 0191\n", "line 0193\n", "line 0195\n", "line 0197\n", "line 0199\n"}},
		{"stderr tail 2", ReadOptions{Tail: 2, Stderr: true}, []string{"line 0198\n", "line 0200\n"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := lines(readAllEntries(t, path, tt.o))
			if strings.Join(got, "") != strings.Join(tt.want, "") {
				t.Fatalf("got %q\nwant %q", got, tt.want)
			}
		})
	}
	// An error from fn stops the read.
	stop := errors.New("enough")
	n := 0
	err := Read(context.Background(), path, ReadOptions{Tail: -1}, func(Entry) error {
		n++
		if n == 3 {
			return stop
		}
		return nil
	})
	if err != stop || n != 3 {
		t.Fatalf("fn error: %v after %d", err, n)
	}
}

type countingReaderAt struct {
	f *os.File
	n int64
}

func (c *countingReaderAt) ReadAt(p []byte, off int64) (int, error) {
	n, err := c.f.ReadAt(p, off)
	c.n += int64(n)
	return n, err
}

// --tail 5 of a big file reads a few KB from its end, not the file.
func TestTailReadsLittle(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log")
	w, _ := NewWriter(path, 0, 1)
	for i := 0; i < 100000; i++ {
		w.WriteLine("stdout", fmt.Appendf(nil, "some output line number %d\n", i), t0)
	}
	w.Close()
	f, _ := os.Open(path)
	defer f.Close()
	st, _ := f.Stat()
	c := &countingReaderAt{f: f}
	var got []string
	scanBackward(c, st.Size(), true, func(raw []byte) (bool, error) {
		e, _ := parseEntry(raw)
		got = append(got, string(e.Line))
		return len(got) == 5, nil
	})
	if got[0] != "some output line number 99999\n" || got[4] != "some output line number 99995\n" {
		t.Fatalf("got %q", got)
	}
	if c.n > 64<<10 || st.Size() < 5<<20 {
		t.Fatalf("read %d bytes of %d", c.n, st.Size())
	}
	start := time.Now()
	es := readAllEntries(t, path, ReadOptions{Tail: 5})
	if len(es) != 5 || time.Since(start) > 100*time.Millisecond {
		t.Fatalf("tail 5: %d entries in %v", len(es), time.Since(start))
	}
}

// A record being written (no newline yet) is not returned by a tail, and a
// follower picks it up once complete.
func TestPartialRecord(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log")
	writeFixture(t, path, 3, 0, 1)
	rec := appendEntry(nil, "stdout", []byte("late\n"), t0.Add(time.Hour))
	f, _ := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	f.Write(rec[:10])
	got := lines(readAllEntries(t, path, ReadOptions{Tail: 2}))
	if strings.Join(got, "") != strings.Join(seq(2, 3), "") {
		t.Fatalf("tail with partial: %q", got)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	done := make(chan struct{})
	var out []string
	errc := make(chan error, 1)
	go func() {
		errc <- Read(ctx, path, ReadOptions{Tail: 1, Follow: true, Done: done}, func(e Entry) error {
			out = append(out, string(e.Line))
			if string(e.Line) == "late\n" {
				close(done)
			}
			return nil
		})
	}()
	time.Sleep(50 * time.Millisecond)
	f.Write(rec[10:])
	f.Close()
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	if strings.Join(out, "") != "line 0003\nlate\n" {
		t.Fatalf("follow: %q", out)
	}
}

func TestConcurrentWriters(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log")
	w, _ := NewWriter(path, 50000, 5)
	var wg sync.WaitGroup
	for _, s := range []string{"stdout", "stderr"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 2000; i++ {
				w.WriteLine(s, fmt.Appendf(nil, "%s %d with some \"text\"\n", s, i), time.Now())
			}
		}()
	}
	wg.Wait()
	w.Close()
	names, _ := filepath.Glob(path + "*")
	for _, n := range names {
		data, _ := os.ReadFile(n)
		for _, l := range bytes.Split(bytes.TrimSuffix(data, []byte("\n")), []byte("\n")) {
			if !json.Valid(l) {
				t.Fatalf("%s: corrupt record %q", n, l)
			}
		}
	}
	// Per stream, order is kept.
	next := map[string]int{}
	for _, e := range readAllEntries(t, path, ReadOptions{Tail: -1}) {
		var i int
		fmt.Sscanf(strings.TrimPrefix(string(e.Line), e.Stream+" "), "%d", &i)
		if next[e.Stream] != 0 && i != next[e.Stream] {
			t.Fatalf("%s: got %d, want %d", e.Stream, i, next[e.Stream])
		}
		next[e.Stream] = i + 1
	}
	if next["stdout"] != 2000 || next["stderr"] != 2000 {
		t.Fatalf("last seen %v", next)
	}
}

// follower collects entries from a Read in a goroutine.
type follower struct {
	mu    sync.Mutex
	lines []string
	errc  chan error
}

func startFollow(ctx context.Context, path string, o ReadOptions, hook func(Entry)) *follower {
	f := &follower{errc: make(chan error, 1)}
	o.Follow = true
	go func() {
		f.errc <- Read(ctx, path, o, func(e Entry) error {
			if hook != nil {
				hook(e)
			}
			f.mu.Lock()
			f.lines = append(f.lines, string(e.Line))
			f.mu.Unlock()
			return nil
		})
	}()
	return f
}

func (f *follower) get() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.lines...)
}

func (f *follower) wait(t *testing.T) error {
	t.Helper()
	select {
	case err := <-f.errc:
		return err
	case <-time.After(10 * time.Second):
		t.Fatal("follower did not return")
		return nil
	}
}

// Follow while another goroutine writes and rotates; stop via Done.
func TestFollowAcrossRotations(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log")
	w, _ := NewWriter(path, 4000, 4) // ~40 records a file
	for i := 1; i <= 10; i++ {
		w.WriteLine("stdout", fmt.Appendf(nil, "line %04d\n", i), t0)
	}
	done := make(chan struct{})
	f := startFollow(context.Background(), path, ReadOptions{Tail: 3, Done: done}, nil)
	for deadline := time.Now().Add(5 * time.Second); len(f.get()) < 3 && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	for i := 11; i <= 1500; i++ {
		stream := "stdout"
		if i%3 == 0 {
			stream = "stderr"
		}
		if err := w.WriteLine(stream, fmt.Appendf(nil, "line %04d\n", i), t0); err != nil {
			t.Fatal(err)
		}
		if i%5 == 0 {
			time.Sleep(time.Millisecond)
		}
	}
	w.Close()
	close(done)
	if err := f.wait(t); err != nil {
		t.Fatal(err)
	}
	got := f.get()
	if strings.Join(got, "") != strings.Join(seq(8, 1500), "") {
		t.Fatalf("got %d lines, first %q last %q", len(got), got[:min(3, len(got))], got[max(0, len(got)-3):])
	}
}

// The follower is stuck in fn while the writer rotates several times: the
// files rotated in between are read, in order, once it resumes.
func TestFollowCatchesUpOverSeveralRotations(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log")
	w, _ := NewWriter(path, 1000, 6) // ~10 records a file
	w.WriteLine("stdout", []byte("line 0001\n"), t0)
	block := make(chan struct{})
	first := make(chan struct{})
	var once sync.Once
	done := make(chan struct{})
	f := startFollow(context.Background(), path, ReadOptions{Tail: -1, Done: done}, func(e Entry) {
		once.Do(func() { close(first); <-block })
	})
	<-first
	for i := 2; i <= 40; i++ { // 3-4 rotations while the reader is blocked
		w.WriteLine("stdout", fmt.Appendf(nil, "line %04d\n", i), t0)
	}
	close(block)
	for i := 41; i <= 45; i++ {
		w.WriteLine("stdout", fmt.Appendf(nil, "line %04d\n", i), t0)
	}
	w.Close()
	close(done)
	if err := f.wait(t); err != nil {
		t.Fatal(err)
	}
	if got := f.get(); strings.Join(got, "") != strings.Join(seq(1, 45), "") {
		t.Fatalf("got %q", got)
	}
}

func TestFollowCancelAndMissingFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "log")
	ctx, cancel := context.WithCancel(context.Background())
	var n atomic.Int32
	f := startFollow(ctx, path, ReadOptions{Tail: -1}, func(Entry) { n.Add(1) })
	time.Sleep(50 * time.Millisecond)
	w, _ := NewWriter(path, 0, 1) // the log appears after the follower started
	w.WriteLine("stdout", []byte("hello\n"), t0)
	deadline := time.Now().Add(5 * time.Second)
	for n.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	if err := f.wait(t); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
	if got := f.get(); len(got) != 1 || got[0] != "hello\n" {
		t.Fatalf("got %q", got)
	}
	w.Close()
}

func TestFollowUntil(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log")
	w, _ := NewWriter(path, 0, 1)
	w.WriteLine("stdout", []byte("old\n"), time.Now().Add(-time.Minute))
	defer w.Close()
	// Until in the past: no follow at all.
	f := startFollow(context.Background(), path, ReadOptions{Tail: -1, Until: time.Now().Add(-time.Second)}, nil)
	if err := f.wait(t); err != nil || len(f.get()) != 1 {
		t.Fatalf("%v %q", err, f.get())
	}
	// Until soon: the follow ends by itself.
	start := time.Now()
	f = startFollow(context.Background(), path, ReadOptions{Tail: 0, Until: time.Now().Add(150 * time.Millisecond)}, nil)
	time.Sleep(50 * time.Millisecond) // let it reach the end of the file first
	w.WriteLine("stdout", []byte("new\n"), time.Now())
	if err := f.wait(t); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < 100*time.Millisecond || d > 3*time.Second {
		t.Fatalf("follow with until lasted %v", d)
	}
	if got := f.get(); len(got) != 1 || got[0] != "new\n" {
		t.Fatalf("got %q", got)
	}
}

// Without inotify the follower polls.
func TestFollowPolling(t *testing.T) {
	old := pollInterval
	pollInterval = 10 * time.Millisecond
	defer func() { pollInterval = old }()
	path := filepath.Join(t.TempDir(), "log")
	w, _ := NewWriter(path, 300, 3)
	done := make(chan struct{})
	// Watch a directory that sees no events: only polling can wake us.
	f := &follower{errc: make(chan error, 1)}
	go func() {
		r := &reader{path: path, o: ReadOptions{Tail: -1, Stdout: true, Stderr: true, Done: done}, buf: make([]byte, 4096),
			fn: func(e Entry) error { f.mu.Lock(); f.lines = append(f.lines, string(e.Line)); f.mu.Unlock(); return nil }}
		var cur *logFile
		f.errc <- r.followWith(context.Background(), &cur, &watcher{ch: make(chan struct{})})
	}()
	for i := 1; i <= 30; i++ {
		w.WriteLine("stdout", fmt.Appendf(nil, "line %04d\n", i), t0)
		time.Sleep(2 * time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond)
	w.Close()
	close(done)
	if err := f.wait(t); err != nil {
		t.Fatal(err)
	}
	if got := f.get(); strings.Join(got, "") != strings.Join(seq(1, 30), "") {
		t.Fatalf("got %q", got)
	}
}

func BenchmarkWriteLine(b *testing.B) {
	path := filepath.Join(b.TempDir(), "log")
	w, err := NewWriter(path, 100<<20, 2)
	if err != nil {
		b.Fatal(err)
	}
	defer w.Close()
	line := []byte("2024-05-06 07:08:09 INFO GET /index.html 200 1234 bytes in 0.5ms \"curl/8.0\"\n")
	now := time.Now()
	b.SetBytes(int64(len(line)))
	b.ReportAllocs()
	for b.Loop() {
		if err := w.WriteLine("stdout", line, now); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncode(b *testing.B) {
	line := []byte("2024-05-06 07:08:09 INFO GET /index.html 200 1234 bytes in 0.5ms \"curl/8.0\"\n")
	now := time.Now()
	buf := make([]byte, 0, 512)
	b.SetBytes(int64(len(line)))
	b.ReportAllocs()
	for b.Loop() {
		buf = appendEntry(buf[:0], "stdout", line, now)
	}
}

func BenchmarkRead(b *testing.B) {
	path := filepath.Join(b.TempDir(), "log")
	w, _ := NewWriter(path, 0, 1)
	line := []byte("2024-05-06 07:08:09 INFO GET /index.html 200 1234 bytes in 0.5ms \"curl/8.0\"\n")
	for i := 0; i < 10000; i++ {
		w.WriteLine("stdout", line, time.Now())
	}
	w.Close()
	b.ReportAllocs()
	for b.Loop() {
		n := 0
		Read(context.Background(), path, ReadOptions{Tail: -1}, func(Entry) error { n++; return nil })
		if n != 10000 {
			b.Fatal(n)
		}
	}
}

// A log file deleted behind the writer's back is recreated at the next rotation.
func TestRotateAfterExternalRemove(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log")
	w, _ := NewWriter(path, 200, 2)
	defer w.Close()
	w.WriteLine("stdout", []byte("one\n"), t0)
	os.Remove(path)
	for i := 0; i < 5; i++ {
		if err := w.WriteLine("stdout", []byte("two\n"), t0); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatal(err)
	}
}
