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
	// The deepest callchain a file holds: kernel frames, then user ones.
	deep := make([]byte, 8*format.MaxCallchain)
	for i := 0; i < format.MaxCallchain; i++ {
		ip := uint64(0xffffffff81000000) + uint64(i%2)*0x100
		switch {
		case i == 0:
			ip = contextKernel
		case i == format.MaxCallchain/2:
			ip = contextUser
		case i > format.MaxCallchain/2:
			ip = 0x400000 + uint64(i%3)*0x10
		}
		binary.LittleEndian.PutUint64(deep[8*i:], ip)
	}
	f.Add(uint8(0), make([]byte, 8), deep)
	ff := &format.File{Header: format.Header{Sources: spec.sources}, Symbols: spec.syms, Comms: spec.comms}
	r, err := NewReader(ff, Options{Workers: 1})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, src uint8, raw, cc []byte) {
		c := newChunk(len(r.cols), len(r.decs), 4)
		d := newDecoder(r, c)
		var ips []uint64
		for i := 0; i+8 <= len(cc) && i < 8*format.MaxCallchain; i += 8 {
			ips = append(ips, binary.LittleEndian.Uint64(cc[i:]))
		}
		for k := 0; k < 3; k++ { // several rows: exercises growth and null padding
			d.add(&format.Sample{Source: uint32(src) % uint32(len(spec.sources)+1), Time: uint64(k), PID: 100, TID: 100, Raw: raw, Callchain: ips})
		}
		if c.n == 0 {
			return
		}
		// One stack, interned once, and symbolized without its markers.
		if len(ips) > 0 {
			if len(c.stacks) != 1 || c.stack[0] != 0 || c.stack[2] != 0 || len(c.stacks[0].ips) != len(ips) {
				t.Fatalf("%d rows of one %d-ip stack: %d stacks, ids %v", c.n, len(ips), len(c.stacks), c.stack[:c.n])
			}
			st := newStackTable(r)
			id := st.intern(c.stacks[0])
			if st.intern(c.stacks[0]) != id || st.len() != 1 {
				t.Fatalf("a stack interned twice gave %d stacks", st.len())
			}
			markers := 0
			for _, ip := range ips {
				if ip >= contextMax {
					markers++
				}
			}
			if fr := st.appendFrames(nil, id); len(fr) != len(ips)-markers {
				t.Fatalf("%d frames of %d ips with %d markers", len(fr), len(ips), markers)
			}
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
