package replay

import (
	"math"
	"math/rand/v2"
	"strconv"
	"testing"
)

func TestAppendNumbers(t *testing.T) {
	vals := []uint64{0, 1, 9, 10, 99, 100, 101, 999, 1000, 123456789, math.MaxUint32, math.MaxInt64, math.MaxUint64}
	for i := 0; i < 1000; i++ {
		vals = append(vals, rand.Uint64()>>rand.IntN(64))
	}
	for _, v := range vals {
		if got, want := string(appendUint([]byte("x"), v)), "x"+strconv.FormatUint(v, 10); got != want {
			t.Errorf("appendUint(%d) = %q", v, got)
		}
		if got, want := string(appendHex64([]byte("x"), v)), "x"+strconv.FormatUint(v, 16); got != want {
			t.Errorf("appendHex64(%d) = %q", v, got)
		}
		if got, want := string(appendInt(nil, int64(v))), strconv.FormatInt(int64(v), 10); got != want {
			t.Errorf("appendInt(%d) = %q", int64(v), got)
		}
		if got, want := string(append6(nil, v%1000000)), strconv.FormatUint(1000000+v%1000000, 10)[1:]; got != want {
			t.Errorf("append6(%d) = %q", v%1000000, got)
		}
		if got, want := string(appendPad(nil, v%1000000, 6)), strconv.FormatUint(1000000+v%1000000, 10)[1:]; got != want {
			t.Errorf("appendPad(%d) = %q", v%1000000, got)
		}
	}
	if got := string(appendJSONString(nil, "a\"b\\c\n\x01é\xff")); got != `"a\"b\\c\n\u0001é`+"\ufffd"+`"` {
		t.Errorf("appendJSONString: %s", got)
	}
}
