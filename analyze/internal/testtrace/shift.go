package testtrace

import (
	"cmp"
	"math"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/kpcap/kpcap/format"
)

// RewriteOptions change a trace as RewriteShifted copies it.
type RewriteOptions struct {
	Host, Kernel string
	// Scale stretches every time offset from the first sample (a slower
	// or faster host: durations and gaps scale, rates scale inversely);
	// 0 means 1.
	Scale float64
	// Shift is added to the duration of every pair that ends in a source
	// ShiftReturn accepts (the regression to find).
	Shift       uint64
	ShiftReturn func(source string) bool
}

// isEntry and isReturn tell a pair's ends apart: kprobe/uprobe and their
// return probes, and syscalls:sys_enter_X / sys_exit_X tracepoints.
func isEntry(s format.Source) bool {
	return s.Kind == format.KindKprobe || s.Kind == format.KindUprobe || strings.Contains(s.Name, ":sys_enter_")
}

func isReturn(s format.Source) bool {
	return s.Kind.IsReturn() || strings.Contains(s.Name, ":sys_exit_")
}

// RewriteShifted copies the trace src to dst as if recorded on another
// host: host and kernel names replaced, times scaled by o.Scale, and the
// pairs ending in a shifted return o.Shift ns longer. A shift delays the
// thread's later events too until idle time (no pair open on the thread)
// absorbs it, so that every other pair keeps its duration, the thread's
// order stays and rates barely move.
func RewriteShifted(t testing.TB, src, dst string, o RewriteOptions) {
	t.Helper()
	f, err := format.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := f.Header
	if o.Host != "" {
		h.Host.Hostname = o.Host
	}
	if o.Kernel != "" {
		h.Host.Kernel = o.Kernel
	}
	if o.Scale == 0 {
		o.Scale = 1
	}
	ss := readSamples(t, f)
	var t0 uint64
	if len(ss) > 0 {
		t0 = ss[0].Time
		for _, s := range ss {
			t0 = min(t0, s.Time)
		}
	}
	scale := func(ts uint64) uint64 {
		if ts < t0 {
			return ts
		}
		return t0 + uint64(math.Round(float64(ts-t0)*o.Scale))
	}
	shiftTimes(ss, h.Sources, scale, o)
	// Written in time order, as the recorder merges its CPUs.
	slices.SortStableFunc(ss, func(a, b format.Sample) int { return cmp.Compare(a.Time, b.Time) })
	writeShifted(t, dst, f, &h, ss, scale)
}

// readSamples reads every sample of f, copied.
func readSamples(t testing.TB, f *format.File) []format.Sample {
	t.Helper()
	var ss []format.Sample
	it := f.Samples()
	for it.Next() {
		s := *it.Sample()
		s.Raw = slices.Clone(s.Raw)
		s.Callchain = slices.Clone(s.Callchain)
		ss = append(ss, s)
	}
	if err := it.Err(); err != nil {
		t.Fatal(err)
	}
	return ss
}

// shiftTimes scales the samples' times and delays each thread's events
// after a shifted return until idle time absorbs the shift.
func shiftTimes(ss []format.Sample, srcs []format.Source, scale func(uint64) uint64, o RewriteOptions) {
	type thread struct {
		prev   uint64 // scaled time of the thread's previous sample
		seen   bool
		open   int
		offset uint64
	}
	threads := map[uint32]*thread{}
	for i := range ss {
		s := &ss[i]
		ts := scale(s.Time)
		th := threads[s.TID]
		if th == nil {
			th = &thread{}
			threads[s.TID] = th
		}
		if th.seen && th.open == 0 && th.offset > 0 && ts > th.prev+1 {
			th.offset -= min(th.offset, ts-th.prev-1)
		}
		th.prev, th.seen = ts, true
		var src format.Source
		if int(s.Source) < len(srcs) {
			src = srcs[s.Source]
		}
		switch {
		case isEntry(src):
			th.open++
		case isReturn(src):
			th.open = max(th.open-1, 0)
			if o.ShiftReturn != nil && o.ShiftReturn(src.Name) {
				th.offset += o.Shift
			}
		}
		s.Time = ts + th.offset
	}
}

// writeShifted writes h, f's metadata at scaled times and ss to dst.
func writeShifted(t testing.TB, dst string, f *format.File, h *format.Header, ss []format.Sample, scale func(uint64) uint64) {
	t.Helper()
	out, err := os.Create(dst)
	if err != nil {
		t.Fatal(err)
	}
	w, err := format.NewWriter(out, h, &format.WriterOptions{FrameBytes: 256 << 10})
	if err != nil {
		t.Fatal(err)
	}
	w.AddSymbols(f.Symbols)
	w.AddUserFrames(f.UserFrames)
	for _, c := range f.Comms {
		c.Time = scale(c.Time)
		w.AddComm(c)
	}
	for _, l := range f.Lost {
		l.Time = scale(l.Time)
		w.AddLost(l)
	}
	for i := range ss {
		if err := w.WriteSample(&ss[i]); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(f.Stats); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}
