package latency

import (
	"slices"
	"strings"
	"testing"

	"github.com/kpcap/kpcap/format"
)

func TestAutoRules(t *testing.T) {
	srcs := []format.Source{
		{Name: "kp:open", Kind: format.KindKprobe, Target: "do_sys_openat2"},
		{Name: "syscalls:sys_enter_read", Kind: format.KindTracepoint},
		{Name: "kp:open_ret", Kind: format.KindKretprobe, Target: "do_sys_openat2"},
		{Name: "kp:lonely", Kind: format.KindKprobe, Target: "vfs_read"},
		{Name: "syscalls:sys_exit_read", Kind: format.KindTracepoint},
		{Name: "up:main", Kind: format.KindUprobe, Target: "/bin/x:main"},
		{Name: "up:main_ret", Kind: format.KindUretprobe, Target: "/bin/x:main"},
		{Name: "kp:open2", Kind: format.KindKprobe, Target: "do_sys_openat2"}, // second entry: ignored
		{Name: "syscalls:sys_exit_write", Kind: format.KindTracepoint},        // no enter
		{Name: "sched:sched_switch", Kind: format.KindTracepoint},
	}
	r := AutoRules(srcs)
	if want := []string{"do_sys_openat2", "syscall:read", "/bin/x:main"}; !slices.Equal(r.Funcs, want) {
		t.Fatalf("Funcs = %q, want %q", r.Funcs, want)
	}
	wantRole := []Role{Entry, Entry, Exit, None, Exit, Entry, Exit, None, None, None}
	wantFunc := []int{0, 1, 0, -1, 1, 2, 2, -1, -1, -1}
	if !slices.Equal(r.Role, wantRole) || !slices.Equal(r.Func, wantFunc) {
		t.Fatalf("Role = %v Func = %v", r.Role, r.Func)
	}
}

type ev struct {
	tid  int32
	fn   int
	exit bool
	ts   uint64
}

func TestPairer(t *testing.T) {
	const A, B = 0, 1
	for _, tc := range []struct {
		name       string
		events     []ev
		durs       []uint64 // in completion order
		unmEntries []uint64 // per function, after Finish
		unmReturns []uint64
		openAtEnd  []uint64
	}{
		{"simple", []ev{{1, A, false, 10}, {1, A, true, 15}},
			[]uint64{5}, []uint64{0, 0}, []uint64{0, 0}, []uint64{0, 0}},
		{"nested", []ev{{1, A, false, 10}, {1, B, false, 12}, {1, B, true, 13}, {1, A, true, 20}},
			[]uint64{1, 10}, []uint64{0, 0}, []uint64{0, 0}, []uint64{0, 0}},
		{"recursion", []ev{{1, A, false, 0}, {1, A, false, 1}, {1, A, false, 3}, {1, A, true, 4}, {1, A, true, 8}, {1, A, true, 16}},
			[]uint64{1, 7, 16}, []uint64{0, 0}, []uint64{0, 0}, []uint64{0, 0}},
		{"threads interleaved", []ev{{1, A, false, 0}, {2, A, false, 1}, {1, A, true, 5}, {2, A, true, 11}},
			[]uint64{5, 10}, []uint64{0, 0}, []uint64{0, 0}, []uint64{0, 0}},
		{"lost inner return", []ev{{1, A, false, 0}, {1, B, false, 1}, {1, A, true, 9}},
			[]uint64{9}, []uint64{0, 1}, []uint64{0, 0}, []uint64{0, 0}},
		{"return without entry", []ev{{1, A, true, 3}, {1, A, false, 4}, {1, A, true, 6}, {1, B, true, 7}},
			[]uint64{2}, []uint64{0, 0}, []uint64{1, 1}, []uint64{0, 0}},
		{"open at end", []ev{{1, A, false, 3}, {2, B, false, 4}, {2, B, false, 5}, {2, B, true, 6}},
			[]uint64{1}, []uint64{1, 1}, []uint64{0, 0}, []uint64{1, 1}},
		{"return on other thread", []ev{{1, A, false, 0}, {2, A, true, 5}},
			nil, []uint64{1, 0}, []uint64{1, 0}, []uint64{1, 0}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := NewPairer(2)
			var durs []uint64
			for _, e := range tc.events {
				k := ThreadKey(e.tid, 0)
				if !e.exit {
					p.Entry(k, e.fn, e.ts, Payload{StackID: -1})
					continue
				}
				if pr, ok := p.Exit(k, e.fn, e.ts); ok {
					durs = append(durs, pr.Dur)
				}
			}
			p.Finish()
			if !slices.Equal(durs, tc.durs) {
				t.Errorf("durations %v, want %v", durs, tc.durs)
			}
			if !slices.Equal(p.UnmatchedEntries, tc.unmEntries) || !slices.Equal(p.UnmatchedReturns, tc.unmReturns) || !slices.Equal(p.OpenAtEnd, tc.openAtEnd) {
				t.Errorf("unmatched entries %v returns %v open %v, want %v %v %v",
					p.UnmatchedEntries, p.UnmatchedReturns, p.OpenAtEnd, tc.unmEntries, tc.unmReturns, tc.openAtEnd)
			}
		})
	}
}

func TestPairerPayloadAndIdle(t *testing.T) {
	p := NewPairer(1)
	// tid 0 on two CPUs are two different idle tasks.
	p.Entry(ThreadKey(0, 0), 0, 100, Payload{StackID: 7, Group: "cpu0"})
	p.Entry(ThreadKey(0, 1), 0, 110, Payload{StackID: 8, Group: "cpu1"})
	pr, ok := p.Exit(ThreadKey(0, 0), 0, 150)
	if !ok || pr.Dur != 50 || pr.StackID != 7 || pr.Group != "cpu0" || pr.Start != 100 {
		t.Fatalf("pair %+v ok=%v", pr, ok)
	}
	// Out-of-order return is counted, not paired.
	if _, ok := p.Exit(ThreadKey(0, 1), 0, 90); ok {
		t.Fatal("negative duration paired")
	}
	if p.UnmatchedEntries[0] != 1 || p.UnmatchedReturns[0] != 1 {
		t.Fatalf("counts %v %v", p.UnmatchedEntries, p.UnmatchedReturns)
	}
}

func TestPairerDepthLimit(t *testing.T) {
	p := NewPairer(1)
	k := Key{S: "req"}
	for i := range MaxDepth + 10 {
		p.Entry(k, 0, uint64(i), Payload{})
	}
	if p.UnmatchedEntries[0] != 10 {
		t.Fatalf("overflowed entries counted %d, want 10", p.UnmatchedEntries[0])
	}
	pr, ok := p.Exit(k, 0, 1<<20)
	if !ok || pr.Start != MaxDepth+9 {
		t.Fatalf("innermost pair %+v", pr)
	}
}

func BenchmarkPairer(b *testing.B) {
	p := NewPairer(1)
	for i := range b.N {
		k := ThreadKey(int32(i%64+1), 0)
		p.Entry(k, 0, uint64(i), Payload{})
		p.Exit(k, 0, uint64(i)+5)
	}
}

// TestAutoRulesUSDT pairs USDT entry/return markers by name, and only
// sources recorded from USDT definitions.
func TestAutoRulesUSDT(t *testing.T) {
	srcs := []format.Source{
		{Name: "python:function__entry", Kind: format.KindUprobe, Definition: "usdt:/usr/bin/python3.11:python:function__entry arg2:ustring"},
		{Name: "python:function__return", Kind: format.KindUprobe, Definition: "usdt:/usr/bin/python3.11:python:function__return"},
		{Name: "mysql:query__start", Kind: format.KindUprobe, Definition: "usdt:/usr/sbin/mysqld:query__start"},
		{Name: "mysql:query__done", Kind: format.KindUprobe, Definition: "usdt:/usr/sbin/mysqld:query__done"},
		{Name: "uprobes:x__entry", Kind: format.KindUprobe, Definition: "p:uprobes/x__entry /bin/x:0x10", Target: "/bin/x:0x10"},
		{Name: "uprobes:x__return", Kind: format.KindUprobe, Definition: "p:uprobes/x__return /bin/x:0x20", Target: "/bin/x:0x20"},
	}
	r := AutoRules(srcs)
	if strings.Join(r.Funcs, ",") != "usdt:python:function,usdt:mysql:query" {
		t.Fatalf("Funcs = %q", r.Funcs)
	}
	want := []Role{Entry, Exit, Entry, Exit, None, None}
	for i, w := range want {
		if r.Role[i] != w {
			t.Errorf("source %s: role %v, want %v", srcs[i].Name, r.Role[i], w)
		}
	}
}
