package format

import (
	"bytes"
	"errors"
	"io"
	"math/rand"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/gopacket/pcapgo"
	"github.com/klauspost/compress/zstd"
)

func TestSampleEncoding(t *testing.T) {
	tests := []struct {
		name string
		s    Sample
	}{
		{"empty", Sample{}},
		{"raw", Sample{CPU: 3, PID: 42, TID: 43, Raw: []byte{1, 2, 3, 4, 5}}},
		{"callchain", Sample{CPU: 1, PID: 1, TID: 1, Callchain: []uint64{^uint64(0) - 127, 0xffffffff81000000, 1}}},
		{"both", Sample{CPU: ^uint32(0), PID: 7, TID: 8, Raw: bytes.Repeat([]byte{0xAB}, 1000), Callchain: []uint64{5, 6}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := AppendSample([]byte("prefix"), &tc.s)
			if string(b[:6]) != "prefix" {
				t.Fatal("prefix clobbered")
			}
			b = b[6:]
			if want := SampleHeaderLen + 8*len(tc.s.Callchain) + len(tc.s.Raw); len(b) != want {
				t.Fatalf("encoded %d bytes, want %d", len(b), want)
			}
			var got Sample
			if err := DecodeSample(b, &got); err != nil {
				t.Fatal(err)
			}
			if got.CPU != tc.s.CPU || got.PID != tc.s.PID || got.TID != tc.s.TID ||
				!bytes.Equal(got.Raw, tc.s.Raw) || !slices.Equal(got.Callchain, tc.s.Callchain) {
				t.Fatalf("decoded %+v, want %+v", got, tc.s)
			}
			// Every strict prefix must be rejected, never panic.
			for i := 0; i < len(b); i++ {
				if err := DecodeSample(b[:i], &got); err == nil {
					t.Fatalf("prefix of %d bytes accepted", i)
				}
			}
		})
	}
	// Hostile lengths.
	bad := make([]byte, 32)
	le.PutUint32(bad[16:], 0xFFFFFFFF)
	le.PutUint32(bad[20:], 0x7FFFFFFF)
	if err := DecodeSample(bad, &Sample{}); err == nil {
		t.Fatal("hostile lengths accepted")
	}
}

func TestRoundTrip(t *testing.T) {
	const n = 20000
	b := writeTrace(t, n, &WriterOptions{FrameBytes: 64 << 10}, true)
	f := openBytes(t, b)
	if !f.Indexed || len(f.Warnings) != 0 {
		t.Fatalf("indexed=%v warnings=%q", f.Indexed, f.Warnings)
	}
	h := testHeader()
	if f.Header.FormatVersion != [2]int{MajorVersion, MinorVersion} {
		t.Errorf("version %v", f.Header.FormatVersion)
	}
	if f.Header.Application != h.Application {
		t.Errorf("application %q", f.Header.Application)
	}
	if !reflect.DeepEqual(f.Header.Host, h.Host) {
		t.Errorf("host %+v, want %+v", f.Header.Host, h.Host)
	}
	if !reflect.DeepEqual(f.Header.Capture, h.Capture) {
		t.Errorf("capture %+v, want %+v", f.Header.Capture, h.Capture)
	}
	if !reflect.DeepEqual(f.Header.Sources, h.Sources) {
		t.Errorf("sources %+v, want %+v", f.Header.Sources, h.Sources)
	}
	if want := []string{"first note", "note at 10000"}; !slices.Equal(f.Header.Notes, want) {
		t.Errorf("notes %q, want %q", f.Header.Notes, want)
	}
	if !reflect.DeepEqual(f.Comms, testComms) || !reflect.DeepEqual(f.Lost, testLost) || !reflect.DeepEqual(f.UserFrames, testFrames) {
		t.Errorf("comms %+v lost %+v frames %+v", f.Comms, f.Lost, f.UserFrames)
	}
	if len(f.Symbols) != 3 || f.Symbols[0].Name != "_stext" || f.Symbols[2].Module != "ext4" {
		t.Errorf("symbols %+v", f.Symbols)
	}
	wantStats := []Stats{
		{Source: 0, Received: 6667, StartNS: 1_000_000_000, EndNS: 1_000_000_000 + 19998*1000},
		{Source: 1, Received: 6667, StartNS: 1_000_001_000, EndNS: 1_000_000_000 + 19999*1000},
		{Source: 2, Received: 6666, Dropped: 7, StartNS: 1_000_002_000, EndNS: 1_000_000_000 + 19997*1000},
	}
	if !reflect.DeepEqual(f.Stats, wantStats) {
		t.Errorf("stats %+v, want %+v", f.Stats, wantStats)
	}
	if len(f.Frames) < 10 {
		t.Errorf("only %d frames with 64 KiB frames", len(f.Frames))
	}
	var total uint64
	for _, fi := range f.Frames {
		total += fi.Samples
		if fi.RawSize > 64<<10 || fi.FirstNS > fi.LastNS {
			t.Errorf("frame %+v", fi)
		}
	}
	if total != n {
		t.Errorf("index counts %d samples, want %d", total, n)
	}
	checkSamples(t, f, n)

	// Frame-level access, concurrently.
	var wg sync.WaitGroup
	counts := make([]uint64, len(f.Frames))
	errs := make([]error, len(f.Frames))
	for i := range f.Frames {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf, err := f.ReadFrame(i, nil)
			if err == nil {
				err = ForEachSample(buf, func(s *Sample) error { counts[i]++; return nil })
			}
			errs[i] = err
		}()
	}
	wg.Wait()
	for i, fi := range f.Frames {
		if errs[i] != nil || counts[i] != fi.Samples {
			t.Errorf("frame %d: %v, %d samples, index says %d", i, errs[i], counts[i], fi.Samples)
		}
	}
	if _, err := f.ReadFrame(len(f.Frames), nil); err == nil {
		t.Error("ReadFrame past the end succeeded")
	}

	// Lookups.
	for _, tc := range []struct {
		pid, tid uint32
		t        uint64
		want     string
	}{{100, 100, 0, "bash"}, {100, 100, 1_000_049_999, "bash"}, {100, 100, 1_000_050_000, "cat"}, {101, 102, 10, "worker"},
		{101, 101, 10, ""}, {999, 999, 0, ""}} {
		// A thread's record names that thread only (101's main thread is unnamed).
		if got := f.CommOf(tc.pid, tc.tid, 0, tc.t); got != tc.want {
			t.Errorf("CommOf(%d, %d, 0, %d) = %q, want %q", tc.pid, tc.tid, tc.t, got, tc.want)
		}
	}
	for _, tc := range []struct {
		addr uint64
		name string
		off  uint64
		ok   bool
	}{{0xffffffff81000104, "do_sys_openat2", 4, true}, {0xffffffff81000180, "", 0, false},
		{0xffffffff81000010, "_stext", 0x10, true}, {0xffffffffc0000003, "modfn", 3, true}, {0x1000, "", 0, false}} {
		name, off, ok := f.KernelSymbol(tc.addr)
		if name != tc.name || off != tc.off || ok != tc.ok {
			t.Errorf("KernelSymbol(%#x) = %q+%#x %v, want %q+%#x %v", tc.addr, name, off, ok, tc.name, tc.off, tc.ok)
		}
	}
	if u, ok := f.UserSymbol(100, 0x401000); !ok || u.Name != "main" {
		t.Errorf("UserSymbol = %+v %v", u, ok)
	}
	if _, ok := f.UserSymbol(100, 0x401001); ok {
		t.Error("UserSymbol resolved an unknown address")
	}
}

// checkSamples iterates f and compares with genSample(0..n-1).
func checkSamples(t *testing.T, f *File, n int) {
	t.Helper()
	it := f.Samples()
	var want Sample
	i := 0
	for it.Next() {
		s := it.Sample()
		genSample(i, &want)
		if s.Source != want.Source || s.Time != want.Time || s.CPU != want.CPU || s.PID != want.PID ||
			s.TID != want.TID || !bytes.Equal(s.Raw, want.Raw) || !slices.Equal(s.Callchain, want.Callchain) {
			t.Fatalf("sample %d = %+v, want %+v", i, *s, want)
		}
		i++
	}
	if it.Err() != nil || i != n {
		t.Fatalf("iterated %d samples, want %d (err %v)", i, n, it.Err())
	}
}

func TestNoSourcesNoSamples(t *testing.T) {
	var out bytes.Buffer
	w, err := NewWriter(&out, &Header{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.WriteSample(&Sample{}); err == nil {
		t.Error("sample for a missing source accepted")
	}
	if err := w.Close(nil); err != nil {
		t.Fatal(err)
	}
	f := openBytes(t, out.Bytes())
	if len(f.Header.Sources) != 0 || len(f.Frames) != 0 || f.Header.Application != "kpcap" || !f.Indexed {
		t.Fatalf("%+v", f)
	}
	if f.Samples().Next() {
		t.Fatal("sample in an empty trace")
	}
}

func TestUnflushedScan(t *testing.T) {
	// Flush without Close: what a SIGKILLed recorder leaves behind.
	const n = 5000
	b := writeTrace(t, n, &WriterOptions{FrameBytes: 32 << 10}, false)
	f := openBytes(t, b)
	if f.Indexed || len(f.Warnings) == 0 {
		t.Fatalf("indexed=%v warnings=%q", f.Indexed, f.Warnings)
	}
	checkSamples(t, f, n)
	if f.Stats[0].Received != 1667 || f.Stats[2].Dropped != 7 || f.Stats[1].StartNS != 1_000_001_000 {
		t.Errorf("recomputed stats %+v", f.Stats)
	}
	if len(f.Comms) != 3 || len(f.Symbols) != 3 || len(f.Header.Notes) != 2 {
		t.Errorf("metadata lost: %d comms %d symbols %q", len(f.Comms), len(f.Symbols), f.Header.Notes)
	}
}

func TestTruncated(t *testing.T) {
	const n = 3000
	b := writeTrace(t, n, &WriterOptions{FrameBytes: 16 << 10}, true)
	full := openBytes(t, b)
	entries, _, err := readIndex(full.readAt, full.Size)
	if err != nil {
		t.Fatal(err)
	}
	headerEnd := entries[0].CSize
	cuts := []int64{headerEnd, headerEnd + 1, int64(len(b)) - 1, int64(len(b)) - 8, int64(len(b)) - 21}
	for _, e := range entries {
		cuts = append(cuts, e.Offset+e.CSize, e.Offset+e.CSize-1, e.Offset+e.CSize/2)
	}
	rng := rand.New(rand.NewSource(1))
	for i := 0; i < 40; i++ {
		cuts = append(cuts, headerEnd+rng.Int63n(int64(len(b))-headerEnd))
	}
	for _, cut := range cuts {
		if cut < headerEnd {
			continue
		}
		var want uint64
		for _, e := range entries {
			if e.Offset+e.CSize <= cut {
				want += e.Samples
			}
		}
		f, err := NewFile(bytes.NewReader(b[:cut]), cut)
		if err != nil {
			t.Fatalf("cut at %d of %d: %v", cut, len(b), err)
		}
		if len(f.Warnings) == 0 {
			t.Errorf("cut at %d: no warning", cut)
		}
		var got uint64
		it := f.Samples()
		for it.Next() {
			got++
		}
		if it.Err() != nil || got != want {
			t.Errorf("cut at %d: %d samples (err %v), want %d", cut, got, it.Err(), want)
		}
		var sum uint64
		for _, st := range f.Stats {
			sum += st.Received
		}
		if sum != want && cut < int64(len(b))-150 {
			t.Errorf("cut at %d: stats count %d samples, want %d", cut, sum, want)
		}
	}
	// Cuts inside the header frame are errors, not panics.
	for cut := int64(0); cut < headerEnd; cut += 1 + headerEnd/50 {
		if _, err := NewFile(bytes.NewReader(b[:cut]), cut); err == nil {
			t.Errorf("cut at %d inside the header opened", cut)
		}
	}
}

func TestCorruptFrame(t *testing.T) {
	const n = 3000
	b := writeTrace(t, n, &WriterOptions{FrameBytes: 16 << 10}, true)
	full := openBytes(t, b)
	vi := len(full.Frames) / 2
	victim := full.Frames[vi]
	var before uint64
	for _, fi := range full.Frames[:vi] {
		before += fi.Samples
	}
	bad := bytes.Clone(b)
	bad[victim.Offset+victim.CSize/2] ^= 0x55

	// Indexed: opens, and iteration stops at the bad frame with an error.
	f := openBytes(t, bad)
	it := f.Samples()
	var got uint64
	for it.Next() {
		got++
	}
	if it.Err() == nil || got != before {
		t.Fatalf("corrupt frame: %d samples before the error %v, want %d and an error", got, it.Err(), before)
	}
	t.Logf("indexed: %v", it.Err())

	// Without the index the scan skips the bad frame with a warning.
	end := full.Frames[len(full.Frames)-1]
	noIdx := bad[:end.Offset+end.CSize]
	f = openBytes(t, noIdx)
	found := false
	for _, w := range f.Warnings {
		found = found || strings.Contains(w, "is corrupt") || strings.Contains(w, "unreadable")
	}
	if !found {
		t.Errorf("no corruption warning: %q", f.Warnings)
	}
	got = 0
	it = f.Samples()
	for it.Next() {
		got++
	}
	if it.Err() != nil || got != n-victim.Samples {
		t.Errorf("scan kept %d samples (err %v), want %d", got, it.Err(), n-victim.Samples)
	}

	// A corrupt seek index falls back to the scan.
	bad = bytes.Clone(b)
	bad[len(bad)-indexFooterLen-3] ^= 1
	f = openBytes(t, bad)
	if f.Indexed || len(f.Warnings) == 0 {
		t.Errorf("corrupt index trusted: %q", f.Warnings)
	}
	checkSamples(t, f, n)
}

func TestNotATrace(t *testing.T) {
	var zbuf bytes.Buffer
	zw, _ := zstd.NewWriter(&zbuf)
	zw.Write([]byte("hello, this is not pcapng"))
	zw.Close()
	plain := writeTrace(t, 10, nil, true)
	dec, _ := zstd.NewReader(bytes.NewReader(plain))
	raw, err := io.ReadAll(dec)
	if err != nil {
		t.Fatal(err)
	}
	for name, b := range map[string][]byte{
		"empty": nil, "short": {0x28}, "text": []byte("hello world\n"), "zstd text": zbuf.Bytes(),
		"uncompressed pcapng": raw,
	} {
		_, err := NewFile(bytes.NewReader(b), int64(len(b)))
		if !errors.Is(err, ErrNotTrace) {
			t.Errorf("%s: error %v, want ErrNotTrace", name, err)
		}
	}
}

func TestUnknownMajorVersion(t *testing.T) {
	b := writeTrace(t, 10, &WriterOptions{version: [2]uint32{MajorVersion + 1, 0}}, true)
	_, err := NewFile(bytes.NewReader(b), int64(len(b)))
	if !errors.Is(err, ErrVersion) || !strings.Contains(err.Error(), "2.0") {
		t.Fatalf("got %v, want a version error naming 2.0", err)
	}
	b = writeTrace(t, 10, &WriterOptions{version: [2]uint32{MajorVersion, MinorVersion + 5}}, true)
	f := openBytes(t, b)
	if f.Header.FormatVersion != [2]int{MajorVersion, MinorVersion + 5} {
		t.Fatalf("newer minor version: %v", f.Header.FormatVersion)
	}
}

func TestRandomBytes(t *testing.T) {
	rng := rand.New(rand.NewSource(2))
	good := writeTrace(t, 200, &WriterOptions{FrameBytes: 4096}, true)
	for i := 0; i < 300; i++ {
		var b []byte
		switch i % 3 {
		case 0:
			b = make([]byte, rng.Intn(4096))
			rng.Read(b)
		case 1: // zstd magic, then garbage
			b = make([]byte, 4+rng.Intn(4096))
			rng.Read(b)
			le.PutUint32(b, zstdMagic)
		case 2: // a real file with random bytes overwritten
			b = bytes.Clone(good)
			for j := 0; j < 1+rng.Intn(20); j++ {
				b[rng.Intn(len(b))] = byte(rng.Intn(256))
			}
		}
		f, err := NewFile(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			continue
		}
		it := f.Samples()
		for it.Next() {
		}
	}
}

func TestFrameAgeAndTick(t *testing.T) {
	var out bytes.Buffer
	w, err := NewWriter(&out, testHeader(), &WriterOptions{FrameAge: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	var s Sample
	for i := 0; i < 3; i++ {
		genSample(i, &s)
		if err := w.WriteSample(&s); err != nil {
			t.Fatal(err)
		}
		time.Sleep(30 * time.Millisecond)
		if err := w.Tick(time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.AddComm(Comm{PID: 1, Comm: "init"}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(30 * time.Millisecond)
	if err := w.Tick(time.Now()); err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	// Without Close: every sample and the comm must already be on "disk".
	f := openBytes(t, out.Bytes())
	if len(f.Frames) != 3 || len(f.Comms) != 1 {
		t.Fatalf("%d frames, %d comms; want 3 frames of one sample and the comm", len(f.Frames), len(f.Comms))
	}
	if w.CompressedBytes() != int64(out.Len()) || w.RawBytes() <= w.CompressedBytes()/2 {
		t.Errorf("CompressedBytes %d (file %d), RawBytes %d", w.CompressedBytes(), out.Len(), w.RawBytes())
	}
	if err := w.Close(nil); err != nil {
		t.Fatal(err)
	}
	if err := w.WriteSample(&s); err == nil {
		t.Error("write after Close accepted")
	}
}

type failWriter struct{ n int }

func (f *failWriter) Write(p []byte) (int, error) {
	if f.n <= 0 {
		return 0, errors.New("disk full")
	}
	f.n--
	return len(p), nil
}

func TestWriteErrors(t *testing.T) {
	if _, err := NewWriter(&failWriter{}, testHeader(), nil); err == nil {
		t.Fatal("NewWriter ignored a write error")
	}
	w, err := NewWriter(&failWriter{n: 1}, testHeader(), &WriterOptions{FrameBytes: 4096})
	if err != nil {
		t.Fatal(err)
	}
	var s Sample
	var werr error
	for i := 0; i < 10000 && werr == nil; i++ {
		genSample(i, &s)
		werr = w.WriteSample(&s)
	}
	if werr == nil {
		werr = w.Close(nil)
	}
	if werr == nil || !strings.Contains(werr.Error(), "disk full") {
		t.Fatalf("error %v, want disk full", werr)
	}
	w, _ = NewWriter(io.Discard, testHeader(), nil)
	if err := w.WriteSample(&Sample{Source: 3}); err == nil {
		t.Error("out-of-range source accepted")
	}
	if err := w.WriteSample(&Sample{Raw: make([]byte, MaxSampleLen)}); err == nil {
		t.Error("oversized sample accepted")
	}
	w.Close(nil)
}

func TestWriteSampleDoesNotAllocate(t *testing.T) {
	w, err := NewWriter(io.Discard, testHeader(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close(nil)
	s := Sample{Source: 1, Time: 5, Raw: make([]byte, 64)}
	for i := 0; i < 200000; i++ { // warm up: every frame buffer reaches full size
		w.WriteSample(&s)
	}
	// Frame closes (and the compressor) allocate a little now and then;
	// per sample it must round to zero.
	allocs := testing.AllocsPerRun(100000, func() { w.WriteSample(&s) })
	if allocs > 0.01 {
		t.Fatalf("%.3f allocations per WriteSample", allocs)
	}
}

// TestPcapgoReadsTrace: gopacket's pcapgo, an independent pcapng reader,
// reads every sample of the decompressed stream and the section,
// interface and statistics options kpcap encodes itself.
func TestPcapgoReadsTrace(t *testing.T) {
	const n = 5000
	b := writeTrace(t, n, &WriterOptions{FrameBytes: 16 << 10}, true)
	dec, err := zstd.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	defer dec.Close()
	stats := map[int]pcapgo.NgInterfaceStatistics{}
	r, err := pcapgo.NewNgReader(dec, pcapgo.NgReaderOptions{
		WantMixedLinkType:  true,
		StatisticsCallback: func(id int, s pcapgo.NgInterfaceStatistics) { stats[id] = s },
	})
	if err != nil {
		t.Fatal(err)
	}
	var want, got Sample
	i := 0
	for ; ; i++ {
		data, ci, err := r.ReadPacketData()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("packet %d: %v", i, err)
		}
		genSample(i, &want)
		if err := DecodeSample(data, &got); err != nil {
			t.Fatal(err)
		}
		wantTS := time.Unix(1_700_000_000, int64(want.Time)).UTC()
		if ci.InterfaceIndex != int(want.Source) || !ci.Timestamp.Equal(wantTS) || !bytes.Equal(got.Raw, want.Raw) || got.PID != want.PID {
			t.Fatalf("packet %d: %+v %+v, want %+v", i, ci, got, want)
		}
	}
	if i != n {
		t.Fatalf("pcapgo read %d packets, want %d", i, n)
	}
	h := testHeader()
	if r.NInterfaces() != len(h.Sources) {
		t.Fatalf("%d interfaces", r.NInterfaces())
	}
	for id, src := range h.Sources {
		intf, err := r.Interface(id)
		if err != nil {
			t.Fatal(err)
		}
		if intf.Name != src.Name || intf.Description != src.Definition || intf.Filter != src.Filter ||
			intf.LinkType != LinkType || intf.SnapLength != 0 || intf.TimestampResolution != 9 ||
			intf.TimestampOffset != 1_700_000_000 || intf.OS != "" || intf.Comment != "" {
			t.Errorf("interface %d: %+v, want source %+v", id, intf, src)
		}
	}
	if si := r.SectionInfo(); si.OS != "Linux 6.18.0-test" || si.Hardware != "x86_64" || si.Application != "kpcap test" || si.Comment != "" {
		t.Errorf("section %+v", si)
	}
	// The writer's own counts (as in TestRoundTrip), shifted by if_tsoffset.
	wantStats := []Stats{
		{Source: 0, Received: 1667, StartNS: 1_000_000_000, EndNS: 1_000_000_000 + 4998*1000},
		{Source: 1, Received: 1667, StartNS: 1_000_001_000, EndNS: 1_000_000_000 + 4999*1000},
		{Source: 2, Received: 1666, Dropped: 7, StartNS: 1_000_002_000, EndNS: 1_000_000_000 + 4997*1000},
	}
	if len(stats) != len(wantStats) {
		t.Fatalf("pcapgo saw statistics of %d interfaces, want %d", len(stats), len(wantStats))
	}
	for _, w := range wantStats {
		s := stats[int(w.Source)]
		start := time.Unix(1_700_000_000, int64(w.StartNS)).UTC()
		end := time.Unix(1_700_000_000, int64(w.EndNS)).UTC()
		if s.PacketsReceived != w.Received || s.PacketsDropped != w.Dropped ||
			!s.StartTime.Equal(start) || !s.EndTime.Equal(end) || !s.LastUpdate.Equal(end) {
			t.Errorf("interface %d statistics %+v, want %+v", w.Source, s, w)
		}
	}
}

func TestLargeMetadata(t *testing.T) {
	var out bytes.Buffer
	w, err := NewWriter(&out, testHeader(), &WriterOptions{FrameBytes: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	syms := make([]Symbol, 200000)
	for i := range syms {
		syms[i] = Symbol{Addr: 0xffffffff81000000 + uint64(len(syms)-i)*64, Size: 64, Name: "function_name_" + strings.Repeat("x", i%20)}
	}
	if err := w.AddSymbols(syms); err != nil {
		t.Fatal(err)
	}
	if err := w.AddNote(strings.Repeat("long note ", 100000)); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(nil); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	f := openBytes(t, out.Bytes())
	t.Logf("%d symbols, %d bytes, %d metadata frames, opened in %v", len(f.Symbols), out.Len(), f.MetaFrames, time.Since(start))
	if len(f.Symbols) != len(syms) || len(f.Warnings) != 0 || f.MetaFrames < 3 {
		t.Fatalf("%d symbols, %d metadata frames, warnings %q", len(f.Symbols), f.MetaFrames, f.Warnings)
	}
	if name, off, ok := f.KernelSymbol(0xffffffff81000000 + 64*5 + 3); !ok || off != 3 || name != syms[len(syms)-5].Name {
		t.Errorf("KernelSymbol: %q %d %v", name, off, ok)
	}
}

func TestWriterLevels(t *testing.T) {
	for _, level := range []int{1, 2, 3, 4} {
		b := writeTrace(t, 500, &WriterOptions{Level: level, FrameBytes: 8192}, true)
		f := openBytes(t, b)
		checkSamples(t, f, 500)
	}
	if _, err := NewWriter(io.Discard, testHeader(), &WriterOptions{Level: 9}); err == nil {
		t.Error("level 9 accepted")
	}
}

// TestEveryFlipDetected flips one bit at many places of a sample frame,
// checksum frame included: no flip may decode to different samples. Raw
// zstd literals (kpcap stores them without entropy coding) would decode
// silently without the checksum frame.
func TestEveryFlipDetected(t *testing.T) {
	b := writeTrace(t, 2000, &WriterOptions{FrameBytes: 16 << 10}, true)
	full := openBytes(t, b)
	victim := full.Frames[len(full.Frames)/2]
	rng := rand.New(rand.NewSource(7))
	for i := 0; i < 300; i++ {
		pos := victim.Offset + rng.Int63n(victim.CSize)
		bad := bytes.Clone(b)
		bad[pos] ^= 1 << rng.Intn(8)
		f := openBytes(t, bad)
		it := f.Samples()
		var got uint64
		for it.Next() {
			got++
		}
		if it.Err() == nil {
			t.Fatalf("bit flip at offset %d (frame %d+%d): %d samples read without an error", pos, victim.Offset, pos-victim.Offset, got)
		}
	}
}
