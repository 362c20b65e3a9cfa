package logfile

import (
	"encoding/json"
	"errors"
	"time"
	"unicode/utf16"
	"unicode/utf8"
)

const hexDigits = "0123456789abcdef"

// safeASCII[b] is true for the ASCII bytes Docker's json-file writes as they
// are: printable, not '"' '\\', not the HTML-sensitive '<' '>' '&'.
var safeASCII = func() (t [utf8.RuneSelf]bool) {
	for b := 0x20; b < utf8.RuneSelf; b++ {
		t[b] = b != '"' && b != '\\' && b != '<' && b != '>' && b != '&'
	}
	return t
}()

// appendJSONString appends s as a JSON string escaped exactly as Docker's
// json-file driver does: \" \\ \n \r, other control characters and < > & as
// \u00XX, invalid UTF-8 bytes as \ufffd, U+2028/U+2029 as \u2028/\u2029.
func appendJSONString(dst, s []byte) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		b := s[i]
		if b < utf8.RuneSelf {
			if safeASCII[b] {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch b {
			case '"', '\\':
				dst = append(dst, '\\', b)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[b>>4], hexDigits[b&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRune(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i++
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

func appendJSONStringS(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf || !safeASCII[s[i]] {
			return appendJSONString(dst, []byte(s))
		}
	}
	dst = append(dst, '"')
	dst = append(dst, s...)
	return append(dst, '"')
}

// appendEntry appends one json-file record and its newline:
// {"log":"...","stream":"stdout","time":"2006-01-02T15:04:05.999999999Z"}
func appendEntry(dst []byte, stream string, line []byte, t time.Time) []byte {
	dst = append(dst, `{"log":`...)
	dst = appendJSONString(dst, line)
	dst = append(dst, `,"stream":`...)
	dst = appendJSONStringS(dst, stream)
	dst = append(dst, `,"time":"`...)
	dst = t.UTC().AppendFormat(dst, time.RFC3339Nano)
	return append(dst, '"', '}', '\n')
}

var errBadRecord = errors.New("logfile: malformed record")

// parseEntry decodes one record (without its newline). Records as this
// package writes them take a fast path; anything else valid (Docker's own,
// with "attrs", other key orders) goes through encoding/json.
func parseEntry(b []byte) (Entry, error) {
	if e, ok := parseFast(b); ok {
		return e, nil
	}
	var rec struct {
		Log    string    `json:"log"`
		Stream string    `json:"stream"`
		Time   time.Time `json:"time"`
	}
	if err := json.Unmarshal(b, &rec); err != nil {
		return Entry{}, errBadRecord
	}
	return Entry{Stream: rec.Stream, Line: []byte(rec.Log), Time: rec.Time}, nil
}

func parseFast(b []byte) (Entry, bool) {
	const (
		pLog    = `{"log":"`
		pStream = `,"stream":"`
		pTime   = `,"time":"`
	)
	for len(b) > 0 && (b[len(b)-1] == '\r' || b[len(b)-1] == ' ') {
		b = b[:len(b)-1]
	}
	if len(b) < len(pLog) || string(b[:len(pLog)]) != pLog || b[len(b)-1] != '}' {
		return Entry{}, false
	}
	b = b[len(pLog):]
	line, n, ok := unquote(b)
	if !ok {
		return Entry{}, false
	}
	b = b[n:]
	if len(b) < len(pStream) || string(b[:len(pStream)]) != pStream {
		return Entry{}, false
	}
	b = b[len(pStream):]
	stream, n, ok := unquote(b)
	if !ok {
		return Entry{}, false
	}
	b = b[n:]
	if len(b) < len(pTime) || string(b[:len(pTime)]) != pTime {
		return Entry{}, false
	}
	b = b[len(pTime):]
	if len(b) < 2 || b[len(b)-2] != '"' {
		return Entry{}, false
	}
	ts := b[:len(b)-2]
	t, err := time.Parse(time.RFC3339Nano, string(ts))
	if err != nil {
		return Entry{}, false
	}
	return Entry{Stream: string(stream), Line: line, Time: t}, true
}

// unquote decodes the JSON string body at the start of b (after its opening
// quote) up to and including its closing quote, returning the decoded bytes
// (a fresh slice) and how many bytes of b it used.
func unquote(b []byte) ([]byte, int, bool) {
	// Find the end first, to size the output and catch unterminated strings.
	end := -1
	escaped := false
	for i := 0; i < len(b); i++ {
		c := b[i]
		if c == '\\' {
			escaped = true
			i++
			continue
		}
		if c == '"' {
			end = i
			break
		}
	}
	if end < 0 {
		return nil, 0, false
	}
	if !escaped {
		out := make([]byte, end)
		copy(out, b[:end])
		return out, end + 1, true
	}
	out := make([]byte, 0, end)
	for i := 0; i < end; {
		c := b[i]
		if c != '\\' {
			j := i + 1
			for j < end && b[j] != '\\' {
				j++
			}
			out = append(out, b[i:j]...)
			i = j
			continue
		}
		if i+1 >= end {
			return nil, 0, false
		}
		switch b[i+1] {
		case '"', '\\', '/':
			out = append(out, b[i+1])
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'u':
			r, ok := hex4(b, i+2, end)
			if !ok {
				return nil, 0, false
			}
			i += 6
			if utf16.IsSurrogate(r) {
				r2 := rune(-1)
				if i+1 < end && b[i] == '\\' && b[i+1] == 'u' {
					if v, ok := hex4(b, i+2, end); ok {
						r2 = v
					}
				}
				if dec := utf16.DecodeRune(r, r2); dec != utf8.RuneError {
					i += 6
					r = dec
				} else {
					r = utf8.RuneError
				}
			}
			out = utf8.AppendRune(out, r)
			continue
		default:
			return nil, 0, false
		}
		i += 2
	}
	return out, end + 1, true
}

func hex4(b []byte, at, end int) (rune, bool) {
	if at+4 > end {
		return 0, false
	}
	var r rune
	for _, c := range b[at : at+4] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			c = c - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}
