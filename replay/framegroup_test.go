package replay

import (
	"encoding/binary"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/kpcap/kpcap/format"
)

// TestWideOverlapOrdered: frames of a wide schema that interleave in time
// (3000 sources of distinct fields, two frames of 6000 samples) come out in
// time order, every sample once with its own values, and no batch
// allocates more than maxChunkCells field cells past its first
// minWideBatch rows. Merged as decoded columns, the overlap once held
// chunks of 1398 rows × 2796 columns each and let the rows past a 16 Mi
// cell window come out of order (with a warning).
func TestWideOverlapOrdered(t *testing.T) {
	const nsrc, perFrame = 3000, 6000
	p := filepath.Join(t.TempDir(), "wide.kpcap")
	spec := traceSpec{sources: wideSources(nsrc), flushAfter: map[int]bool{perFrame - 1: true}}
	for f := 0; f < 2; f++ {
		for i := 0; i < perFrame; i++ {
			k := f*perFrame + i
			raw := make([]byte, 20)
			binary.LittleEndian.PutUint32(raw[8:], uint32(k))
			copy(raw[12:], fmt.Sprintf("v%d", k))
			spec.samples = append(spec.samples, format.Sample{Source: uint32(k % nsrc), Time: uint64(2*i + f + 1), PID: 1, TID: 1, Raw: raw})
		}
	}
	writeTrace(t, p, spec)
	r, err := Open(p, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if !r.wide || len(r.f.Frames) != 2 {
		t.Fatalf("wide %v, %d frames: not the shape", r.wide, len(r.f.Frames))
	}
	rows := 0
	for r.Next() {
		rec := r.Record()
		n := int(rec.NumRows())
		if cells := n * usedColumns(rec); n > minWideBatch && cells > maxChunkCells+n {
			t.Errorf("batch of %d rows uses %d field cells, over %d", n, cells, maxChunkCells)
		}
		ts := rec.Column(0).(*array.Uint64)
		probe := rec.Column(5).(*array.Dictionary).Indices().(*array.Int32)
		for i := 0; i < n; i++ {
			// Row k is sample (k%2)*perFrame + k/2: the frames alternate.
			k := rows + i
			want := (k%2)*perFrame + k/2
			src := int(probe.Value(i))
			a := rec.Column(numCommon + 2*src).(*array.Int32)
			s := rec.Column(numCommon + 2*src + 1).(*array.String)
			if ts.Value(i) != uint64(k+1) || src != want%nsrc || a.Value(i) != int32(want) || s.Value(i) != fmt.Sprintf("v%d", want) {
				t.Fatalf("row %d: ts %d, source %d, a %d, s %q; want sample %d", k, ts.Value(i), src, a.Value(i), s.Value(i), want)
			}
		}
		rows += n
	}
	if err := r.Err(); err != nil {
		t.Fatal(err)
	}
	if rows != 2*perFrame {
		t.Errorf("%d rows, want %d", rows, 2*perFrame)
	}
	if w := r.Warnings(); len(w) > 0 {
		t.Errorf("warnings: %v", w)
	}
}

// usedColumns counts the field columns of rec that hold a value.
func usedColumns(rec arrow.Record) int {
	n := 0
	for c := numCommon; c < int(rec.NumCols()); c++ {
		if rec.Column(c).NullN() < rec.Column(c).Len() {
			n++
		}
	}
	return n
}

// FuzzWideFrames writes samples of a wide schema (times, sources and frame
// breaks from the input) and reads them back: every sample comes out once,
// and the rows that come out before an earlier one are exactly those the
// warning counts (none when every frame overlapping another is in its run).
func FuzzWideFrames(f *testing.F) {
	// Two interleaved frames; then three, the last reaching back past the second.
	two, three := []byte{}, []byte{}
	for f := 0; f < 2; f++ {
		for i := 0; i < 40; i++ {
			two = append(two, byte(i%7), 0, byte(2*i+f), boolByte(f == 0 && i == 39))
		}
	}
	for _, fr := range [][2]int{{0, 3}, {200, 1}, {1, 3}} {
		for i := 0; i < 30; i++ {
			three = append(three, byte(i), byte((fr[0]+fr[1]*i)>>8), byte(fr[0]+fr[1]*i), boolByte(i == 29))
		}
	}
	f.Add(two)
	f.Add(three)
	big := make([]byte, 20000)
	for i := range big {
		big[i] = byte(i * 7919 >> 3)
	}
	f.Add(big)
	srcs := wideSources(300)
	f.Fuzz(func(t *testing.T, in []byte) {
		// Small frames, and few: each frame the writer closes costs a
		// buffer of FrameBytes.
		spec := traceSpec{sources: srcs, flushAfter: map[int]bool{}, frameBytes: 4096}
		for i := 0; i+4 <= len(in) && i < 4*5000; i += 4 {
			raw := make([]byte, 20)
			binary.LittleEndian.PutUint32(raw[8:], uint32(i/4))
			spec.samples = append(spec.samples, format.Sample{Source: uint32(in[i]) % 300,
				Time: uint64(binary.BigEndian.Uint16(in[i+1:])), PID: 1, TID: 1, Raw: raw})
			if in[i+3]&1 != 0 && len(spec.flushAfter) < 64 {
				spec.flushAfter[i/4] = true
			}
		}
		p := filepath.Join(t.TempDir(), "f.kpcap")
		writeTrace(t, p, spec)
		r, err := Open(p, Options{Workers: 2})
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		if !r.wide {
			t.Fatal("not a wide schema")
		}
		seen := make([]bool, len(spec.samples))
		var last uint64
		var back int
		for r.Next() {
			rec := r.Record()
			ts := rec.Column(0).(*array.Uint64)
			probe := rec.Column(5).(*array.Dictionary).Indices().(*array.Int32)
			for i := 0; i < int(rec.NumRows()); i++ {
				k := int(rec.Column(numCommon + 2*int(probe.Value(i))).(*array.Int32).Value(i))
				if k < 0 || k >= len(seen) || seen[k] || spec.samples[k].Time != ts.Value(i) {
					t.Fatalf("row of ts %d claims sample %d (of %d), or again", ts.Value(i), k, len(seen))
				}
				seen[k] = true
				if ts.Value(i) < last {
					back++
				}
				last = max(last, ts.Value(i))
			}
		}
		if err := r.Err(); err != nil {
			t.Fatal(err)
		}
		for k, ok := range seen {
			if !ok {
				t.Fatalf("sample %d missing", k)
			}
		}
		w := strings.Join(r.Warnings(), "\n")
		if want := fmt.Sprintf("%d samples came out of time order", back); back > 0 && !strings.Contains(w, want) || back == 0 && w != "" {
			t.Fatalf("%d rows came out before an earlier one; warnings: %q", back, w)
		}
	})
}

func boolByte(b bool) byte {
	if b {
		return 1
	}
	return 0
}
