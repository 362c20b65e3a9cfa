package cli

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// progressBar draws an upload's progress on one terminal line and clears
// it when done:
//
//	Importing  42% |████████████                  | (9.3 MB/s) [1s:2s]
//	| Sending build context (9.3 MB/s) [1s]     (size unknown)
//
// It is small on purpose: ctr draws one only for uploads to a terminal, and
// every command pays at start for the packages the binary links.
type progressBar struct {
	w     io.Writer
	desc  string
	total int64 // < 0: unknown
	n     int64
	start time.Time
	drawn time.Time
	shown int // width of the line on screen, to blank it
	spin  int
}

const (
	progressWidth    = 30
	progressInterval = 100 * time.Millisecond
)

func newProgressBar(w io.Writer, total int64, desc string) *progressBar {
	return &progressBar{w: w, desc: desc, total: total, start: time.Now()}
}

// Add counts n more bytes and redraws, at most every progressInterval.
func (b *progressBar) Add(n int) {
	b.n += int64(n)
	now := time.Now()
	if now.Sub(b.drawn) < progressInterval {
		return
	}
	b.drawn = now
	b.draw(now)
}

// Finish blanks the line.
func (b *progressBar) Finish() {
	if b.shown > 0 {
		fmt.Fprintf(b.w, "\r%s\r", strings.Repeat(" ", b.shown))
		b.shown = 0
	}
}

func (b *progressBar) draw(now time.Time) {
	elapsed := now.Sub(b.start)
	var speed float64
	if s := elapsed.Seconds(); s > 0 {
		speed = float64(b.n) / s
	}
	var line string
	if b.total > 0 {
		n := b.n
		if n > b.total {
			n = b.total
		}
		filled := int(n * progressWidth / b.total)
		left := "?"
		if speed > 0 {
			left = roundSeconds(time.Duration(float64(b.total-n) / speed * float64(time.Second)))
		}
		line = fmt.Sprintf("%s %3d%% |%s%s| (%s/s) [%s:%s]", b.desc, n*100/b.total,
			strings.Repeat("█", filled), strings.Repeat(" ", progressWidth-filled),
			rateSize(speed), roundSeconds(elapsed), left)
	} else {
		b.spin = (b.spin + 1) % 4
		line = fmt.Sprintf("%c %s (%s/s) [%s]", `|/-\`[b.spin], b.desc, rateSize(speed), roundSeconds(elapsed))
	}
	width := len([]rune(line))
	pad := ""
	if b.shown > width {
		pad = strings.Repeat(" ", b.shown-width)
	}
	fmt.Fprintf(b.w, "\r%s%s", line, pad)
	b.shown = width
}

// rateSize is a byte count in decimal units with two significant digits
// ("9.3 MB", "14 MB").
func rateSize(v float64) string {
	units := []string{"B", "kB", "MB", "GB", "TB"}
	i := 0
	for v >= 1000 && i < len(units)-1 {
		v /= 1000
		i++
	}
	if v < 10 && i > 0 {
		return fmt.Sprintf("%.1f %s", v, units[i])
	}
	return fmt.Sprintf("%.0f %s", v, units[i])
}

func roundSeconds(d time.Duration) string {
	return d.Round(time.Second).String()
}
