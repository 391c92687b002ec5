package replay

import (
	"strconv"
	"testing"
)

// TestAppendDigits checks the hand-rolled number formatting of the text
// output against strconv, around every length boundary.
func TestAppendDigits(t *testing.T) {
	vals := []uint64{0, 1, 9, 10, 15, 16, 99, 100, 255, 256, 999, 1000, 4095, 4096, 65535, 65536,
		1<<32 - 1, 1 << 32, 0xffffffffffffff9c, 1<<64 - 1, 1e19, 1e19 - 1}
	for p := uint64(1); p < 1e19; p *= 10 {
		vals = append(vals, p-1, p, p+1)
	}
	for s := 0; s < 64; s++ {
		vals = append(vals, 1<<s-1, 1<<s, 1<<s+1)
	}
	for i := uint64(0); i < 5000; i++ {
		vals = append(vals, i, i*0x9e3779b97f4a7c15)
	}
	for _, v := range vals {
		if got, want := string(appendHex64([]byte("x"), v)), "x"+strconv.FormatUint(v, 16); got != want {
			t.Fatalf("appendHex64(%d) = %q, want %q", v, got, want)
		}
		if got, want := string(appendUint([]byte("x"), v)), "x"+strconv.FormatUint(v, 10); got != want {
			t.Fatalf("appendUint(%d) = %q, want %q", v, got, want)
		}
		if got, want := decLen(v), len(strconv.FormatUint(v, 10)); got != want {
			t.Fatalf("decLen(%d) = %d, want %d", v, got, want)
		}
		if got, want := string(appendInt(nil, int64(v))), strconv.FormatInt(int64(v), 10); got != want {
			t.Fatalf("appendInt(%d) = %q, want %q", int64(v), got, want)
		}
	}
}
