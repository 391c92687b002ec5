package elfsym

import (
	"os"
	"testing"
)

// TestFunctions lists a real binary's functions: every offset agrees with
// FileOffset, names are sorted, and a well-known function is there.
func TestFunctions(t *testing.T) {
	path := "/usr/bin/python3.11"
	if _, err := os.Stat(path); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s: %v", path, err)
		}
		t.Skip(err)
	}
	fns, err := Functions(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(fns) < 1000 {
		t.Fatalf("%d functions in %s, expected thousands", len(fns), path)
	}
	found := false
	for i, f := range fns {
		if i > 0 && fns[i-1].Name > f.Name {
			t.Fatalf("not sorted: %q before %q", fns[i-1].Name, f.Name)
		}
		if f.Name == "PyObject_GetAttr" {
			found = true
			off, err := FileOffset(path, f.Name, 0)
			if err != nil || off != f.Offset {
				t.Errorf("PyObject_GetAttr: offset %#x, FileOffset says %#x (%v)", f.Offset, off, err)
			}
		}
	}
	if !found {
		t.Errorf("PyObject_GetAttr not listed")
	}
	if _, err := Functions("/etc/passwd"); err == nil {
		t.Errorf("Functions(/etc/passwd) succeeded")
	}
}
