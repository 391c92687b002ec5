package record

import (
	"slices"
	"strings"
	"testing"
)

const execFormat = `name: sched_process_exec
ID: 365
format:
	field:unsigned short common_type;	offset:0;	size:2;	signed:0;
	field:unsigned char common_flags;	offset:2;	size:1;	signed:0;
	field:unsigned char common_preempt_count;	offset:3;	size:1;	signed:0;
	field:int common_pid;	offset:4;	size:4;	signed:1;

	field:__data_loc char[] filename;	offset:8;	size:4;	signed:0;
	field:pid_t pid;	offset:12;	size:4;	signed:1;
	field:pid_t old_pid;	offset:16;	size:4;	signed:1;

print fmt: "filename=%s pid=%d old_pid=%d", __get_str(filename), REC->pid, REC->old_pid
`

func TestParseLayout(t *testing.T) {
	l, err := parseLayout(execFormat)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"common_type", "common_pid", "filename", "pid", "old_pid"} {
		if !l.fields[f] {
			t.Errorf("field %s missing", f)
		}
	}
	if l.fixed != 20 || len(l.locs) != 1 || l.locs[0].off != 8 {
		t.Errorf("layout %+v", l)
	}
	// payload: 20 fixed bytes, then "/bin/ls\0" (8 bytes) at 20, then 4 pad bytes
	raw := make([]byte, 32)
	raw[8], raw[10] = 20, 8 // offset 20, length 8
	if n := l.rawLen(raw); n != 28 {
		t.Errorf("rawLen %d, want 28", n)
	}
	// a hostile length is clamped to the payload
	raw[10] = 200
	if n := l.rawLen(raw); n != 32 {
		t.Errorf("rawLen of bad loc %d, want 32", n)
	}
	if n := l.rawLen(raw[:10]); n != 10 {
		t.Errorf("rawLen of short payload %d, want 10", n)
	}
}

func TestParseLayoutArrays(t *testing.T) {
	l, err := parseLayout("format:\n\tfield:char comm[16];\toffset:8;\tsize:16;\tsigned:0;\n\tfield:const char * name;\toffset:24;\tsize:8;\tsigned:0;\n\tfield:__rel_loc char[] s;\toffset:32;\tsize:4;\tsigned:0;\n")
	if err != nil {
		t.Fatal(err)
	}
	if !l.fields["comm"] || !l.fields["name"] || !l.fields["s"] || l.fixed != 36 || !l.locs[0].rel {
		t.Errorf("layout %+v", l)
	}
	raw := make([]byte, 48)
	raw[32], raw[34] = 4, 5 // rel: starts 4 after the field end (36) -> 40, 5 bytes -> 45
	if n := l.rawLen(raw); n != 45 {
		t.Errorf("rawLen %d, want 45", n)
	}
}

func TestParseLayoutErrors(t *testing.T) {
	for _, text := range []string{"", "name: x\n", "field:int x;\toffset:zz;\tsize:4;", "field:int x;\toffset:4;", "field:int x;\toffset:-1;\tsize:4;"} {
		if _, err := parseLayout(text); err == nil {
			t.Errorf("parseLayout(%q) succeeded", text)
		}
	}
}

func TestPMUFormat(t *testing.T) {
	common, end := commonPart(execFormat)
	if end != 8 || strings.Count(common, "common_") != 4 {
		t.Fatalf("common part %q end %d", common, end)
	}
	for _, ret := range []bool{false, true} {
		text := pmuFormat("probe/x", ret, common, end)
		l, err := parseLayout(text)
		if err != nil {
			t.Fatal(err)
		}
		want, fixed := []string{"__probe_ip"}, 16
		if ret {
			want, fixed = []string{"__probe_func", "__probe_ret_ip"}, 24
		}
		for _, f := range want {
			if !l.fields[f] {
				t.Errorf("ret=%v: field %s missing in\n%s", ret, f, text)
			}
		}
		if l.fixed != fixed {
			t.Errorf("ret=%v: fixed %d, want %d", ret, l.fixed, fixed)
		}
	}
}

func TestFilterFields(t *testing.T) {
	tests := []struct {
		expr string
		want []string
	}{
		{"common_pid == 42", []string{"common_pid"}},
		{`filename ~ "/etc/*" && ret < 0`, []string{"filename", "ret"}},
		{`(pid==1||comm=="bash") && flags & 1`, []string{"pid", "comm", "flags"}},
		{`name == "a == b"`, []string{"name"}},
		{"x!=y", []string{"x"}},
		{"", nil},
	}
	for _, tc := range tests {
		if got := filterFields(tc.expr); !slices.Equal(got, tc.want) {
			t.Errorf("filterFields(%q) = %v, want %v", tc.expr, got, tc.want)
		}
	}
	l, _ := parseLayout(execFormat)
	if !filterApplies([]string{"common_pid", "pid", "COMM"}, l) || filterApplies([]string{"ret"}, l) {
		t.Error("filterApplies wrong")
	}
}

func FuzzParseLayout(f *testing.F) {
	f.Add(execFormat, []byte("\x01\x00\x00\x00\x02\x00\x00\x00\x14\x00\x08\x00\x00\x00\x00\x00\x00\x00\x00\x00/bin/ls\x00"))
	f.Add("field:__rel_loc char[] s;\toffset:0;\tsize:4;", []byte{0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, text string, raw []byte) {
		l, err := parseLayout(text)
		if err != nil {
			return
		}
		if n := l.rawLen(raw); n < 0 || n > len(raw) {
			t.Fatalf("rawLen %d of %d bytes", n, len(raw))
		}
	})
}

func FuzzFilterFields(f *testing.F) {
	f.Add(`filename ~ "/etc/*" && ret < 0`)
	f.Add(`"unterminated`)
	f.Fuzz(func(t *testing.T, expr string) {
		for _, w := range filterFields(expr) {
			if !strings.Contains(expr, w) {
				t.Fatalf("field %q not in %q", w, expr)
			}
		}
	})
}
