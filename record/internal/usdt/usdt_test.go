package usdt

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"errors"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"strconv"
	"testing"
)

// hostFile returns path, skipping (failing under CI=true) when it is absent.
func hostFile(t *testing.T, path string) string {
	t.Helper()
	if _, err := os.Stat(path); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s: %v (CI machines are Debian 12 with python3.11 and libstdc++6)", path, err)
		}
		t.Skipf("%s: %v", path, err)
	}
	return path
}

// readelfNote matches one SDT note of `readelf -n` output.
var readelfNote = regexp.MustCompile(`(?m)Provider: (\S+)\n\s+Name: (\S+)\n\s+Location: (0x[0-9a-f]+), Base: (0x[0-9a-f]+), Semaphore: (0x[0-9a-f]+)\n\s+Arguments:[ ]?(.*)$`)

// TestAgainstReadelf reads the markers of real binaries and compares every
// field with binutils' readelf; the probe points must be nop instructions and
// the semaphores must lie in the .probes section.
func TestAgainstReadelf(t *testing.T) {
	if _, err := exec.LookPath("readelf"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("readelf (binutils) is needed")
		}
		t.Skip("readelf (binutils) is needed")
	}
	libstdcxx := "/usr/lib/x86_64-linux-gnu/libstdc++.so.6"
	if runtime.GOARCH == "arm64" {
		libstdcxx = "/usr/lib/aarch64-linux-gnu/libstdc++.so.6"
	}
	for _, c := range []struct {
		path      string
		provider  string
		marker    string
		semaphore bool
	}{
		{"/usr/bin/python3.11", "python", "function__entry", true},
		{libstdcxx, "libstdcxx", "throw", false},
	} {
		t.Run(c.provider, func(t *testing.T) {
			path := hostFile(t, c.path)
			out, err := exec.Command("readelf", "-n", path).Output()
			if err != nil {
				t.Fatalf("readelf -n %s: %v", path, err)
			}
			want := readelfNote.FindAllStringSubmatch(string(out), -1)
			got, err := Load(path)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(want) || len(got) == 0 {
				t.Fatalf("%d markers, readelf shows %d", len(got), len(want))
			}
			raw, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			f, err := elf.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			probes := f.Section(".probes")
			found := false
			for i, m := range got {
				w := want[i]
				pc, _ := strconv.ParseUint(w[3], 0, 64)
				sem, _ := strconv.ParseUint(w[5], 0, 64)
				if m.Provider != w[1] || m.Name != w[2] || m.PC != pc || m.Semaphore != sem || m.Args != w[6] {
					t.Errorf("marker %d: got %+v, readelf says %q", i, m, w[1:])
				}
				if m.Offset >= uint64(len(raw)) || !isNop(raw[m.Offset:], f.Machine) {
					t.Errorf("%s:%s: file offset %#x does not hold a nop", m.Provider, m.Name, m.Offset)
				}
				if m.Semaphore != 0 {
					if probes == nil || m.SemaphoreOffset < probes.Offset || m.SemaphoreOffset+2 > probes.Offset+probes.Size {
						t.Errorf("%s:%s: semaphore file offset %#x is not in .probes", m.Provider, m.Name, m.SemaphoreOffset)
					}
				} else if m.SemaphoreOffset != 0 {
					t.Errorf("%s:%s: semaphore offset %#x without a semaphore", m.Provider, m.Name, m.SemaphoreOffset)
				}
				if m.Provider == c.provider && m.Name == c.marker {
					found = true
					if (m.Semaphore != 0) != c.semaphore {
						t.Errorf("%s:%s: semaphore %#x, want one: %v", m.Provider, m.Name, m.Semaphore, c.semaphore)
					}
				}
			}
			if !found {
				t.Errorf("no %s:%s marker in %s", c.provider, c.marker, path)
			}
		})
	}
}

func isNop(b []byte, m elf.Machine) bool {
	switch m {
	case elf.EM_X86_64, elf.EM_386:
		return len(b) > 0 && b[0] == 0x90
	case elf.EM_AARCH64:
		return len(b) >= 4 && binary.LittleEndian.Uint32(b) == 0xd503201f
	}
	return true
}

// TestNoMarkers: a binary without SDT notes (this test binary) has none.
func TestNoMarkers(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	m, err := Load(exe)
	if err != nil || len(m) != 0 {
		t.Fatalf("Load(test binary) = %v, %v; want no markers", m, err)
	}
	if _, err := Load("/etc/passwd"); err == nil {
		t.Errorf("Load(/etc/passwd) succeeded")
	}
}

// note builds one raw note.
func note(order binary.ByteOrder, name string, typ uint32, desc []byte) []byte {
	var b bytes.Buffer
	nm := append([]byte(name), 0)
	binary.Write(&b, order, uint32(len(nm)))
	binary.Write(&b, order, uint32(len(desc)))
	binary.Write(&b, order, typ)
	b.Write(nm)
	for b.Len()%4 != 0 {
		b.WriteByte(0)
	}
	b.Write(desc)
	for b.Len()%4 != 0 {
		b.WriteByte(0)
	}
	return b.Bytes()
}

// TestParseNotes covers both classes, foreign notes and damage.
func TestParseNotes(t *testing.T) {
	le := binary.LittleEndian
	desc64 := func(pc, base, sem uint64, strs string) []byte {
		b := make([]byte, 24)
		le.PutUint64(b, pc)
		le.PutUint64(b[8:], base)
		le.PutUint64(b[16:], sem)
		return append(b, strs...)
	}
	good := note(le, "stapsdt", 3, desc64(0x1000, 0x2000, 0x3000, "prov\x00mark\x008@%rdi -4@%esi\x00"))
	other := note(le, "GNU", 3, []byte{1, 2, 3, 4})
	data := append(append(append([]byte{}, other...), good...), note(le, "stapsdt", 3, desc64(0x1010, 0x2000, 0, "prov\x00noargs\x00\x00"))...)
	notes, err := ParseNotes(data, elf.ELFCLASS64, le)
	if err != nil {
		t.Fatal(err)
	}
	want := []Note{
		{PC: 0x1000, Base: 0x2000, Semaphore: 0x3000, Provider: "prov", Name: "mark", Args: "8@%rdi -4@%esi"},
		{PC: 0x1010, Base: 0x2000, Provider: "prov", Name: "noargs"},
	}
	if len(notes) != len(want) || notes[0] != want[0] || notes[1] != want[1] {
		t.Fatalf("got %+v\nwant %+v", notes, want)
	}

	be := binary.BigEndian
	d32 := make([]byte, 12)
	be.PutUint32(d32, 0x400)
	be.PutUint32(d32[4:], 0x500)
	d32 = append(d32, "p\x00n\x00\x00"...)
	notes, err = ParseNotes(note(be, "stapsdt", 3, d32), elf.ELFCLASS32, be)
	if err != nil || len(notes) != 1 || notes[0].PC != 0x400 || notes[0].Base != 0x500 || notes[0].Name != "n" {
		t.Fatalf("32-bit big-endian: %+v, %v", notes, err)
	}

	for name, bad := range map[string][]byte{
		"cut header":     good[:8],
		"cut descriptor": good[:len(good)-12],
		"huge namesz":    append([]byte{0xff, 0xff, 0xff, 0xff}, good[4:]...),
		"no strings":     note(le, "stapsdt", 3, desc64(1, 2, 3, "")),
		"unterminated":   note(le, "stapsdt", 3, desc64(1, 2, 3, "prov\x00mark\x00args")),
		"short desc":     note(le, "stapsdt", 3, []byte{1, 2, 3}),
		"empty provider": note(le, "stapsdt", 3, desc64(1, 2, 3, "\x00mark\x00\x00")),
	} {
		if _, err := ParseNotes(bad, elf.ELFCLASS64, le); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: error %v, want ErrMalformed", name, err)
		}
	}
}
