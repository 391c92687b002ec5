package replay

import (
	"maps"
	"path/filepath"
	"testing"

	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/kpcap/kpcap/format"
)

// nextCounts counts what Next returns the way Count does.
func nextCounts(t *testing.T, r *Reader) *Counts {
	t.Helper()
	c := &Counts{Sources: make([]uint64, len(r.File().Header.Sources)), CPUs: map[uint32]uint64{},
		Comms: map[string]uint64{}, PIDs: map[int32]PIDCount{}, Strings: map[string]map[string]uint64{}}
	srcOf := map[string]int{}
	for i, s := range r.File().Header.Sources {
		srcOf[s.Name] = i
	}
	for r.Next() {
		rec := r.Record()
		ts := col(t, rec, ColTS).(*array.Uint64)
		cpu := col(t, rec, ColCPU).(*array.Uint32)
		pid := col(t, rec, ColPID).(*array.Int32)
		comm := col(t, rec, ColComm).(*array.Dictionary)
		commVals := comm.Dictionary().(*array.String)
		probe := col(t, rec, ColProbe).(*array.Dictionary)
		probeVals := probe.Dictionary().(*array.String)
		stack := col(t, rec, ColStackID)
		for i := 0; i < int(rec.NumRows()); i++ {
			if c.Rows == 0 {
				c.FirstNS = ts.Value(i)
			}
			c.Rows++
			c.LastNS = max(c.LastNS, ts.Value(i))
			c.Sources[srcOf[probeVals.Value(probe.GetValueIndex(i))]]++
			c.CPUs[cpu.Value(i)]++
			name := ""
			if comm.IsValid(i) {
				name = commVals.Value(comm.GetValueIndex(i))
			}
			c.Comms[name]++
			pc := c.PIDs[pid.Value(i)]
			pc.Rows++
			if name != "" {
				pc.Comm = name
			}
			c.PIDs[pid.Value(i)] = pc
			if stack.IsValid(i) {
				c.Stacks++
			}
			for fi, f := range rec.Schema().Fields() {
				s, ok := rec.Column(fi).(*array.String)
				if !ok || fi < numCommon || !s.IsValid(i) {
					continue
				}
				if c.Strings[f.Name] == nil {
					c.Strings[f.Name] = map[string]uint64{}
				}
				c.Strings[f.Name][s.Value(i)]++
			}
		}
	}
	if err := r.Err(); err != nil {
		t.Fatal(err)
	}
	return c
}

// TestCountMatchesNext checks that the counting pass counts what a pass
// through Next returns, and declines where it cannot.
func TestCountMatchesNext(t *testing.T) {
	p := goldenTrace(t)
	for _, o := range []Options{{Workers: 1}, {Workers: 3}, {Probes: []string{"kpcap:*"}}} {
		r, err := Open(p, o)
		if err != nil {
			t.Fatal(err)
		}
		got, ok := r.Count(CountOptions{})
		if !ok {
			t.Fatalf("%+v: Count declined an intact trace", o)
		}
		want := nextCounts(t, r)
		r.Close()
		if got.Rows == 0 || got.Rows != want.Rows || got.Stacks != want.Stacks || got.FirstNS != want.FirstNS || got.LastNS != want.LastNS {
			t.Errorf("%+v: Count rows %d stacks %d [%d, %d], Next rows %d stacks %d [%d, %d]", o,
				got.Rows, got.Stacks, got.FirstNS, got.LastNS, want.Rows, want.Stacks, want.FirstNS, want.LastNS)
		}
		for i := range want.Sources {
			if got.Sources[i] != want.Sources[i] {
				t.Errorf("%+v: source %d: Count %d rows, Next %d", o, i, got.Sources[i], want.Sources[i])
			}
		}
		if !maps.Equal(got.CPUs, want.CPUs) || !maps.Equal(got.Comms, want.Comms) || !maps.Equal(got.PIDs, want.PIDs) {
			t.Errorf("%+v: Count cpus %v comms %v pids %v, Next %v %v %v", o, got.CPUs, got.Comms, got.PIDs, want.CPUs, want.Comms, want.PIDs)
		}
		if len(got.Strings) != len(want.Strings) {
			t.Errorf("%+v: Count strings %v, Next %v", o, got.Strings, want.Strings)
		}
		for name, m := range want.Strings {
			if !maps.Equal(got.Strings[name], m) {
				t.Errorf("%+v: column %s: Count %v, Next %v", o, name, got.Strings[name], m)
			}
		}
	}

	for _, o := range []Options{{Filter: "ret >= 0"}, {Since: 1_500_000_000}, {Until: 1_500_000_000}} {
		r, err := Open(p, o)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := r.Count(CountOptions{}); ok {
			t.Errorf("%+v: Count served a filtered or windowed read", o)
		}
		r.Close()
	}
	r, err := Open(p, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	r.Next()
	if _, ok := r.Count(CountOptions{}); ok {
		t.Error("Count served a Reader already read")
	}
}

// TestMergeOrderPredictsNext checks mergeOrder against Next on frames that
// overlap in time: its first row, and whether rows come out in time order
// (the third frame reaches back into the first, which small batches have
// flushed already).
func TestMergeOrderPredictsNext(t *testing.T) {
	sw := loadFormat(t, "sys_exit_openat")
	spec := traceSpec{sources: []format.Source{{Name: "syscalls:sys_exit_openat", Kind: format.KindTracepoint, Format: sw}},
		flushAfter: map[int]bool{}}
	times := []uint64{30, 10, 20, 40, 60, 50, 15, 70, 80, 90, 110, 100}
	for i, ts := range times {
		spec.samples = append(spec.samples, format.Sample{Time: ts, PID: 1, TID: 1, Raw: payload(t, sw, map[string]any{"ret": int(ts)}, 0)})
		spec.flushAfter[i] = i%3 == 2
	}
	p := filepath.Join(t.TempDir(), "overlap.kpcap")
	writeTrace(t, p, spec)
	sawUnordered := false
	for _, bs := range []int{1, 2, 3, 4, 6, 100} {
		r, err := Open(p, Options{BatchSize: bs, Workers: 2})
		if err != nil {
			t.Fatal(err)
		}
		spans := make([]frameSpan, len(r.File().Frames))
		for i, fi := range r.File().Frames {
			spans[i] = frameSpan{MinTS: fi.FirstNS, MaxTS: fi.LastNS, Rows: int(fi.Samples)}
		}
		first, ordered := r.mergeOrder(spans)
		var got []uint64
		for r.Next() {
			ts := col(t, r.Record(), ColTS).(*array.Uint64)
			for i := 0; i < ts.Len(); i++ {
				got = append(got, ts.Value(i))
			}
		}
		r.Close()
		sorted := true
		for i := 1; i < len(got); i++ {
			sorted = sorted && got[i] >= got[i-1]
		}
		if len(got) != len(times) || got[0] != first || sorted != ordered {
			t.Errorf("batch size %d: mergeOrder says first %d, ordered %v; Next returned %v", bs, first, ordered, got)
		}
		sawUnordered = sawUnordered || !sorted
	}
	if !sawUnordered {
		t.Error("no batch size made Next return rows out of order: the prediction of disorder went untested")
	}
}
