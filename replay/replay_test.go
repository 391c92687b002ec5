package replay

import (
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/kpcap/kpcap/format"
)

const (
	ctxKernel = ^uint64(128) + 1
	ctxUser   = ^uint64(512) + 1
)

// goldenSpec is a small trace with every kind of field: tracepoints with plain
// ints and pointers (sys_enter_openat), __data_loc strings (sched_process_exec),
// char arrays (sched_switch), a kprobe with string/x64/symbol fetchargs and a
// callchain, and a kretprobe.
func goldenSpec(t testing.TB) traceSpec {
	enter := loadFormat(t, "sys_enter_openat")
	exit := loadFormat(t, "sys_exit_openat")
	exec := loadFormat(t, "sched_process_exec")
	sw := loadFormat(t, "sched_switch")
	kp := loadFormat(t, "kprobe_open")
	kr := loadFormat(t, "kretprobe_open")
	return traceSpec{
		sources: []format.Source{
			{Name: "syscalls:sys_enter_openat", Kind: format.KindTracepoint, Format: enter},
			{Name: "syscalls:sys_exit_openat", Kind: format.KindTracepoint, Format: exit},
			{Name: "sched:sched_process_exec", Kind: format.KindTracepoint, Format: exec},
			{Name: "sched:sched_switch", Kind: format.KindTracepoint, Format: sw},
			{Name: "kpcap:open", Kind: format.KindKprobe, Target: "do_sys_openat2", Format: kp},
			{Name: "kpcap:open_ret", Kind: format.KindKretprobe, Target: "do_sys_openat2", Format: kr},
		},
		syms: []format.Symbol{
			{Addr: 0xffffffff81400000, Size: 0x170, Name: "do_sys_openat2"},
			{Addr: 0xffffffff81400200, Size: 0x60, Name: "__x64_sys_openat"},
			{Addr: 0xffffffff81e00000, Size: 0x100, Name: "do_syscall_64"},
			{Addr: 0xffffffffc0100000, Size: 0x80, Name: "ext4_file_open", Module: "ext4"},
		},
		users: []format.UserFrame{
			{PID: 100, Addr: 0x7f0000001234, Name: "__libc_open64", Offset: 0x34, Object: "/usr/lib/x86_64-linux-gnu/libc.so.6"},
		},
		comms: []format.Comm{
			{PID: 100, TID: 100, Time: 0, Comm: "bash"},
			{PID: 100, TID: 100, Time: 1_500_000_000, Comm: "cat"},
		},
		samples: []format.Sample{
			{Source: 0, Time: 1_000_000_000, CPU: 0, PID: 100, TID: 100, Raw: payload(t, enter, map[string]any{
				"common_pid": 100, "__syscall_nr": 257, "dfd": -100, "filename": 0x7ffd1000, "flags": 0x80000, "mode": 0}, 4)},
			{Source: 4, Time: 1_000_001_000, CPU: 0, PID: 100, TID: 100, Raw: payload(t, kp, map[string]any{
				"common_pid": 100, "__probe_ip": uint64(0xffffffff81400000), "dfd": -100, "filename": "/etc/ld.so.cache",
				"flags": 0x80000, "caller": uint64(0xffffffff81400210)}, 3),
				Callchain: []uint64{ctxKernel, 0xffffffff81400000, 0xffffffff81400210, 0xffffffff81e00050, ctxUser, 0x7f0000001234, 0x401000}},
			{Source: 5, Time: 1_000_002_000, CPU: 0, PID: 100, TID: 100, Raw: payload(t, kr, map[string]any{
				"common_pid": 100, "__probe_func": uint64(0xffffffff81400000), "__probe_ret_ip": uint64(0xffffffff81400230), "ret": 3}, 0)},
			{Source: 1, Time: 1_000_003_000, CPU: 0, PID: 100, TID: 100, Raw: payload(t, exit, map[string]any{
				"common_pid": 100, "__syscall_nr": 257, "ret": 3}, 0)},
			{Source: 2, Time: 1_500_000_000, CPU: 0, PID: 100, TID: 100, Raw: payload(t, exec, map[string]any{
				"common_pid": 100, "filename": "/usr/bin/cat", "pid": 100, "old_pid": 100}, 7)},
			{Source: 3, Time: 2_000_000_000, CPU: 1, PID: 0, TID: 0, Raw: payload(t, sw, map[string]any{
				"prev_comm": "swapper/1", "prev_pid": 0, "prev_prio": 120, "prev_state": 0,
				"next_comm": "cat", "next_pid": 100, "next_prio": 120}, 0)},
		},
	}
}

func goldenTrace(t testing.TB) string {
	p := filepath.Join(t.TempDir(), "golden.kpcap")
	writeTrace(t, p, goldenSpec(t))
	return p
}

func TestTextGolden(t *testing.T) {
	p := goldenTrace(t)
	got, r := readAllText(t, p, Options{}, false)
	want := strings.Join([]string{
		"            bash-100     [000]     1.000000: sys_enter_openat: __syscall_nr=257 dfd=0xffffffffffffff9c filename=0x7ffd1000 flags=0x80000 mode=0x0",
		`            bash-100     [000]     1.000001: open: (do_sys_openat2+0x0/0x170) dfd=-100 filename="/etc/ld.so.cache" flags=0x80000 caller=__x64_sys_openat+0x10/0x60`,
		"            bash-100     [000]     1.000002: open_ret: (__x64_sys_openat+0x30/0x60 <- do_sys_openat2) ret=3",
		"            bash-100     [000]     1.000003: sys_exit_openat: __syscall_nr=257 ret=0x3", // the print fmt says 0x%lx
		"             cat-100     [000]     1.500000: sched_process_exec: filename=/usr/bin/cat pid=100 old_pid=100",
		"       swapper/1-0       [001]     2.000000: sched_switch: prev_comm=swapper/1 prev_pid=0 prev_prio=120 prev_state=0 next_comm=cat next_pid=100 next_prio=120",
	}, "\n") + "\n"
	if got != want {
		t.Errorf("text output:\n%s\nwant:\n%s", got, want)
	}
	if w := r.Warnings(); len(w) != 0 {
		t.Errorf("warnings: %v", w)
	}
}

func TestJSONGolden(t *testing.T) {
	p := goldenTrace(t)
	got, _ := readAllText(t, p, Options{}, true)
	lines := strings.Split(strings.TrimSpace(got), "\n")
	if len(lines) != 6 {
		t.Fatalf("%d lines, want 6:\n%s", len(lines), got)
	}
	var objs []map[string]any
	for _, l := range lines {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("bad JSON %q: %v", l, err)
		}
		objs = append(objs, m)
	}
	checks := []struct {
		line  int
		key   string
		value any
	}{
		{0, "ts", 1e9}, {0, "probe", "syscalls:sys_enter_openat"}, {0, "comm", "bash"}, {0, "flags", float64(0x80000)},
		{1, "filename", "/etc/ld.so.cache"}, {1, "dfd", -100.0}, {1, "caller", "18446744071583040016"}, // above 2^53-1: a string
		{0, "dfd", "18446744073709551516"}, // -100 in an unsigned long
		{2, "ret", 3.0}, {4, "comm", "cat"}, {4, "filename", "/usr/bin/cat"}, {4, "pid", 100.0}, {4, "sched:sched_process_exec.pid", 100.0},
		{5, "comm", "swapper/1"}, {5, "next_comm", "cat"}, {5, "cpu", 1.0}, {5, "prev_comm", "swapper/1"},
	}
	for _, c := range checks {
		if v := objs[c.line][c.key]; v != c.value {
			t.Errorf("line %d %s = %#v, want %#v", c.line, c.key, v, c.value)
		}
	}
	stack, _ := objs[1]["stack"].([]any)
	wantStack := []any{"do_sys_openat2", "__x64_sys_openat", "do_syscall_64", "__libc_open64", "[unknown]"}
	if len(stack) != len(wantStack) {
		t.Fatalf("stack %v, want %v", stack, wantStack)
	}
	for i := range stack {
		if stack[i] != wantStack[i] {
			t.Errorf("stack[%d] = %v, want %v", i, stack[i], wantStack[i])
		}
	}
	if _, ok := objs[0]["stack"]; ok {
		t.Errorf("line 0 has a stack but no callchain")
	}
}

// col returns column name of rec, failing if absent.
func col(t testing.TB, rec arrow.Record, name string) arrow.Array {
	t.Helper()
	idx := rec.Schema().FieldIndices(name)
	if len(idx) != 1 {
		t.Fatalf("no column %q in %v", name, rec.Schema())
	}
	return rec.Column(idx[0])
}

func TestArrowColumns(t *testing.T) {
	p := goldenTrace(t)
	r, err := Open(p, Options{BatchSize: 4})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var recs []arrow.Record
	for r.Next() {
		rec := r.Record()
		rec.Retain()
		defer rec.Release()
		recs = append(recs, rec)
	}
	if err := r.Err(); err != nil {
		t.Fatal(err)
	}
	if len(recs) != 2 || recs[0].NumRows() != 4 || recs[1].NumRows() != 2 {
		t.Fatalf("batches: %d", len(recs))
	}
	wantTypes := map[string]arrow.DataType{
		"ts": arrow.PrimitiveTypes.Uint64, "stack_id": arrow.PrimitiveTypes.Int64,
		"flags":                             arrow.PrimitiveTypes.Uint64, // same type in sys_enter_openat and the kprobe: shared
		"kpcap:open.dfd":                    arrow.PrimitiveTypes.Int32,
		"syscalls:sys_enter_openat.dfd":     arrow.PrimitiveTypes.Uint64,
		"kpcap:open.filename":               arrow.BinaryTypes.String,
		"sched:sched_process_exec.pid":      arrow.PrimitiveTypes.Int32, // clashes with the common pid column
		"prev_comm":                         arrow.BinaryTypes.String,
		"prev_state":                        arrow.PrimitiveTypes.Int64,
		"ret":                               arrow.PrimitiveTypes.Int64,
		"__probe_ip":                        arrow.PrimitiveTypes.Uint64,
		"caller":                            arrow.PrimitiveTypes.Uint64,
		"sched:sched_process_exec.filename": arrow.BinaryTypes.String,
	}
	for name, typ := range wantTypes {
		if c := col(t, recs[0], name); !arrow.TypeEqual(c.DataType(), typ) {
			t.Errorf("column %s: %v, want %v", name, c.DataType(), typ)
		}
	}
	b0 := recs[0]
	flags := col(t, b0, "flags").(*array.Uint64)
	if flags.Value(0) != 0x80000 || flags.Value(1) != 0x80000 || !flags.IsNull(2) || !flags.IsNull(3) {
		t.Errorf("flags: %v", flags)
	}
	fn := col(t, b0, "kpcap:open.filename").(*array.String)
	if fn.Value(1) != "/etc/ld.so.cache" || !fn.IsNull(0) {
		t.Errorf("kprobe filename: %v", fn)
	}
	dfd := col(t, b0, "kpcap:open.dfd").(*array.Int32)
	if dfd.Value(1) != -100 {
		t.Errorf("dfd %v", dfd)
	}
	ret := col(t, b0, "ret").(*array.Int64)
	if ret.Value(2) != 3 || ret.Value(3) != 3 || ret.NullN() != 2 {
		t.Errorf("ret %v", ret)
	}
	probe := col(t, b0, "probe").(*array.Dictionary)
	if got := probe.Indices().(*array.Int32).Value(1); got != 4 {
		t.Errorf("probe index %d, want source 4", got)
	}
	sid := col(t, b0, "stack_id").(*array.Int64)
	if sid.IsNull(1) || !sid.IsNull(0) {
		t.Fatalf("stack_id %v", sid)
	}
	frames := r.Stack(sid.Value(1))
	want := []Frame{
		{Addr: 0xffffffff81400000, Name: "do_sys_openat2", Kernel: true},
		{Addr: 0xffffffff81400210, Name: "__x64_sys_openat", Offset: 0x10, Kernel: true},
		{Addr: 0xffffffff81e00050, Name: "do_syscall_64", Offset: 0x50, Kernel: true},
		{Addr: 0x7f0000001234, Name: "__libc_open64", Offset: 0x34, Module: "/usr/lib/x86_64-linux-gnu/libc.so.6"},
		{Addr: 0x401000, Name: "[unknown]"},
	}
	if len(frames) != len(want) {
		t.Fatalf("frames %+v", frames)
	}
	for i := range want {
		if frames[i] != want[i] {
			t.Errorf("frame %d: %+v, want %+v", i, frames[i], want[i])
		}
	}
	b1 := recs[1]
	exe := col(t, b1, "sched:sched_process_exec.filename").(*array.String)
	if exe.Value(0) != "/usr/bin/cat" {
		t.Errorf("exec filename %q", exe.Value(0))
	}
	next := col(t, b1, "next_comm").(*array.String)
	if next.Value(1) != "cat" {
		t.Errorf("next_comm %q", next.Value(1))
	}
	comm := col(t, b1, "comm").(*array.Dictionary)
	dict := comm.Dictionary().(*array.String)
	if comm.IsNull(1) || comm.IsNull(0) || dict.Value(comm.GetValueIndex(1)) != "swapper/1" {
		t.Errorf("comm of the idle task on CPU 1 (pid 0): %v", comm)
	}
	st := r.StacksRecord()
	defer st.Release()
	if st.NumRows() != 5 {
		t.Errorf("stacks table: %d rows", st.NumRows())
	}
}

func TestProbeAndFilter(t *testing.T) {
	p := goldenTrace(t)
	cases := []struct {
		opts  Options
		lines int
		cols  int // event-field columns, -1 = don't check
		err   string
	}{
		{Options{Probes: []string{"kpcap:*"}}, 2, -1, ""},
		{Options{Probes: []string{"sched_switch"}}, 1, 7, ""},
		{Options{Probes: []string{"nope"}}, 0, -1, "no source matches"},
		{Options{Filter: `common_pid == 100`}, 5, -1, ""},
		{Options{Filter: `ret >= 3`}, 2, -1, ""},
		{Options{Filter: `filename ~ "/etc/*"`}, 1, -1, ""},
		{Options{Filter: `comm == "cat" || cpu == 1`}, 2, -1, ""},
		{Options{Filter: `!(comm == bash) && next_prio < 0x100`}, 1, -1, ""},
		{Options{Filter: `flags & 0x80000 && dfd == -100`}, 2, -1, ""}, // -100 matches the s32 and, as two's complement, the u64 dfd
		{Options{Filter: `flags & 0x80000 && dfd < 0`}, 1, -1, ""},     // only the s32 dfd is negative
		{Options{Filter: `nosuchfield == 1`}, 0, -1, "no selected source has"},
		{Options{Filter: `prev_comm < 1 || next_pid == 100`}, 0, -1, "is a string"},
		{Options{Filter: `prev_comm == 1`}, 0, -1, ""}, // compared as the string "1"
		{Options{Filter: `prev_comm ~ "swapper*"`}, 1, -1, ""},
		{Options{Filter: `ret >`}, 0, -1, "want a number or a string"},
		{Options{Filter: `filename < 0x7ffd1001`}, 1, -1, ""}, // the tracepoint's pointer; a string in the other sources
		{Options{Since: 1_000_002_000, Until: 1_500_000_001}, 3, -1, ""},
	}
	for _, c := range cases {
		r, err := Open(p, c.opts)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%+v: err %v, want %q", c.opts, err, c.err)
			}
			if r != nil {
				r.Close()
			}
			continue
		}
		if err != nil {
			t.Errorf("%+v: %v", c.opts, err)
			continue
		}
		if c.cols >= 0 && len(r.Schema().Fields())-numCommon != c.cols {
			t.Errorf("%+v: schema %v", c.opts, r.Schema())
		}
		var sb stringsBuilder
		n, err := WriteText(r, &sb)
		r.Close()
		if err != nil {
			t.Fatal(err)
		}
		if int(n) != c.lines || strings.Count(sb.String(), "\n") != c.lines {
			t.Errorf("%+v: %d events, want %d:\n%s", c.opts, n, c.lines, sb.String())
		}
	}
}

func TestTimeOrder(t *testing.T) {
	// Frames out of order with each other and samples out of order within a
	// frame still come out sorted.
	sw := loadFormat(t, "sys_exit_openat")
	spec := traceSpec{sources: []format.Source{{Name: "syscalls:sys_exit_openat", Kind: format.KindTracepoint, Format: sw}},
		flushAfter: map[int]bool{}}
	times := []uint64{50, 10, 40, 30, 20, 60, 35, 70, 80, 5}
	for i, ts := range times {
		spec.samples = append(spec.samples, format.Sample{Time: ts, CPU: uint32(i % 2), PID: 1, TID: 1,
			Raw: payload(t, sw, map[string]any{"ret": int(ts)}, 0)})
		if i%3 == 2 {
			spec.flushAfter[i] = true
		}
	}
	p := filepath.Join(t.TempDir(), "order.kpcap")
	writeTrace(t, p, spec)
	for _, o := range []Options{{Workers: 1, BatchSize: 3}, {Workers: 3, BatchSize: 3}, {Workers: 2, BatchSize: 100}} {
		workers := o.Workers
		r, err := Open(p, o)
		if err != nil {
			t.Fatal(err)
		}
		var got []uint64
		batches := 0
		for r.Next() {
			batches++
			rec := r.Record()
			ts := rec.Column(0).(*array.Uint64)
			ret := col(t, rec, "ret").(*array.Int64)
			for i := 0; i < ts.Len(); i++ {
				if uint64(ret.Value(i)) != ts.Value(i) {
					t.Errorf("row moved without its fields: ts %d ret %d", ts.Value(i), ret.Value(i))
				}
				got = append(got, ts.Value(i))
			}
		}
		r.Close()
		if len(got) != len(times) {
			t.Fatalf("workers %d: %d rows", workers, len(got))
		}
		if o.BatchSize == 100 && batches != 1 {
			t.Errorf("small frames not coalesced: %d batches", batches)
		}
		for i := 1; i < len(got); i++ {
			if got[i] < got[i-1] {
				t.Errorf("workers %d: out of order: %v", workers, got)
				break
			}
		}
	}
}

func TestHostilePayloads(t *testing.T) {
	exec := loadFormat(t, "sched_process_exec")
	good := payload(t, exec, map[string]any{"filename": "/bin/true", "pid": 7, "old_pid": 7}, 0)
	badLoc := append([]byte(nil), good...)
	badLoc[8], badLoc[9], badLoc[10], badLoc[11] = 0xf0, 0xff, 0x40, 0 // offset 0xfff0, len 0x40
	short := good[:14]                                                 // pid cut in half, old_pid gone
	spec := traceSpec{sources: []format.Source{{Name: "sched:sched_process_exec", Kind: format.KindTracepoint, Format: exec}}}
	for i, raw := range [][]byte{good, badLoc, short, nil} {
		spec.samples = append(spec.samples, format.Sample{Time: uint64(i + 1), PID: 7, TID: 7, Raw: raw})
	}
	p := filepath.Join(t.TempDir(), "hostile.kpcap")
	writeTrace(t, p, spec)
	r, err := Open(p, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if !r.Next() {
		t.Fatal("no batch", r.Err())
	}
	rec := r.Record()
	fn := col(t, rec, "filename").(*array.String)
	pid := col(t, rec, "sched:sched_process_exec.pid").(*array.Int32)
	if rec.NumRows() != 4 || fn.Value(0) != "/bin/true" || !fn.IsNull(1) || !fn.IsNull(2) || !fn.IsNull(3) {
		t.Errorf("filename %v", fn)
	}
	if pid.Value(0) != 7 || pid.Value(1) != 7 || !pid.IsNull(2) || !pid.IsNull(3) {
		t.Errorf("pid %v", pid)
	}
	for r.Next() {
	}
	w := r.Warnings()
	if len(w) != 1 || !strings.Contains(w[0], "3 samples shorter") {
		t.Errorf("warnings %q", w)
	}
}

// TestSinceSkipsFrames checks that --since/--until skip whole frames by their
// time range and keep exactly the events inside it.
func TestSinceSkipsFrames(t *testing.T) {
	p := benchTrace(t, 200_000) // 100ns apart from 1s: 1.00s .. 1.02s
	f, err := format.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if len(f.Frames) < 3 {
		t.Fatalf("want several frames, got %d", len(f.Frames))
	}
	since, until := uint64(1e9+5_000_000), uint64(1e9+10_000_000)
	r, err := NewReader(f, Options{Since: since, Until: until})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if len(r.frames) >= len(f.Frames) {
		t.Errorf("decoding %d of %d frames: none skipped", len(r.frames), len(f.Frames))
	}
	var n int64
	for r.Next() {
		ts := r.Record().Column(0).(*array.Uint64)
		for i := 0; i < ts.Len(); i++ {
			if v := ts.Value(i); v < since || v >= until {
				t.Fatalf("ts %d outside [%d, %d)", v, since, until)
			}
		}
		n += int64(ts.Len())
	}
	if want := int64((until - since) / 100); n != want {
		t.Errorf("%d events, want %d", n, want)
	}
}

// TestCoalesceSmallFrames: time-sorted small frames (a quiet capture) come out
// as one full batch, not one tiny batch per frame.
func TestCoalesceSmallFrames(t *testing.T) {
	sw := loadFormat(t, "sys_exit_openat")
	spec := traceSpec{sources: []format.Source{{Name: "syscalls:sys_exit_openat", Kind: format.KindTracepoint, Format: sw}},
		flushAfter: map[int]bool{}}
	for i := 0; i < 10; i++ {
		spec.samples = append(spec.samples, format.Sample{Time: uint64(100 + i), PID: 1, TID: 1,
			Raw: payload(t, sw, map[string]any{"ret": i}, 0)})
		spec.flushAfter[i] = i%2 == 1
	}
	p := filepath.Join(t.TempDir(), "quiet.kpcap")
	writeTrace(t, p, spec)
	r, err := Open(p, Options{BatchSize: 100})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if n := len(r.File().Frames); n < 5 {
		t.Fatalf("%d frames, want 5", n)
	}
	batches := 0
	for r.Next() {
		batches++
		rec := r.Record()
		ret := col(t, rec, "ret").(*array.Int64)
		for i := 0; i < ret.Len(); i++ {
			if ret.Value(i) != int64(i) {
				t.Errorf("row %d: ret %d", i, ret.Value(i))
			}
		}
		if rec.NumRows() != 10 {
			t.Errorf("batch of %d rows, want 10", rec.NumRows())
		}
	}
	if batches != 1 {
		t.Errorf("%d batches, want 1", batches)
	}
}

// TestDamagedFiles: a truncated file and one with a corrupt frame replay what
// is readable, with warnings, and never fail as a whole.
func TestDamagedFiles(t *testing.T) {
	src := benchTrace(t, 200_000)
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	corrupt := append([]byte(nil), data...)
	copy(corrupt[len(data)/3:], []byte{0xde, 0xad, 0xbe, 0xef, 0xde, 0xad, 0xbe, 0xef})
	for name, b := range map[string][]byte{"truncated": data[:len(data)*2/3], "corrupt": corrupt} {
		p := filepath.Join(t.TempDir(), name+".kpcap")
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		r, err := Open(p, Options{})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		n, err := WriteText(r, io.Discard)
		if err != nil {
			t.Errorf("%s: %v", name, err)
		}
		warnings := append(r.File().Warnings, r.Warnings()...)
		r.Close()
		if n == 0 || n >= 200_000 || len(warnings) == 0 {
			t.Errorf("%s: %d events, warnings %q", name, n, warnings)
		}
	}
}

// TestCoalesceCopiesOnce reads 100 small in-order frames into one batch and
// checks that each row was copied once: copying the batch so far at every
// frame made traces of small frames 20x slower to read.
func TestCoalesceCopiesOnce(t *testing.T) {
	sw := loadFormat(t, "sys_exit_openat")
	spec := traceSpec{sources: []format.Source{{Name: "syscalls:sys_exit_openat", Kind: format.KindTracepoint, Format: sw}},
		flushAfter: map[int]bool{}}
	const n = 400
	// three kernel stacks, by i%3, so that rows of one frame share stacks
	// and each frame's stack table maps into the batch's
	chain := func(i int) []uint64 {
		return []uint64{ctxKernel, 0xffffffff81000000 + uint64(i%3)*0x100, 0xffffffff81800000}
	}
	for i := range n {
		spec.samples = append(spec.samples, format.Sample{Time: uint64(1000 + i), CPU: uint32(i % 2), PID: 1, TID: 1,
			Raw: payload(t, sw, map[string]any{"ret": i}, 0), Callchain: chain(i)})
		if i%4 == 3 {
			spec.flushAfter[i] = true
		}
	}
	p := filepath.Join(t.TempDir(), "small.kpcap")
	writeTrace(t, p, spec)
	r, err := Open(p, Options{Workers: 2, BatchSize: 1000})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	rows, batches := 0, 0
	for r.Next() {
		batches++
		rec := r.Record()
		ret := col(t, rec, "ret").(*array.Int64)
		stack := col(t, rec, ColStackID).(*array.Int64)
		for i := 0; i < ret.Len(); i++ {
			if int(ret.Value(i)) != rows {
				t.Fatalf("row %d holds ret %d", rows, ret.Value(i))
			}
			fr := r.Stack(stack.Value(i))
			if want := chain(rows)[1]; len(fr) != 2 || fr[0].Addr != want {
				t.Fatalf("row %d: stack %d is %+v, want it to start at %#x", rows, stack.Value(i), fr, want)
			}
			rows++
		}
	}
	if err := r.Err(); err != nil {
		t.Fatal(err)
	}
	copied := r.copiedRows.Load()
	if rows != n || batches != 1 || copied > n {
		t.Errorf("%d rows in %d batches, %d row copies; want %d rows in 1 batch, each copied at most once", rows, batches, copied, n)
	}
}
