package usdt

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"testing"
)

// FuzzParseNotes: hostile note sections never panic, and every note returned
// has a provider and a name.
func FuzzParseNotes(f *testing.F) {
	le := binary.LittleEndian
	d := make([]byte, 24)
	le.PutUint64(d, 0x1000)
	f.Add(note(le, "stapsdt", 3, append(d, "python\x00function__entry\x008@%r14 8@%rax -4@%ebp\x00"...)), true)
	f.Add(note(le, "stapsdt", 3, d[:12]), false)
	f.Add([]byte{}, true)
	f.Fuzz(func(t *testing.T, data []byte, class64 bool) {
		class := elf.ELFCLASS32
		if class64 {
			class = elf.ELFCLASS64
		}
		notes, _ := ParseNotes(data, class, le)
		for _, n := range notes {
			if n.Provider == "" || n.Name == "" {
				t.Fatalf("note without provider or name: %+v", n)
			}
		}
	})
}

// FuzzRead: hostile ELF files never panic Read.
func FuzzRead(f *testing.F) {
	f.Add([]byte("\x7fELF\x02\x01\x01"))
	f.Fuzz(func(t *testing.T, data []byte) {
		ef, err := newFile(bytes.NewReader(data))
		if err != nil {
			return
		}
		Read(ef)
	})
}
