package replay

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/kpcap/kpcap/format"
)

// TestVarColumnSizing checks string columns whose values change length
// from frame to frame: each frame's value buffer is sized after the frames
// decoded before it and must grow, or stay small, without losing a byte.
func TestVarColumnSizing(t *testing.T) {
	exec := loadFormat(t, "sched_process_exec")
	enter := loadFormat(t, "sys_enter_openat")
	spec := traceSpec{
		sources: []format.Source{
			{Name: "sched:sched_process_exec", Kind: format.KindTracepoint, Format: exec},
			{Name: "syscalls:sys_enter_openat", Kind: format.KindTracepoint, Format: enter},
		},
		flushAfter: map[int]bool{},
	}
	// Frames of short names, then long ones, then frames where few rows
	// carry a name at all, then long again.
	lengths := []int{3, 3, 700, 2, 2000, 1}
	var want []string
	ts := uint64(1_000_000)
	for fi, n := range lengths {
		for i := range 300 {
			ts += 10
			if fi == 3 && i%50 != 0 { // mostly rows without the column
				spec.samples = append(spec.samples, format.Sample{Source: 1, Time: ts, PID: 7, TID: 7,
					Raw: payload(t, enter, map[string]any{"dfd": -100, "filename": 0x1000, "flags": 0}, 0)})
				continue
			}
			name := fmt.Sprintf("/%d/%d/%s", fi, i, strings.Repeat("x", n+i%5))
			want = append(want, name)
			spec.samples = append(spec.samples, format.Sample{Source: 0, Time: ts, PID: 7, TID: 7,
				Raw: payload(t, exec, map[string]any{"filename": name, "pid": 7, "old_pid": 7}, 0)})
		}
		spec.flushAfter[len(spec.samples)-1] = true
	}
	path := filepath.Join(t.TempDir(), "var.kpcap")
	writeTrace(t, path, spec)
	for _, workers := range []int{1, 3} {
		r, err := Open(path, Options{Workers: workers})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for r.Next() {
			rec := r.Record()
			c := col(t, rec, "sched:sched_process_exec.filename").(*array.String)
			for i := range c.Len() {
				if c.IsValid(i) {
					got = append(got, c.Value(i))
				}
			}
		}
		if err := r.Err(); err != nil {
			t.Fatal(err)
		}
		r.Close()
		if len(got) != len(want) {
			t.Fatalf("workers=%d: %d names, want %d", workers, len(got), len(want))
		}
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("workers=%d: row %d = %.40q, want %.40q", workers, i, got[i], want[i])
			}
		}
	}
}

func TestTrimNULASCII(t *testing.T) {
	for _, tc := range []struct {
		in    string
		want  string
		ascii bool
	}{
		{"", "", true},
		{"worker", "worker", true},
		{"cat\x00\x00\x00junk", "cat", true},
		{"\x00abc", "", true},
		{"ab\x00\xe9", "ab", true}, // non-ASCII after the NUL does not count
		{"caf\xc3\xa9\x00", "caf\xc3\xa9", false},
		{"\xff\xfe", "\xff\xfe", false},
		{"0123456789abcdef0123456789abcdef\x80", "0123456789abcdef0123456789abcdef\x80", false},
	} {
		got, ascii := trimNULASCII([]byte(tc.in))
		if string(got) != tc.want || ascii != tc.ascii {
			t.Errorf("trimNULASCII(%q) = %q, %v; want %q, %v", tc.in, got, ascii, tc.want, tc.ascii)
		}
		if string(got) != string(trimNUL([]byte(tc.in))) {
			t.Errorf("trimNULASCII(%q) trims unlike trimNUL", tc.in)
		}
	}
}

// TestInvalidUTF8Replaced checks that string fields which are not UTF-8
// come out with U+FFFD, and ASCII and UTF-8 ones as they are.
func TestInvalidUTF8Replaced(t *testing.T) {
	exec := loadFormat(t, "sched_process_exec")
	names := []string{"/bin/sh", "/usr/bin/caf\xc3\xa9", "/x/\xff\xfe/y", "plain"}
	want := []string{"/bin/sh", "/usr/bin/café", "/x/\uFFFD/y", "plain"}
	spec := traceSpec{sources: []format.Source{{Name: "sched:sched_process_exec", Kind: format.KindTracepoint, Format: exec}}}
	for i, n := range names {
		spec.samples = append(spec.samples, format.Sample{Source: 0, Time: uint64(1000 + i), PID: 7, TID: 7,
			Raw: payload(t, exec, map[string]any{"filename": n, "pid": 7, "old_pid": 7}, 0)})
	}
	path := filepath.Join(t.TempDir(), "utf8.kpcap")
	writeTrace(t, path, spec)
	r, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var got []string
	for r.Next() {
		c := col(t, r.Record(), "filename").(*array.String)
		for i := range c.Len() {
			got = append(got, c.Value(i))
		}
	}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("filenames %q, want %q", got, want)
	}
}
