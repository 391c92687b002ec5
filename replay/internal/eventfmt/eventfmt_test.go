package eventfmt

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func load(t testing.TB, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "testdata", "formats", name+".format"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestParseReal(t *testing.T) {
	type want struct {
		name           string
		kind           Kind
		off, size      int
		signed, common bool
		hex, symbol    bool
		text           bool
		typ            string
	}
	cases := []struct {
		file   string
		event  string
		id     int
		fields []want
	}{
		{"sys_enter_openat", "sys_enter_openat", 782, []want{
			{name: "common_type", kind: KindInt, off: 0, size: 2, common: true, typ: "unsigned short"},
			{name: "common_pid", kind: KindInt, off: 4, size: 4, signed: true, common: true, typ: "int"},
			{name: "__syscall_nr", kind: KindInt, off: 8, size: 4, signed: true, typ: "int"},
			{name: "dfd", kind: KindInt, off: 16, size: 8, hex: true, typ: "int"},
			{name: "filename", kind: KindInt, off: 24, size: 8, hex: true, typ: "const char *"},
			{name: "mode", kind: KindInt, off: 40, size: 8, hex: true, typ: "umode_t"},
		}},
		{"sched_process_exec", "sched_process_exec", 365, []want{
			{name: "filename", kind: KindDataLoc, off: 8, size: 4, text: true, typ: "__data_loc char[]"},
			{name: "old_pid", kind: KindInt, off: 16, size: 4, signed: true, typ: "pid_t"},
		}},
		{"sched_switch", "sched_switch", 372, []want{
			{name: "prev_comm", kind: KindString, off: 8, size: 16, typ: "char[16]"},
			{name: "prev_state", kind: KindInt, off: 32, size: 8, signed: true, typ: "long"},
			{name: "next_prio", kind: KindInt, off: 60, size: 4, signed: true, typ: "int"},
		}},
		{"kprobe_open", "open", 2001, []want{
			{name: "__probe_ip", kind: KindInt, off: 8, size: 8, hex: true, typ: "unsigned long"},
			{name: "dfd", kind: KindInt, off: 16, size: 4, signed: true, typ: "s32"},
			{name: "filename", kind: KindDataLoc, off: 20, size: 4, signed: true, text: true, typ: "__data_loc char[]"},
			{name: "flags", kind: KindInt, off: 24, size: 8, hex: true, typ: "u64"},
			{name: "caller", kind: KindInt, off: 32, size: 8, symbol: true, typ: "u64"},
		}},
		{"kretprobe_open", "open_ret", 2002, []want{
			{name: "__probe_func", kind: KindInt, off: 8, size: 8, hex: true, typ: "unsigned long"},
			{name: "__probe_ret_ip", kind: KindInt, off: 16, size: 8, hex: true, typ: "unsigned long"},
			{name: "ret", kind: KindInt, off: 24, size: 8, signed: true, typ: "s64"},
		}},
		{"dma_alloc_sgt", "dma_alloc_sgt", 435, []want{
			{name: "device", kind: KindDataLoc, off: 8, size: 4, text: true, typ: "__data_loc char[]"},
			{name: "phys_addrs", kind: KindDataLoc, off: 12, size: 4, typ: "__data_loc u64[]"},
			{name: "dma_addr", kind: KindInt, off: 16, size: 8, hex: true, typ: "u64"},
			{name: "dir", kind: KindInt, off: 32, size: 4, typ: "enum dma_data_direction"},
		}},
	}
	for _, c := range cases {
		ev, err := Parse(load(t, c.file))
		if err != nil {
			t.Fatalf("%s: %v", c.file, err)
		}
		if ev.Name != c.event || ev.ID != c.id {
			t.Errorf("%s: name %q id %d", c.file, ev.Name, ev.ID)
		}
		for _, w := range c.fields {
			f := ev.Field(w.name)
			if f == nil {
				t.Errorf("%s: no field %s", c.file, w.name)
				continue
			}
			got := want{f.Name, f.Kind, f.Offset, f.Size, f.Signed, f.Common, f.Hex, f.Symbol, f.Text, f.Type}
			if got != w {
				t.Errorf("%s.%s: %+v, want %+v", c.file, w.name, got, w)
			}
		}
	}
}

func TestParseSynthetic(t *testing.T) {
	text := "name: x\nID: 1\nformat:\n" +
		"\tfield:__rel_loc char[] path;\toffset:8;\tsize:4;\tsigned:0;\n" +
		"\tfield:u8 uuid[16];\toffset:12;\tsize:16;\tsigned:0;\n" +
		"\tfield:u32 arr[4];\toffset:28;\tsize:16;\tsigned:0;\n" +
		"\tfield:bool ok;\toffset:44;\tsize:1;\tsigned:0;\n" +
		"\tfield:__int128 big;\toffset:48;\tsize:16;\tsigned:1;\n" +
		"\nprint fmt: \"%s %d\", __get_str(path), REC->ok\n"
	ev, err := Parse(text)
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]Kind{"path": KindRelLoc, "uuid": KindBytes, "arr": KindBytes, "ok": KindInt, "big": KindBytes}
	for n, k := range kinds {
		if f := ev.Field(n); f == nil || f.Kind != k {
			t.Errorf("%s: %+v, want kind %d", n, f, k)
		}
	}
	if f := ev.Field("path"); !f.Text {
		t.Errorf("rel_loc char[] not text")
	}
	bad := []string{
		"format:\n\tfield:int x;\toffset:abc;\tsize:4;\tsigned:1;\n",
		"format:\n\tfield:int x;\toffset:0;\tsigned:1;\n",
		"format:\n\tfield:int ;\toffset:0;\tsize:4;\tsigned:1;\n",
		"format:\n\tfield:int x;\toffset:65535;\tsize:4;\tsigned:1;\n",
		"format:\n\tfield:__data_loc char[] s;\toffset:0;\tsize:8;\tsigned:1;\n",
		"format:\n\tfield:int x;\toffset:0;\tsize:4;\tsigned:1;\n\tfield:int x;\toffset:4;\tsize:4;\tsigned:1;\n",
		"name: nothing\n",
	}
	for _, b := range bad {
		if _, err := Parse(b); err == nil {
			t.Errorf("no error for %q", b)
		}
	}
}

func TestPrintFmt(t *testing.T) {
	verbs, args, ok := splitPrintFmt(`"a=%d b=0x%08lx c=%pS d=%% e=\"%s\" f=%*d", REC->a, ((unsigned long)(REC->b)), REC->c, __get_str(e), 4, REC->f`)
	if !ok || strings.Join(verbs, ",") != "d,x,pS,s,*,d" || len(args) != 6 {
		t.Errorf("verbs %q args %q", verbs, args)
	}
	for in, want := range map[string]string{"REC->a": "a", "((unsigned long)(REC->b))": "b", "REC->a + 1": "", "REC->a ? 1 : 2": "", "__get_str(x)": ""} {
		if got := recField(in); got != want {
			t.Errorf("recField(%q) = %q, want %q", in, got, want)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, n := range []string{"sys_enter_openat", "sched_process_exec", "sched_switch", "kprobe_open", "kretprobe_open", "dma_alloc_sgt"} {
		f.Add(load(f, n))
	}
	f.Add("format:\n\tfield:char x[;\toffset:0;\tsize:4;\tsigned:1;\nprint fmt: \"%")
	f.Fuzz(func(t *testing.T, s string) {
		ev, err := Parse(s)
		if err != nil {
			return
		}
		for _, fl := range ev.Fields {
			if fl.Offset < 0 || fl.Size < 0 || fl.Offset+fl.Size > MaxRecord || fl.Name == "" {
				t.Fatalf("bad field %+v", fl)
			}
		}
	})
}
