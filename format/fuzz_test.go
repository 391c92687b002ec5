package format

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Fuzz targets for every parser of untrusted bytes. Run them with a short
// minimization budget, e.g.
//
//	go test -run XXX -fuzz FuzzReader -fuzztime 60s -fuzzminimizetime 10x ./format
//
// (the default 60 s of minimization per new input stalls progress, as the
// instrumented zstd decoder makes many inputs "interesting").

// seedTrace is a small trace with every block kind, used as fuzz seed;
// without index it is what a killed recorder leaves.
func seedTrace(t testing.TB, n int, withIndex bool) []byte {
	b := writeTrace(t, n, &WriterOptions{FrameBytes: 4096}, true)
	if !withIndex {
		f := &File{ra: bytes.NewReader(b), Size: int64(len(b))}
		_, start, err := readIndex(f.readAt, f.Size)
		if err != nil {
			t.Fatal(err)
		}
		b = b[:start]
	}
	return b
}

// seedFrames returns the decompressed frames of a trace.
func seedFrames(t testing.TB, b []byte) [][]byte {
	f := openBytes(t, b)
	entries, _, err := readIndex(f.readAt, f.Size)
	if err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	for _, e := range entries {
		raw, err := f.decodeFrame(e.Offset, e.CSize, nil)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, raw)
	}
	return out
}

func FuzzDecodeSample(f *testing.F) {
	var s Sample
	for i := 0; i < 6; i++ {
		genSample(i*7, &s)
		f.Add(AppendSample(nil, &s))
		s.Period, s.HasPeriod = uint64(i)*1000, true
		f.Add(AppendSample(nil, &s))
	}
	f.Add([]byte{})
	// The deepest callchain a sample may carry, and one ip more (refused).
	deep := Sample{Raw: make([]byte, 8), Callchain: make([]uint64, MaxCallchain)}
	for i := range deep.Callchain {
		deep.Callchain[i] = 0xffffffff81000000 + uint64(i%2)*0x100
	}
	f.Add(AppendSample(nil, &deep))
	over := AppendSample(nil, &deep)
	le.PutUint32(over[20:], MaxCallchain+1)
	f.Add(append(over, make([]byte, 8)...))
	f.Fuzz(func(t *testing.T, data []byte) {
		var s Sample
		if err := DecodeSample(data, &s); err != nil {
			return
		}
		if len(s.Callchain) > MaxCallchain {
			t.Fatalf("decoded %d callchain entries, over %d", len(s.Callchain), MaxCallchain)
		}
		n := SampleHeaderLen + 8*len(s.Callchain) + len(s.Raw) + periodLen(&s)
		if n > len(data) {
			t.Fatalf("decoded %d bytes from %d", n, len(data))
		}
		// Re-encoding gives the same bytes, unknown flags aside (written as 0).
		want := bytes.Clone(data[:n])
		le.PutUint32(want[12:], le.Uint32(want[12:])&SampleFlagPeriod)
		if got := AppendSample(nil, &s); !bytes.Equal(got, want) {
			t.Fatalf("round trip changed the sample:\n%x\n%x", got, want)
		}
	})
}

func FuzzBlocks(f *testing.F) {
	for _, fr := range seedFrames(f, seedTrace(f, 40, true)) {
		f.Add(fr)
	}
	f.Fuzz(func(t *testing.T, frame []byte) {
		ForEachSample(frame, func(s *Sample) error { return nil })
		findVersion(frame)
		file := &File{isbs: map[uint32]Stats{}}
		file.readMeta(frame, 1)
		file.finish()
		file.KernelSymbol(0xffffffff81000000)
		file.CommOf(1, 1, 0, 1)
		file.UserSymbol(1, 1)
	})
}

func FuzzReader(f *testing.F) {
	f.Add(seedTrace(f, 30, true))
	f.Add(seedTrace(f, 30, false))
	for _, b := range hostileSeeds(f) {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		file, err := NewFile(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			return
		}
		if len(file.Stats) != len(file.Header.Sources) {
			t.Fatalf("%d stats for %d sources", len(file.Stats), len(file.Header.Sources))
		}
		it := file.Samples()
		for n := 0; it.Next() && n < 1e6; n++ {
			if s := it.Sample(); int(s.Source) >= len(file.Header.Sources) {
				t.Fatalf("sample of source %d of %d", s.Source, len(file.Header.Sources))
			}
		}
		file.KernelSymbol(0xffffffff81000000)
		file.CommOf(100, 100, 0, 5)
	})
}

// TestFuzzSeeds checks that the committed seed corpus under testdata/fuzz
// still holds readable traces of the current format (so the fuzzers start
// from deep inside the parser), and regenerates it when KPCAP_WRITE_SEEDS=1.
func TestFuzzSeeds(t *testing.T) {
	if os.Getenv("KPCAP_WRITE_SEEDS") != "1" {
		for name, indexed := range map[string]bool{"complete": true, "unindexed": false, "truncated": false} {
			p := filepath.Join("testdata", "fuzz", "FuzzReader", name)
			body, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			var data []byte
			if _, err := fmt.Sscanf(strings.TrimPrefix(string(body), "go test fuzz v1\n"), "[]byte(%q)", &data); err != nil {
				t.Fatalf("%s: %v", p, err)
			}
			f := openBytes(t, data)
			if f.Indexed != indexed || len(f.Frames) == 0 {
				t.Errorf("%s: indexed=%v frames=%d; regenerate with KPCAP_WRITE_SEEDS=1", p, f.Indexed, len(f.Frames))
			}
		}
		return
	}
	write := func(target, name string, data []byte) {
		dir := filepath.Join("testdata", "fuzz", target)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		body := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", data)
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	full := seedTrace(t, 12, true)
	write("FuzzReader", "complete", full)
	write("FuzzReader", "unindexed", seedTrace(t, 12, false))
	write("FuzzReader", "truncated", full[:len(full)*2/3])
	for i, fr := range seedFrames(t, full) {
		write("FuzzBlocks", fmt.Sprintf("frame%d", i), fr)
	}
	var s Sample
	for i := 0; i < 5; i++ {
		genSample(i*9+4, &s)
		write("FuzzDecodeSample", fmt.Sprintf("sample%d", i), AppendSample(nil, &s))
	}
}
