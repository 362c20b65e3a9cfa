package seccompcache

import (
	"bytes"
	"testing"
)

func TestFileRoundTrip(t *testing.T) {
	k := Key{1, 2, 3}
	prog := bytes.Repeat([]byte{0x06, 0, 0, 0, 0, 0, 0xff, 0x7f}, 3)
	gotK, gotProg, err := Decode(Encode(k, prog))
	if err != nil || gotK != k || !bytes.Equal(gotProg, prog) {
		t.Fatalf("Decode(Encode) = %x, %x, %v", gotK, gotProg, err)
	}
}

func TestDecodeRejects(t *testing.T) {
	prog := bytes.Repeat([]byte{0x06, 0, 0, 0, 0, 0, 0xff, 0x7f}, 2)
	good := Encode(Key{9}, prog)
	flip := func(i int) []byte {
		b := bytes.Clone(good)
		b[i] ^= 1
		return b
	}
	for name, b := range map[string][]byte{
		"empty":         nil,
		"short":         good[:20],
		"bad magic":     flip(0),
		"no program":    Encode(Key{9}, nil),
		"odd length":    Encode(Key{9}, prog[:12]),
		"torn":          good[:len(good)-8],
		"flipped bit":   flip(len(good) - 1),
		"wrong sum":     flip(len(magic) + len(Key{}) + 3),
		"other program": append(good[:len(good)-8:len(good)-8], 0x15, 0, 0, 1, 0, 0, 0, 0),
	} {
		if _, _, err := Decode(b); err == nil {
			t.Errorf("%s: Decode accepted it", name)
		}
	}
}
