package format

import (
	"fmt"
	"path/filepath"
	"strings"
)

// SetFileName is the name of file seq (1, 2, ...) of a set whose recording
// was asked to write base: "-NNNN" (four digits at least) goes before the
// extension, ".pcapng.zst" counting as one: trace.pcapng.zst gives
// trace-0001.pcapng.zst, out.bin gives out-0001.bin, trace gives
// trace-0001. Up to 9999 files, names sort in sequence order; readers
// order a set by the sequence number stored in each file anyway.
func SetFileName(base string, seq int) string {
	dir, name := filepath.Split(base)
	stem, ext := name, ""
	for _, e := range []string{".pcapng.zst", ".pcapng.zstd", ".zst"} {
		if s, ok := strings.CutSuffix(name, e); ok && s != "" {
			stem, ext = s, e
			break
		}
	}
	if ext == "" {
		if e := filepath.Ext(name); e != "" && e != name {
			stem, ext = strings.TrimSuffix(name, e), e
		}
	}
	return dir + fmt.Sprintf("%s-%04d%s", stem, seq, ext)
}
