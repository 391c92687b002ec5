package format

import (
	"strconv"
	"strings"
	"testing"
)

// TestForEachSampleNamesDamagedBlock: a frame whose second block has a
// broken length is read up to it, and the error names the block's kind
// and its raw offset.
func TestForEachSampleNamesDamagedBlock(t *testing.T) {
	var s Sample
	genSample(3, &s)
	n, err := sampleLen(&s)
	if err != nil {
		t.Fatal(err)
	}
	epb := make([]byte, epbOverhead+pad4(n))
	putEPB(epb, &s, n)
	frame := append(append([]byte(nil), epb...), epb...)
	first := len(epb)
	le.PutUint32(frame[first+4:], 13) // not a multiple of 4
	got := 0
	err = ForEachSample(frame, func(*Sample) error { got++; return nil })
	if got != 1 || err == nil {
		t.Fatalf("%d samples, error %v", got, err)
	}
	if want := "enhanced packet block (sample) at raw offset " + strconv.Itoa(first); !strings.Contains(err.Error(), want) {
		t.Errorf("error %q lacks %q", err, want)
	}
}
