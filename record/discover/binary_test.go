package discover

import (
	"runtime"
	"testing"
)

// TestReadBinaryUSDT lists the USDT markers of Debian's python3.11 (with
// semaphores) and libstdc++ (without), filtered by glob.
func TestReadBinaryUSDT(t *testing.T) {
	py := "/usr/bin/python3.11"
	needHost(t, py)
	b, err := ReadBinary(py, "function__*")
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]Marker{}
	for _, m := range b.Markers {
		got[m.Provider+":"+m.Name] = m
	}
	for _, n := range []string{"python:function__entry", "python:function__return"} {
		m, ok := got[n]
		if !ok {
			t.Errorf("%s: no marker %s (got %v)", py, n, b.Markers)
			continue
		}
		if m.Semaphore == 0 || m.SemaphoreOffset == 0 || m.Offset == 0 || m.Args == "" {
			t.Errorf("%s: incomplete %+v", n, m)
		}
	}
	if len(got) != 2 || len(b.Functions) != 0 {
		t.Errorf("pattern function__* matched markers %v and functions %v", b.Markers, b.Functions)
	}

	lib := "/usr/lib/x86_64-linux-gnu/libstdc++.so.6"
	if runtime.GOARCH == "arm64" {
		lib = "/usr/lib/aarch64-linux-gnu/libstdc++.so.6"
	}
	needHost(t, lib)
	b, err = ReadBinary(lib, "libstdcxx:*")
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, m := range b.Markers {
		names[m.Name] = true
		if m.Semaphore != 0 {
			t.Errorf("libstdcxx:%s has a semaphore %#x; libstdc++'s markers have none", m.Name, m.Semaphore)
		}
	}
	if !names["throw"] || !names["rethrow"] || !names["catch"] {
		t.Errorf("libstdcxx markers %v, want throw, rethrow, catch", names)
	}
}

// TestReadBinaryFunctions: function globs, and errors for files that are
// not ELF and for bad patterns.
func TestReadBinaryFunctions(t *testing.T) {
	py := "/usr/bin/python3.11"
	needHost(t, py)
	b, err := ReadBinary(py, "PyObject_GetAtt*")
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, f := range b.Functions {
		if f.Name == "PyObject_GetAttr" {
			found = f.Offset != 0 && f.Size != 0
		}
	}
	if !found || len(b.Markers) != 0 {
		t.Errorf("PyObject_GetAtt*: functions %v markers %v", b.Functions, b.Markers)
	}
	if _, err := ReadBinary("/etc/passwd", ""); err == nil {
		t.Errorf("ReadBinary(/etc/passwd) succeeded")
	}
	if _, err := ReadBinary(py, "[x"); err == nil {
		t.Errorf("bad pattern accepted")
	}
}
