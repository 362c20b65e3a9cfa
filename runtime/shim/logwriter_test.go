package shim

import (
	"strings"
	"testing"
	"time"
)

type fakeLog struct{ lines []string }

func (f *fakeLog) WriteLine(stream string, line []byte, t time.Time) error {
	f.lines = append(f.lines, stream+":"+string(line))
	return nil
}

func (f *fakeLog) Close() error { return nil }

func TestLineSplitter(t *testing.T) {
	long := strings.Repeat("a", maxPartial)
	for _, tc := range []struct {
		name   string
		chunks []string
		want   []string
	}{
		{"lines", []string{"a\nb\n"}, []string{"a\n", "b\n"}},
		{"split", []string{"he", "llo\nwor", "ld\n"}, []string{"hello\n", "world\n"}},
		{"partial at eof", []string{"x\ny"}, []string{"x\n", "y"}},
		{"empty line", []string{"\n\n"}, []string{"\n", "\n"}},
		{"long", []string{long + long + "bc\nd"}, []string{long, long, "bc\n", "d"}},
		{"exactly max", []string{long[1:] + "\n"}, []string{long[1:] + "\n"}},
		{"long across chunks", []string{long[:100], long[100:] + "z\n"}, []string{long, "z\n"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeLog{}
			s := &lineSplitter{log: f, stream: "stdout"}
			for _, c := range tc.chunks {
				s.write([]byte(c))
			}
			s.flush()
			if len(f.lines) != len(tc.want) {
				t.Fatalf("got %d entries, want %d", len(f.lines), len(tc.want))
			}
			for i, w := range tc.want {
				if f.lines[i] != "stdout:"+w {
					t.Errorf("entry %d = %.40q..., want %.40q...", i, f.lines[i], "stdout:"+w)
				}
			}
		})
	}
}
