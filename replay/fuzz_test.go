package replay

import (
	"encoding/binary"
	"io"
	"testing"
	"unicode/utf8"

	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/kpcap/kpcap/format"
)

// FuzzDecodeSample feeds hostile payloads and callchains to the sample
// decoder of every golden source, then builds the Arrow record and prints it
// as text and JSON: nothing may panic, strings stay valid UTF-8 and offsets
// stay inside their buffers.
func FuzzDecodeSample(f *testing.F) {
	spec := goldenSpec(f)
	for _, s := range spec.samples {
		cc := make([]byte, 8*len(s.Callchain))
		for i, ip := range s.Callchain {
			binary.LittleEndian.PutUint64(cc[8*i:], ip)
		}
		f.Add(uint8(s.Source), s.Raw, cc)
	}
	f.Add(uint8(2), []byte{0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff}, []byte{})
	f.Add(uint8(4), make([]byte, 20), []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	ff := &format.File{Header: format.Header{Sources: spec.sources}, Symbols: spec.syms, Comms: spec.comms}
	r, err := NewReader(ff, Options{Workers: 1})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, src uint8, raw, cc []byte) {
		c := newChunk(len(r.cols), len(r.decs), 4)
		d := newDecoder(r, c)
		var ips []uint64
		for i := 0; i+8 <= len(cc) && i < 8*130; i += 8 {
			ips = append(ips, binary.LittleEndian.Uint64(cc[i:]))
		}
		for k := 0; k < 3; k++ { // several rows: exercises growth and null padding
			d.add(&format.Sample{Source: uint32(src) % uint32(len(spec.sources)+1), Time: uint64(k), PID: 100, TID: 100, Raw: raw, Callchain: ips})
		}
		if c.n == 0 {
			return
		}
		rec := r.toRecord(c)
		defer rec.Release()
		for _, a := range rec.Columns() {
			if s, ok := a.(*array.String); ok {
				for i := 0; i < s.Len(); i++ {
					if s.IsValid(i) && !utf8.ValidString(s.Value(i)) {
						t.Fatalf("invalid UTF-8 in %q", s.Value(i))
					}
				}
			}
		}
		for _, json := range []bool{false, true} {
			tw := &textWriter{r: r, w: io.Discard, json: json}
			if err := tw.batch(rec); err != nil {
				t.Fatal(err)
			}
			if err := tw.flush(); err != nil {
				t.Fatal(err)
			}
		}
	})
}
