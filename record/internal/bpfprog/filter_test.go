package bpfprog

import (
	"errors"
	"testing"
)

// switchFields are sched_switch's fields as its format gives them.
var switchFields = map[string]FilterField{
	"common_pid": {Off: 4, Size: 4, Signed: true},
	"prev_comm":  {Off: 8, Size: 16, Chars: true, Array: true},
	"prev_pid":   {Off: 24, Size: 4, Signed: true},
	"prev_state": {Off: 32, Size: 8, Signed: true},
	"prio8":      {Off: 40, Size: 1},
	"args":       {Off: 48, Size: 48, Array: true},
	"name":       {Off: 96, Size: 8, Array: true}, // const char *
}

// TestParseFilter checks which filters ParseFilter takes and how it reads
// numbers and patterns; the kernel comparison is record's
// TestBPFFilterMatchesPerf.
func TestParseFilter(t *testing.T) {
	for _, tc := range []struct {
		expr string
		val  uint64 // the first predicate's number
		str  string
		kind int
	}{
		{expr: "prev_pid == 42", val: 42},
		{expr: "prev_pid < 0x10 && prev_state & 2", val: 16},
		{expr: "prev_pid != 010", val: 8},
		{expr: "prev_pid == 0xffffffff", val: ^uint64(0)}, // truncated to s32, sign-extended
		{expr: "prio8 == 0x1ff", val: 0xff},
		{expr: "prev_pid == -1", val: ^uint64(0)},
		{expr: "prev_state > -0x10", val: ^uint64(15)},
		{expr: "prev_state == -0x8000000000000000", val: 1 << 63},
		{expr: "!(prev_pid == 1 || !(prev_state>=3)) && common_pid==7", val: 1},
		{expr: "CPU == 1 || cpu != 0", val: 1},
		{expr: "common_type == 372", val: 372},
		{expr: `prev_comm == "sshd"`, str: "sshd", kind: matchFull},
		{expr: `prev_comm != 'a b'`, str: "a b", kind: matchFull},
		{expr: `prev_comm ~ "ss*"`, str: "ss", kind: matchFront},
		{expr: `prev_comm ~ "*sh*"`, str: "sh", kind: matchMiddle},
		{expr: `prev_comm ~ "*sh"`, str: "sh", kind: matchEnd},
		{expr: `prev_comm ~ "!*sh"`, str: "sh", kind: matchEnd},
		{expr: `prev_comm ~ "!sshd"`, str: "sshd", kind: matchFull},
		{expr: `COMM == "bash" || comm ~ "*ss*"`, str: "bash", kind: matchFull},
	} {
		f, err := ParseFilter(tc.expr, switchFields, 372)
		if err != nil {
			t.Errorf("%s: %v", tc.expr, err)
			continue
		}
		n := f.root
		for n.op != 'p' {
			n = n.l
		}
		if p := n.pred; p.val != tc.val || p.str != tc.str || p.match != tc.kind {
			t.Errorf("%s: first predicate %+v, want val %#x str %q match %d", tc.expr, *p, tc.val, tc.str, tc.kind)
		}
	}
	for _, expr := range []string{
		"", "prev_pid", "prev_pid = 1", "prio8 == -1", "prev_pid == -", "prev_pid == 1x", "prev_pid == 08",
		"prev_pid == 000000000000000000000001", "prev_state == -0x8000000000000001",
		"prev_state == 0x8000000000000000", "prev_pid == 1 &", "(prev_pid == 1", "prev_pid == 1)",
		"prev_pid == 1 prev_pid == 2", `prev_comm == 5`, `prev_pid == "5"`, `prev_comm < "a"`,
		`prev_comm ~ "s*h"`, `prev_comm ~ "s*h*"`, `prev_comm ~ "*"`, `prev_comm ~ "s?"`, `prev_comm == "x`,
		"args == 1", `name == "x"`, "name == 1", "common_flags == 1", "comm == 1", "COMM & 1",
		"nosuch == 1", "prev_pid.function == 1", "CPU & 1", "prev_pid == CPUS{1}", "prev_pid !~ 1",
	} {
		if _, err := ParseFilter(expr, switchFields, 372); !errors.Is(err, ErrFilter) {
			t.Errorf("%q: %v, want ErrFilter", expr, err)
		}
	}
	if _, err := ParseFilter("common_type == 5", switchFields, -1); !errors.Is(err, ErrFilter) {
		t.Errorf("common_type of a PMU probe: %v, want ErrFilter", err)
	}
}

// FuzzParseFilter feeds ParseFilter arbitrary filters: it must not panic,
// and what it takes must generate code.
func FuzzParseFilter(f *testing.F) {
	for _, s := range []string{"prev_pid == 1 && !(prev_comm ~ \"*a*\" || CPU < 2)", "prev_state & 0x10", "(((prev_pid>=0)))"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, expr string) {
		flt, err := ParseFilter(expr, switchFields, 1)
		if err != nil {
			return
		}
		if len(flt.code(0, 0, "out")) == 0 {
			t.Fatalf("%q: no code", expr)
		}
	})
}
