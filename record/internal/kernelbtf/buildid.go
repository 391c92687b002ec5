package kernelbtf

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"os"
)

// kernelNotes holds the running kernel's ELF notes, among them the GNU
// build ID of its vmlinux.
const kernelNotes = "/sys/kernel/notes"

// ntGNUBuildID is the ELF note type of a build ID (NT_GNU_BUILD_ID).
const ntGNUBuildID = 3

// errNoBuildID says the kernel publishes no build ID: nothing derived from
// its BTF can be remembered across runs.
var errNoBuildID = errors.New("kernelbtf: no kernel build ID in " + kernelNotes)

// kernelBuildID returns the running kernel's build ID in hex. One vmlinux
// has one build ID, and its BTF is part of it.
func kernelBuildID() (string, error) {
	notes, err := os.ReadFile(kernelNotes)
	if err != nil {
		return "", err
	}
	return buildIDIn(notes)
}

// buildIDIn finds the GNU build ID among ELF notes in the host's byte
// order: each a name size, a descriptor size and a type (4 bytes each),
// then the name and the descriptor, each padded to 4 bytes.
func buildIDIn(notes []byte) (string, error) {
	pad := func(n uint32) uint64 { return (uint64(n) + 3) &^ 3 }
	for len(notes) >= 12 {
		nameSz := binary.NativeEndian.Uint32(notes)
		descSz := binary.NativeEndian.Uint32(notes[4:])
		typ := binary.NativeEndian.Uint32(notes[8:])
		rest := notes[12:]
		if pad(nameSz)+pad(descSz) > uint64(len(rest)) {
			break
		}
		name := rest[:nameSz]
		desc := rest[pad(nameSz) : pad(nameSz)+uint64(descSz)]
		if typ == ntGNUBuildID && bytes.Equal(name, []byte("GNU\x00")) && len(desc) > 0 {
			return hex.EncodeToString(desc), nil
		}
		notes = rest[pad(nameSz)+pad(descSz):]
	}
	return "", errNoBuildID
}
