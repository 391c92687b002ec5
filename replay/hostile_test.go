package replay

import (
	"encoding/binary"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/kpcap/kpcap/format"
)

// hostileHeader is the common part of a tracefs format.
const hostileHeader = "name: e\nID: 1\nformat:\n" +
	"\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;\n" +
	"\tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;\n" +
	"\tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;\n" +
	"\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;\n"

// sameNameFormats are two formats of one event name whose field x has
// different types: an int, then a char array.
var sameNameFormats = [2]string{
	hostileHeader + "\tfield:int x;\toffset:8;\tsize:4;\tsigned:1;\n",
	hostileHeader + "\tfield:char x[16];\toffset:8;\tsize:16;\tsigned:0;\n",
}

// overlapFormat has n __data_loc fields; overlapPayload points all of them
// at one region of size bytes, so each row claims n*size bytes.
func overlapFormat(n int) string {
	var b strings.Builder
	b.WriteString(hostileHeader)
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "\tfield:__data_loc u8[] d%d;\toffset:%d;\tsize:4;\tsigned:0;\n", i, 8+4*i)
	}
	return b.String()
}

func overlapPayload(n, size int) []byte {
	raw := make([]byte, 8+4*n+size)
	for i := 0; i < n; i++ {
		binary.LittleEndian.PutUint32(raw[8+4*i:], uint32(size)<<16|uint32(8+4*n))
	}
	return raw
}

// TestSameNameDifferentTypes: two sources named alike whose field x has
// different types each get their own column and decode correctly (it used
// to write one into the other's column and panic in every reader).
func TestSameNameDifferentTypes(t *testing.T) {
	p := filepath.Join(t.TempDir(), "same.kpcap")
	rawA := make([]byte, 12)
	binary.LittleEndian.PutUint32(rawA[8:], 7)
	rawB := make([]byte, 24)
	copy(rawB[8:], "hello")
	writeTrace(t, p, traceSpec{
		sources: []format.Source{
			{Name: "g:e", Kind: format.KindTracepoint, Format: sameNameFormats[0]},
			{Name: "g:e", Kind: format.KindTracepoint, Format: sameNameFormats[1]},
		},
		samples: []format.Sample{
			{Source: 0, Time: 1, PID: 1, TID: 1, Raw: rawA},
			{Source: 1, Time: 2, PID: 1, TID: 1, Raw: rawB},
		},
	})
	text, _ := readAllText(t, p, Options{}, false)
	if !strings.Contains(text, "e: x=7\n") || !strings.Contains(text, "e: x=hello\n") {
		t.Errorf("text:\n%s", text)
	}
	js, _ := readAllText(t, p, Options{}, true)
	if !strings.Contains(js, `"x":7}`) || !strings.Contains(js, `"x":"hello"}`) {
		t.Errorf("JSON:\n%s", js)
	}
	r, err := Open(p, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if _, err := WriteParquet(r, io.Discard); err != nil {
		t.Fatal(err)
	}
}

// TestOverlappingVarFields: variable fields pointing at the same payload
// bytes again and again are cut at the payload's size per row, as
// truncated, instead of multiplying one row into gigabytes.
func TestOverlappingVarFields(t *testing.T) {
	const n, size, rows = 300, 4000, 5
	p := filepath.Join(t.TempDir(), "overlap.kpcap")
	spec := traceSpec{sources: []format.Source{{Name: "g:e", Kind: format.KindTracepoint, Format: overlapFormat(n)}}}
	raw := overlapPayload(n, size)
	for i := 0; i < rows; i++ {
		spec.samples = append(spec.samples, format.Sample{Time: uint64(i + 1), PID: 1, TID: 1, Raw: raw})
	}
	writeTrace(t, p, spec)
	r, err := Open(p, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var varBytes int
	for r.Next() {
		rec := r.Record()
		for c := numCommon; c < int(rec.NumCols()); c++ {
			if a, ok := rec.Column(c).(*array.Binary); ok {
				for i := 0; i < a.Len(); i++ {
					varBytes += len(a.Value(i))
				}
			}
		}
	}
	if err := r.Err(); err != nil {
		t.Fatal(err)
	}
	if varBytes > rows*len(raw) {
		t.Errorf("%d bytes of variable columns from %d rows of %d bytes", varBytes, rows, len(raw))
	}
	if w := strings.Join(r.Warnings(), "\n"); !strings.Contains(w, fmt.Sprintf("%d samples", rows)) {
		t.Errorf("no truncation warning: %q", w)
	}
}

// FuzzHostileFormats decodes a payload under two event formats that share
// one event name (as a hostile file may declare them): nothing may panic
// and no row may hold more variable bytes than its payload.
func FuzzHostileFormats(f *testing.F) {
	f.Add(sameNameFormats[0], sameNameFormats[1], make([]byte, 24))
	f.Add(overlapFormat(50), sameNameFormats[0], overlapPayload(50, 300))
	var many strings.Builder
	many.WriteString(hostileHeader)
	for i := 0; i < 1100; i++ {
		fmt.Fprintf(&many, "\tfield:char f%d;\toffset:%d;\tsize:1;\tsigned:0;\n", i, 8+i)
	}
	f.Add(many.String(), sameNameFormats[1], make([]byte, 1200))
	f.Fuzz(func(t *testing.T, fa, fb string, raw []byte) {
		ff := &format.File{Header: format.Header{Sources: []format.Source{
			{Name: "g:e", Kind: format.KindTracepoint, Format: fa},
			{Name: "g:e", Kind: format.KindTracepoint, Format: fb},
		}}}
		r, err := NewReader(ff, Options{Workers: 1})
		if err != nil {
			return
		}
		c := newChunk(len(r.cols), len(r.decs), 4)
		d := newDecoder(r, c)
		for k := 0; k < 4; k++ {
			d.add(&format.Sample{Source: uint32(k % 2), Time: uint64(k), PID: 1, TID: 1, Raw: raw})
		}
		if c.n == 0 {
			return
		}
		rec := r.toRecord(c)
		defer rec.Release()
		var varBytes int
		for col := numCommon; col < int(rec.NumCols()); col++ {
			switch a := rec.Column(col).(type) {
			case *array.Binary:
				for i := 0; i < a.Len(); i++ {
					varBytes += len(a.Value(i))
				}
			case *array.String:
				for i := 0; i < a.Len(); i++ {
					varBytes += len(a.Value(i))
				}
			}
		}
		if varBytes > c.n*len(raw) {
			t.Fatalf("%d variable bytes from %d rows of %d bytes", varBytes, c.n, len(raw))
		}
		for _, json := range []bool{false, true} {
			tw := &textWriter{r: r, w: io.Discard, json: json}
			if err := tw.batch(rec); err != nil {
				t.Fatal(err)
			}
		}
	})
}
