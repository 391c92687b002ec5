package format

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"
	"github.com/klauspost/compress/zstd"
)

// pcapgoHeader renders an SHB and one IDB per source with gopacket's
// pcapgo writer, configured as kpcap's writer configured it before it
// encoded these blocks itself: the reference the hand encoding must match
// byte for byte.
func pcapgoHeader(t *testing.T, hardware, os, appl string, srcs []Source, tsoff uint64) []byte {
	t.Helper()
	intf := func(s *Source) pcapgo.NgInterface {
		return pcapgo.NgInterface{
			Name:                clipOption(s.Name),
			Description:         clipOption(s.Definition),
			Filter:              s.Filter[:min(len(s.Filter), 65531)], // pcapgo prepends a byte
			LinkType:            layers.LinkType(LinkType),
			TimestampResolution: 9,
			TimestampOffset:     tsoff,
		}
	}
	var buf bytes.Buffer
	ng, err := pcapgo.NewNgWriterInterface(&buf, intf(&srcs[0]), pcapgo.NgWriterOptions{
		SectionInfo: pcapgo.NgSectionInfo{Hardware: clipOption(hardware), OS: clipOption(os), Application: clipOption(appl)},
	})
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i < len(srcs); i++ {
		if _, err := ng.AddInterface(intf(&srcs[i])); err != nil {
			t.Fatal(err)
		}
	}
	if err := ng.Flush(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// firstDiff describes where two byte slices first differ.
func firstDiff(got, want []byte) string {
	i := 0
	for i < len(got) && i < len(want) && got[i] == want[i] {
		i++
	}
	return fmt.Sprintf("%d bytes, want %d; first difference at byte %d", len(got), len(want), i)
}

// TestHeaderBlocksMatchPcapgo: the SHB and IDBs kpcap encodes are the bytes
// pcapgo writes for the same section and interfaces, for every option
// length modulo 4, empty options, options at the u16 length limit and
// with and without if_tsoffset.
func TestHeaderBlocksMatchPcapgo(t *testing.T) {
	long := strings.Repeat("x", 70000)
	tests := []struct {
		name               string
		hardware, os, appl string
		srcs               []Source
		tsoff              uint64
	}{
		{"test header", "x86_64", "Linux 6.18.0-test", "kpcap test", testHeader().Sources, 1_700_000_000},
		{"no tsoffset", "aarch64", "Linux 6.1.0-56-arm64", "kpcap 0.1.0", testHeader().Sources, 0},
		{"empty options", "", "", "kpcap", []Source{{Name: "a:b"}, {}}, 0},
		{"padding", "x", "ab", "abc", []Source{
			{Name: "g:e", Definition: "a", Filter: "a"},
			{Name: "g:ev", Definition: "ab", Filter: "ab"},
			{Name: "g:eve", Definition: "abc", Filter: "abc"},
			{Name: "g:even", Definition: "abcd", Filter: "abcd"},
		}, 1},
		{"clipped", long, long, long, []Source{{Name: long, Definition: long, Filter: long}}, ^uint64(0)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			want := pcapgoHeader(t, tc.hardware, tc.os, tc.appl, tc.srcs, tc.tsoff)
			got := appendSHB(nil, tc.hardware, tc.os, tc.appl)
			for i := range tc.srcs {
				got = appendIDB(got, &tc.srcs[i], tc.tsoff)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("SHB+IDBs differ from pcapgo's: %s", firstDiff(got, want))
			}
			// Every block parses back with both length fields intact.
			n := 0
			for off := 0; off < len(got); n++ {
				_, next, err := nextBlock(got, off)
				if err != nil {
					t.Fatalf("block %d: %v", n, err)
				}
				off = next
			}
			if n != 1+len(tc.srcs) {
				t.Fatalf("%d blocks, want %d", n, 1+len(tc.srcs))
			}
		})
	}
}

// TestISBMatchesPcapgo: the ISBs kpcap encodes are the bytes pcapgo writes
// for the same statistics (as kpcap's writer used to configure it).
func TestISBMatchesPcapgo(t *testing.T) {
	tests := []Stats{
		{Source: 0, Received: 6667, Dropped: 0, StartNS: 1_000_000_000, EndNS: 1_000_000_000 + 19998*1000},
		{Source: 2, Received: 0, Dropped: 7},
		{Source: 1, Received: 1 << 40, Dropped: 1<<33 + 5, StartNS: 0, EndNS: 1},
		{Source: 1, Received: 3, Dropped: 1, StartNS: 1<<63 + 12345, EndNS: ^uint64(0) - 1},
	}
	for i, st := range tests {
		var buf bytes.Buffer
		ng, err := pcapgo.NewNgWriterInterface(&buf, pcapgo.NgInterface{LinkType: layers.LinkType(LinkType)}, pcapgo.NgWriterOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for j := 0; j < 2; j++ {
			if _, err := ng.AddInterface(pcapgo.NgInterface{LinkType: layers.LinkType(LinkType)}); err != nil {
				t.Fatal(err)
			}
		}
		ng.Flush()
		buf.Reset()
		is := pcapgo.NgInterfaceStatistics{PacketsReceived: st.Received, PacketsDropped: st.Dropped}
		if st.StartNS != 0 || st.EndNS != 0 {
			is.StartTime = time.Unix(0, int64(st.StartNS))
			is.EndTime = time.Unix(0, int64(st.EndNS))
			is.LastUpdate = is.EndTime
		}
		if err := ng.WriteInterfaceStats(int(st.Source), is); err != nil {
			t.Fatal(err)
		}
		ng.Flush()
		want := buf.Bytes()
		got := appendISB(nil, &st)
		if !bytes.Equal(got, want) {
			t.Errorf("stats %d %+v: ISB differs from pcapgo's: %s", i, st, firstDiff(got, want))
		}
		// And kpcap's reader reads it back.
		f := &File{isbs: map[uint32]Stats{}}
		blk, _, err := nextBlock(got, 0)
		if err != nil || blk.typ != blockISB {
			t.Fatalf("stats %d: block %x: %v", i, blk.typ, err)
		}
		f.readISB(blk.body)
		if f.isbs[st.Source] != st || len(f.Warnings) > 0 {
			t.Errorf("stats %d: read back %+v (warnings %q), want %+v", i, f.isbs[st.Source], f.Warnings, st)
		}
	}
}

// TestDefaultFrames: with default options, sample frames hold at most
// DefaultFrameBytes and decode with a window of that size (what a reader
// must allocate per frame), with their content checksums.
func TestDefaultFrames(t *testing.T) {
	var out bytes.Buffer
	w, err := NewWriter(&out, benchHeader(), nil)
	if err != nil {
		t.Fatal(err)
	}
	const n = 110000 // 120 bytes each: 3 full frames and a part
	var s Sample
	for i := 0; i < n; i++ {
		benchSample(i, &s)
		if err := w.WriteSample(&s); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(nil); err != nil {
		t.Fatal(err)
	}
	f := openBytes(t, out.Bytes())
	dec, err := zstd.NewReader(nil, zstd.WithDecoderMaxWindow(DefaultFrameBytes), zstd.WithDecoderConcurrency(1))
	if err != nil {
		t.Fatal(err)
	}
	defer dec.Close()
	var samples uint64
	full := 0
	for i, fi := range f.Frames {
		if fi.Samples == 0 {
			continue
		}
		samples += fi.Samples
		if fi.RawSize > DefaultFrameBytes {
			t.Errorf("frame %d: %d raw bytes, more than %d", i, fi.RawSize, DefaultFrameBytes)
		}
		if fi.RawSize > DefaultFrameBytes-1024 {
			full++
		}
		raw, err := dec.DecodeAll(out.Bytes()[fi.Offset:fi.Offset+fi.CSize], nil)
		if err != nil || int64(len(raw)) != fi.RawSize {
			t.Fatalf("frame %d with a %d-byte window: %d bytes, %v", i, DefaultFrameBytes, len(raw), err)
		}
		// Format 1.1: zstd frames of at most one block each, without zstd
		// content checksums, then a check frame.
		b := out.Bytes()[fi.Offset : fi.Offset+fi.CSize]
		z, err := splitCheck(b)
		if err != nil || len(z) != len(b)-checkFrameLen {
			t.Fatalf("frame %d: no valid check frame at its end (%v)", i, err)
		}
		pieces := 0
		for off := int64(0); off < int64(len(z)); pieces++ {
			zf, err := scanFrame(func(p []byte, o int64) int { return copy(p, z[min(o, int64(len(z))):]) }, off, int64(len(z)))
			if err != nil || zf.skippable {
				t.Fatalf("frame %d: piece at %d: %+v %v", i, off, zf, err)
			}
			if zf.contentSize > zstdPiece {
				t.Errorf("frame %d: piece at %d holds %d bytes, more than %d", i, off, zf.contentSize, zstdPiece)
			}
			if zf.blocks != 1 {
				// More blocks mean the encoder cut the piece into smaller
				// blocks and copied it into its history: slower, larger.
				t.Errorf("frame %d: piece at %d has %d zstd blocks, want 1", i, off, zf.blocks)
			}
			if fh := z[off+4]; fh&0x04 != 0 {
				t.Errorf("frame %d: piece at %d has a zstd content checksum (frame header %#x)", i, off, fh)
			}
			off += zf.size
		}
		if want := (fi.RawSize + zstdPiece - 1) / zstdPiece; int64(pieces) != want {
			t.Errorf("frame %d: %d zstd frames for %d raw bytes, want %d", i, pieces, fi.RawSize, want)
		}
	}
	if samples != n || full != 3 {
		t.Errorf("%d samples in %d frames (%d full), want %d in 3 full ones and the rest", samples, len(f.Frames), full, n)
	}
	it := f.Samples()
	var want Sample
	i := 0
	for ; it.Next(); i++ {
		benchSample(i, &want)
		got := it.Sample()
		if got.Time != want.Time || got.Source != want.Source || got.PID != want.PID || !bytes.Equal(got.Raw, want.Raw) {
			t.Fatalf("sample %d: %+v, want %+v", i, got, want)
		}
	}
	if it.Err() != nil || i != n {
		t.Fatalf("read %d samples: %v", i, it.Err())
	}
}

// TestFrameBookkeeping: with samples of every size (some larger than a
// frame) and times out of order, each sample frame stays within FrameBytes
// unless it holds a single sample, its index entry has its true sample
// count and time range, and the ISBs have each source's true counts.
func TestFrameBookkeeping(t *testing.T) {
	const frameBytes = 4096
	var out bytes.Buffer
	h := testHeader()
	w, err := NewWriter(&out, h, &WriterOptions{FrameBytes: frameBytes})
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	var written []Sample
	want := make([]Stats, len(h.Sources))
	for i := 0; i < 3000; i++ {
		s := Sample{Source: uint32(rng.IntN(len(h.Sources))), Time: 1e9 + uint64(i)*1000 - uint64(rng.IntN(50_000)),
			CPU: uint32(i % 2), PID: 7, TID: 8}
		switch r := rng.IntN(100); {
		case r == 0:
			s.Raw = make([]byte, frameBytes+rng.IntN(3*frameBytes)) // larger than a frame
		case r < 5:
			s.Callchain = make([]uint64, rng.IntN(20))
		default:
			s.Raw = make([]byte, rng.IntN(200))
		}
		for j := range s.Raw {
			s.Raw[j] = byte(i + j)
		}
		if err := w.WriteSample(&s); err != nil {
			t.Fatal(err)
		}
		written = append(written, s)
		st := &want[s.Source]
		if st.Received == 0 || s.Time < st.StartNS {
			st.StartNS = s.Time
		}
		st.EndNS = max(st.EndNS, s.Time)
		st.Received++
		st.Source = s.Source
	}
	if err := w.Close(nil); err != nil {
		t.Fatal(err)
	}
	f := openBytes(t, out.Bytes())
	if !reflect.DeepEqual(f.Stats, want) {
		t.Errorf("stats %+v, want %+v", f.Stats, want)
	}
	next := 0
	for i, fi := range f.Frames {
		if fi.Samples == 0 {
			continue
		}
		if fi.RawSize > frameBytes && fi.Samples != 1 {
			t.Errorf("frame %d: %d samples in %d raw bytes", i, fi.Samples, fi.RawSize)
		}
		raw, err := f.ReadFrame(i, nil)
		if err != nil {
			t.Fatal(err)
		}
		var n uint64
		first, last := ^uint64(0), uint64(0)
		err = ForEachSample(raw, func(s *Sample) error {
			ws := &written[next]
			if s.Time != ws.Time || s.Source != ws.Source || !bytes.Equal(s.Raw, ws.Raw) || len(s.Callchain) != len(ws.Callchain) {
				return fmt.Errorf("sample %d differs", next)
			}
			next++
			n++
			first, last = min(first, s.Time), max(last, s.Time)
			return nil
		})
		if err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
		if n != fi.Samples || first != fi.FirstNS || last != fi.LastNS {
			t.Errorf("frame %d: index says %d samples %d..%d; it holds %d, %d..%d", i, fi.Samples, fi.FirstNS, fi.LastNS, n, first, last)
		}
	}
	if next != len(written) {
		t.Errorf("frames hold %d samples, want %d", next, len(written))
	}
}

// TestFrameAgeOnWrite: a busy writer that never calls Tick still closes
// frames about every FrameAge (WriteSample checks every 1024 samples).
func TestFrameAgeOnWrite(t *testing.T) {
	var out bytes.Buffer
	w, err := NewWriter(&out, testHeader(), &WriterOptions{FrameAge: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	var s Sample
	for batch := 0; batch < 3; batch++ {
		for i := 0; i < 2048; i++ {
			genSample(batch*2048+i, &s)
			if err := w.WriteSample(&s); err != nil {
				t.Fatal(err)
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := w.Close(nil); err != nil {
		t.Fatal(err)
	}
	f := openBytes(t, out.Bytes())
	frames := 0
	for _, fi := range f.Frames {
		if fi.Samples > 0 {
			frames++
		}
	}
	if frames < 3 {
		t.Errorf("%d sample frames for 3 bursts 20ms apart with a 10ms FrameAge", frames)
	}
	checkSamples(t, f, 3*2048)
}
