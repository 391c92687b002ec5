// Package usdt reads the USDT (SystemTap SDT) markers of an ELF file: the
// .note.stapsdt notes that DTRACE_PROBE/STAP_PROBE macros leave in binaries
// such as python3 (provider "python") and libstdc++ (provider "libstdcxx"),
// with the file offsets a uprobe and its reference counter (the marker's
// semaphore) need. Notes come from untrusted files: every length is checked.
package usdt

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
)

// noteType is NT_STAPSDT, the type of every SDT note (sys/sdt.h).
const noteType = 3

// noteName is the owner name of SDT notes.
const noteName = "stapsdt"

// maxNotesSize bounds the note section read from a file: real ones are a few
// KiB (python3.11: about 3 KiB).
const maxNotesSize = 64 << 20

// ErrMalformed is wrapped by errors for notes that do not decode.
var ErrMalformed = errors.New("malformed SDT note")

// Note is one SDT note as stored: addresses as linked, before any
// .stapsdt.base adjustment.
type Note struct {
	PC        uint64 // address of the probe point (a nop instruction)
	Base      uint64 // link-time address of .stapsdt.base, for prelink adjustment
	Semaphore uint64 // address of the marker's semaphore (a u16 counter), 0 for none
	Provider  string
	Name      string
	Args      string // argument spec, e.g. "8@%r14 -4@%ebp 8@16(%rsp)"; "" for none
}

// Marker is a USDT marker of a file, ready for a uprobe.
type Marker struct {
	Provider        string `json:"provider"`
	Name            string `json:"name"`
	Args            string `json:"args"`             // argument spec as the compiler wrote it
	PC              uint64 `json:"pc"`               // virtual address of the probe point
	Offset          uint64 `json:"offset"`           // its file offset: the uprobe's PATH:OFFSET
	Semaphore       uint64 `json:"semaphore"`        // virtual address of the semaphore, 0 for none
	SemaphoreOffset uint64 `json:"semaphore_offset"` // its file offset: the uprobe's (REF_CTR_OFFSET), 0 for none
}

// ParseNotes decodes the SDT notes of a note section's bytes for an ELF file
// of the given class and byte order. Notes of other owners or types are
// skipped; a truncated or inconsistent note is an error wrapping
// ErrMalformed, returned with the notes decoded before it.
func ParseNotes(data []byte, class elf.Class, order binary.ByteOrder) ([]Note, error) {
	addrSize := 8
	if class == elf.ELFCLASS32 {
		addrSize = 4
	}
	var notes []Note
	for off := 0; off < len(data); {
		if len(data)-off < 12 {
			return notes, fmt.Errorf("%w: %d stray bytes at offset %d", ErrMalformed, len(data)-off, off)
		}
		namesz := uint64(order.Uint32(data[off:]))
		descsz := uint64(order.Uint32(data[off+4:]))
		typ := order.Uint32(data[off+8:])
		p := uint64(off) + 12
		nameEnd := p + namesz
		descStart := align4(nameEnd)
		descEnd := descStart + descsz
		next := align4(descEnd)
		if nameEnd > uint64(len(data)) || descEnd > uint64(len(data)) {
			return notes, fmt.Errorf("%w: note at offset %d claims %d name and %d descriptor bytes, %d remain",
				ErrMalformed, off, namesz, descsz, len(data)-off-12)
		}
		name := string(bytes.TrimRight(data[p:nameEnd], "\x00"))
		if name == noteName && typ == noteType {
			n, err := parseDesc(data[descStart:descEnd], addrSize, order)
			if err != nil {
				return notes, fmt.Errorf("note at offset %d: %w", off, err)
			}
			notes = append(notes, n)
		}
		if next > uint64(len(data)) {
			break // the last note's padding may be cut by the section end
		}
		off = int(next)
	}
	return notes, nil
}

func align4(n uint64) uint64 { return (n + 3) &^ 3 }

// parseDesc decodes a descriptor: pc, base, semaphore (addrSize bytes each),
// then provider, name and argument spec, each NUL-terminated.
func parseDesc(d []byte, addrSize int, order binary.ByteOrder) (Note, error) {
	var n Note
	if len(d) < 3*addrSize {
		return n, fmt.Errorf("%w: descriptor of %d bytes, need at least %d", ErrMalformed, len(d), 3*addrSize)
	}
	addr := func(i int) uint64 {
		if addrSize == 4 {
			return uint64(order.Uint32(d[i*4:]))
		}
		return order.Uint64(d[i*8:])
	}
	n.PC, n.Base, n.Semaphore = addr(0), addr(1), addr(2)
	rest := d[3*addrSize:]
	var strs [3]string
	for i := range strs {
		z := bytes.IndexByte(rest, 0)
		if z < 0 {
			return n, fmt.Errorf("%w: unterminated string %d in descriptor", ErrMalformed, i+1)
		}
		strs[i] = string(rest[:z])
		rest = rest[z+1:]
	}
	n.Provider, n.Name, n.Args = strs[0], strs[1], strs[2]
	if n.Provider == "" || n.Name == "" {
		return n, fmt.Errorf("%w: empty provider or name", ErrMalformed)
	}
	return n, nil
}

// Read returns the USDT markers of an open ELF file, in note order, with
// prelink adjustment (.stapsdt.base) and file offsets. A file without a
// .note.stapsdt section has none (nil, nil).
func Read(f *elf.File) (markers []Marker, err error) {
	defer func() {
		if r := recover(); r != nil { // debug/elf on hostile input
			markers, err = nil, fmt.Errorf("%w: %v", ErrMalformed, r)
		}
	}()
	sec := f.Section(".note.stapsdt")
	if sec == nil || sec.Type == elf.SHT_NOBITS {
		return nil, nil
	}
	if sec.Size > maxNotesSize {
		return nil, fmt.Errorf("%w: .note.stapsdt is %d bytes (at most %d read)", ErrMalformed, sec.Size, maxNotesSize)
	}
	data, err := io.ReadAll(io.LimitReader(sec.Open(), maxNotesSize))
	if err != nil {
		return nil, fmt.Errorf("read .note.stapsdt: %w", err)
	}
	notes, err := ParseNotes(data, f.Class, f.ByteOrder)
	if err != nil && len(notes) == 0 {
		return nil, err
	}
	var base *elf.Section
	if b := f.Section(".stapsdt.base"); b != nil {
		base = b
	}
	for _, n := range notes {
		m := Marker{Provider: n.Provider, Name: n.Name, Args: n.Args, PC: n.PC, Semaphore: n.Semaphore}
		if base != nil && n.Base != 0 {
			// Prelinking moved the file: shift by how far .stapsdt.base moved.
			m.PC += base.Addr - n.Base
			if m.Semaphore != 0 {
				m.Semaphore += base.Addr - n.Base
			}
		}
		off, ok := fileOffset(f, m.PC)
		if !ok {
			return markers, fmt.Errorf("%w: marker %s:%s at %#x lies in no loaded segment", ErrMalformed, n.Provider, n.Name, m.PC)
		}
		m.Offset = off
		if m.Semaphore != 0 {
			if m.SemaphoreOffset, ok = fileOffset(f, m.Semaphore); !ok {
				return markers, fmt.Errorf("%w: semaphore of %s:%s at %#x lies in no loaded segment", ErrMalformed, n.Provider, n.Name, m.Semaphore)
			}
		}
		markers = append(markers, m)
	}
	return markers, err
}

// fileOffset maps a virtual address to its file offset through the PT_LOAD
// segment holding it, as the kernel maps a uprobe's file offset back.
func fileOffset(f *elf.File, vaddr uint64) (uint64, bool) {
	for _, p := range f.Progs {
		if p.Type != elf.PT_LOAD || vaddr < p.Vaddr || vaddr-p.Vaddr >= p.Filesz {
			continue
		}
		return vaddr - p.Vaddr + p.Off, true
	}
	return 0, false
}

// Load opens the ELF file at path and returns its markers.
func Load(path string) ([]Marker, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	f, err := newFile(fh)
	if err != nil {
		return nil, fmt.Errorf("%s: not an ELF file: %w", path, err)
	}
	m, err := Read(f)
	if err != nil {
		return m, fmt.Errorf("%s: %w", path, err)
	}
	return m, nil
}

// newFile is elf.NewFile with debug/elf's panics on hostile headers turned
// into errors.
func newFile(r io.ReaderAt) (f *elf.File, err error) {
	defer func() {
		if p := recover(); p != nil {
			f, err = nil, fmt.Errorf("%w: %v", ErrMalformed, p)
		}
	}()
	return elf.NewFile(r)
}
