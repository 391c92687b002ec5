package kernelbtf

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/cilium/ebpf/btf"
)

// needFacts skips where the running kernel's facts cannot be remembered
// (no kernel build ID or BTF), failing under CI=true on Linux.
func needFacts(t *testing.T) {
	t.Helper()
	if runtime.GOOS != "linux" {
		t.Skip("kernel BTF is Linux's")
	}
	_, err := kernelBuildID()
	if err == nil {
		_, err = Spec()
	}
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI=true: cannot skip: %v", err)
		}
		t.Skip(err)
	}
}

// ptRegsSize is a fact: the size of struct pt_regs.
type ptRegsSize struct{ Size uint32 }

func (f *ptRegsSize) derive(spec *btf.Spec) error {
	var regs *btf.Struct
	if err := spec.TypeByName("pt_regs", &regs); err != nil {
		return err
	}
	f.Size = regs.Size
	return nil
}

// TestRememberDerivesOnce checks that a fact is derived from the BTF on
// the first call, read back from the file on the next ones, and that a
// file or directory others could have written to is not trusted.
func TestRememberDerivesOnce(t *testing.T) {
	needFacts(t)
	dir := t.TempDir()
	t.Setenv(CacheEnv, dir)
	derived := 0
	get := func() ptRegsSize {
		var f ptRegsSize
		if err := Remember("test.ptRegsSize", &f, func(s *btf.Spec) error { derived++; return f.derive(s) }); err != nil {
			t.Fatal(err)
		}
		return f
	}
	first := get()
	if first.Size == 0 || derived != 1 {
		t.Fatalf("first call: %+v, derived %d times", first, derived)
	}
	if again := get(); again != first || derived != 1 {
		t.Fatalf("second call: %+v, derived %d times; want %+v from the file", again, derived, first)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "btf-*.json"))
	if len(files) != 1 {
		t.Fatalf("facts files %v, want one", files)
	}
	fi, err := os.Stat(files[0])
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("facts file mode %v (%v), want 0600", fi.Mode(), err)
	}
	if err := os.Chmod(files[0], 0o666); err != nil {
		t.Fatal(err)
	}
	if again := get(); again != first || derived != 2 {
		t.Fatalf("with a world-writable file: %+v, derived %d times; want it derived again", again, derived)
	}
	if again := get(); again != first || derived != 2 {
		t.Fatalf("after rewriting the file: %+v, derived %d times; want it read back", again, derived)
	}
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	defer os.Chmod(dir, 0o700)
	if again := get(); again != first || derived != 3 {
		t.Fatalf("in a world-writable directory: %+v, derived %d times; want it derived again", again, derived)
	}
}

// TestBuildIDIn reads the build ID out of notes laid out as the kernel's.
func TestBuildIDIn(t *testing.T) {
	notes := appendNote(nil, "Xen", 6, []byte{1, 2, 3, 4})
	notes = appendNote(notes, "GNU", ntGNUBuildID, []byte{0xde, 0xad, 0xbe, 0xef, 0x01})
	got, err := buildIDIn(notes)
	if err != nil || got != "deadbeef01" {
		t.Fatalf("build ID %q (%v), want deadbeef01", got, err)
	}
	if _, err := buildIDIn(notes[:len(notes)-4]); err == nil {
		t.Fatal("a truncated note gave a build ID")
	}
}

// appendNote appends one ELF note in the host's byte order.
func appendNote(b []byte, name string, typ uint32, desc []byte) []byte {
	pad := func(b []byte) []byte {
		for len(b)%4 != 0 {
			b = append(b, 0)
		}
		return b
	}
	b = binary.NativeEndian.AppendUint32(b, uint32(len(name)+1))
	b = binary.NativeEndian.AppendUint32(b, uint32(len(desc)))
	b = binary.NativeEndian.AppendUint32(b, typ)
	b = pad(append(append(b, name...), 0))
	return pad(append(b, desc...))
}

// FuzzBuildIDIn feeds arbitrary notes to the parser: it must not panic.
func FuzzBuildIDIn(f *testing.F) {
	f.Add(appendNote(nil, "GNU", ntGNUBuildID, []byte{1, 2, 3}))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 3, 0, 0, 0})
	if notes, err := os.ReadFile(kernelNotes); err == nil {
		f.Add(notes)
	}
	f.Fuzz(func(t *testing.T, notes []byte) {
		_, _ = buildIDIn(notes)
	})
}
