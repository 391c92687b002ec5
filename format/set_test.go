package format

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// writeSetFile writes a trace of the given sources whose samples are at
// times ts, alternating between the sources, as file seq of set id
// (no set block when id is "").
func writeSetFile(t *testing.T, path, id string, seq int, srcs []string, ts []uint64, lost, end uint64) {
	t.Helper()
	fh, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	h := &Header{Application: "test", Host: Host{Hostname: "h", Kernel: "6.1"}}
	for _, s := range srcs {
		h.Sources = append(h.Sources, Source{Name: s, Kind: KindTracepoint, Definition: s})
	}
	if id != "" {
		h.Set = &SetInfo{ID: id, Seq: seq, Mode: "rotate", StartNS: ts[0]}
	}
	w, err := NewWriter(fh, h, &WriterOptions{FrameBytes: 4096})
	if err != nil {
		t.Fatal(err)
	}
	w.AddComm(Comm{PID: 7, TID: 7, Time: ts[0], Comm: "c" + srcs[0]})
	for i, tm := range ts {
		src := uint32(i % len(srcs))
		if err := w.WriteSample(&Sample{Source: src, Time: tm, CPU: 0, PID: 7, TID: 7, Raw: []byte(srcs[src])}); err != nil {
			t.Fatal(err)
		}
	}
	if lost > 0 {
		w.AddLost(Lost{Time: ts[len(ts)-1], CPU: 0, Source: 0, Count: lost})
	}
	w.SetEnd(end)
	if err := w.Close(nil); err != nil {
		t.Fatal(err)
	}
}

func times(from, n, step uint64) []uint64 {
	out := make([]uint64, n)
	for i := range out {
		out[i] = from + uint64(i)*step
	}
	return out
}

// TestOpenSet reads files of a set, given out of order and with one
// missing, plus an independent trace whose sources are in another order,
// as one trace: time-ordered frames, sources renumbered to the union,
// statistics and losses summed, the missing file stated.
func TestOpenSet(t *testing.T) {
	dir := t.TempDir()
	a, b, c, d := filepath.Join(dir, "s-0001.zst"), filepath.Join(dir, "s-0002.zst"), filepath.Join(dir, "s-0004.zst"), filepath.Join(dir, "other.zst")
	writeSetFile(t, a, "abc", 1, []string{"x:a", "x:b"}, times(1000, 3000, 10), 5, 31000)
	writeSetFile(t, b, "abc", 2, []string{"x:a", "x:b"}, times(31000, 3000, 10), 0, 61000)
	writeSetFile(t, c, "abc", 4, []string{"x:a", "x:b"}, times(91000, 1000, 10), 2, 101000)
	writeSetFile(t, d, "", 0, []string{"x:b", "x:c"}, times(35005, 100, 100), 0, 0)

	f, err := OpenSet([]string{c, d, b, a})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var order []string
	for _, p := range f.Parts {
		order = append(order, filepath.Base(p.Path))
	}
	if want := []string{"s-0001.zst", "s-0002.zst", "other.zst", "s-0004.zst"}; !reflect.DeepEqual(order, want) {
		t.Errorf("parts in order %v, want %v", order, want)
	}
	var names []string
	for _, s := range f.Header.Sources {
		names = append(names, s.Name)
	}
	if want := []string{"x:a", "x:b", "x:c"}; !reflect.DeepEqual(names, want) {
		t.Fatalf("sources %v, want %v", names, want)
	}
	if got := []uint64{f.Stats[0].Received, f.Stats[1].Received, f.Stats[2].Received}; !reflect.DeepEqual(got, []uint64{3500, 3550, 50}) {
		t.Errorf("received per source %v", got)
	}
	if f.Stats[0].Dropped != 7 || f.Parts[0].Lost != 5 || f.Parts[3].Lost != 2 {
		t.Errorf("dropped %d, per file %+v", f.Stats[0].Dropped, f.Parts)
	}
	if len(f.Gaps) != 1 || !reflect.DeepEqual(f.Gaps[0].Missing, []int{3}) || f.Gaps[0].StartNS != 61000 || f.Gaps[0].EndNS != 91000 {
		t.Errorf("gaps %+v", f.Gaps)
	}
	if len(f.Warnings) != 1 {
		t.Errorf("warnings %q", f.Warnings)
	}
	// Every sample, frames in order of their first time, and each payload
	// names its source in the union.
	var n int
	var buf []byte
	for i := range f.Frames {
		if i > 0 && f.Frames[i].FirstNS < f.Frames[i-1].FirstNS {
			t.Errorf("frame %d starts at %d, before frame %d (%d)", i, f.Frames[i].FirstNS, i-1, f.Frames[i-1].FirstNS)
		}
		buf, err = f.ReadFrame(i, buf)
		if err != nil {
			t.Fatal(err)
		}
		err = ForEachSample(buf, func(s *Sample) error {
			if got := string(s.Raw); got != names[s.Source] {
				t.Fatalf("sample of source %d (%s) holds %q", s.Source, names[s.Source], got)
			}
			n++
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if n != 7100 {
		t.Errorf("%d samples, want 7100", n)
	}
	if len(f.Comms) != 4 {
		t.Errorf("comms %v", f.Comms)
	}

	// One file alone still says where it stands in its set.
	one, err := OpenSet([]string{c})
	if err != nil {
		t.Fatal(err)
	}
	defer one.Close()
	if s := one.Header.Set; s == nil || !s.Final || s.Seq != 4 || s.ID != "abc" || s.Samples != 1000 || s.Lost != 2 || s.EndNS != 101000 {
		t.Errorf("set block %+v", s)
	}
	if len(one.Gaps) != 1 || len(one.Gaps[0].Missing) != 3 {
		t.Errorf("gaps of a lone 4th file: %+v", one.Gaps)
	}
}

func TestExpandPaths(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []string{"t-0002.pcapng.zst", "t-0001.pcapng.zst", "notes.txt"} {
		os.WriteFile(filepath.Join(dir, n), nil, 0o644)
	}
	got, err := ExpandPaths([]string{dir})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{filepath.Join(dir, "t-0001.pcapng.zst"), filepath.Join(dir, "t-0002.pcapng.zst")}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("directory: %v, want %v", got, want)
	}
	if got, err = ExpandPaths([]string{filepath.Join(dir, "t-*.pcapng.zst")}); err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("glob: %v %v", got, err)
	}
	if _, err = ExpandPaths([]string{filepath.Join(dir, "x-*")}); err == nil {
		t.Errorf("a glob matching nothing is not an error")
	}
	if got, _ = ExpandPaths([]string{"plain"}); !reflect.DeepEqual(got, []string{"plain"}) {
		t.Errorf("plain name: %v", got)
	}
}
