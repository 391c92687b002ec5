package format

import (
	"errors"
	"fmt"
	"hash/crc32"
)

// Seek index layout (FORMAT.md "Seek index"): a skippable zstd frame with
// magic indexMagic whose payload is n entries of indexEntryLen bytes and a
// 20-byte footer, so the footer is the last 20 bytes of the file.
const (
	indexEntryLen  = 56
	indexFooterLen = 20
	indexFooterMag = 0x5849504B // "KPIX"
	indexMajor     = 1
	indexMinor     = 0

	// frameMeta marks frames holding blocks other than EPBs (SHB, IDB, ISB,
	// custom blocks): readers decode them at open.
	frameMeta = 1
)

// indexEntry describes one data frame in the seek index.
type indexEntry struct {
	FrameInfo
	Flags uint32

	// For a FrameSink: the samples per source and the loss records in the
	// frame (not part of the index).
	counts []uint64
	lost   []Lost
}

func appendIndex(dst []byte, entries []indexEntry) []byte {
	payload := make([]byte, 0, len(entries)*indexEntryLen+indexFooterLen)
	for _, e := range entries {
		var b [indexEntryLen]byte
		le.PutUint64(b[0:], uint64(e.Offset))
		le.PutUint64(b[8:], uint64(e.CSize))
		le.PutUint64(b[16:], uint64(e.RawSize))
		le.PutUint64(b[24:], e.Samples)
		le.PutUint64(b[32:], e.FirstNS)
		le.PutUint64(b[40:], e.LastNS)
		le.PutUint32(b[48:], e.Flags)
		payload = append(payload, b[:]...)
	}
	crc := crc32.ChecksumIEEE(payload)
	var f [indexFooterLen]byte
	le.PutUint32(f[0:], uint32(len(entries)))
	le.PutUint32(f[4:], indexEntryLen)
	le.PutUint16(f[8:], indexMajor)
	le.PutUint16(f[10:], indexMinor)
	le.PutUint32(f[12:], crc)
	le.PutUint32(f[16:], indexFooterMag)
	payload = append(payload, f[:]...)
	return appendSkippable(dst, indexMagic, payload)
}

var errNoIndex = errors.New("no seek index at end of file")

// readIndex reads and validates the seek index at the end of a file of the
// given size. It returns the entries and the offset where the index frame
// starts (= end of the data frames).
func readIndex(ra readAtFunc, size int64) ([]indexEntry, int64, error) {
	if size < 8+indexFooterLen {
		return nil, 0, errNoIndex
	}
	var f [indexFooterLen]byte
	if ra(f[:], size-indexFooterLen) != indexFooterLen || le.Uint32(f[16:]) != indexFooterMag {
		return nil, 0, errNoIndex
	}
	n := int64(le.Uint32(f[0:]))
	es := int64(le.Uint32(f[4:]))
	if major := le.Uint16(f[8:]); major != indexMajor {
		return nil, 0, fmt.Errorf("seek index version %d.%d not supported", major, le.Uint16(f[10:]))
	}
	if es < indexEntryLen || es > 4096 {
		return nil, 0, fmt.Errorf("seek index entry size %d invalid", es)
	}
	if n > (size-8-indexFooterLen)/es {
		return nil, 0, fmt.Errorf("seek index claims %d entries, more than the file can hold", n)
	}
	plen := n*es + indexFooterLen
	start := size - 8 - plen
	var h [8]byte
	if ra(h[:], start) != 8 || le.Uint32(h[:]) != indexMagic || int64(le.Uint32(h[4:])) != plen {
		return nil, 0, errors.New("seek index frame header does not match its footer")
	}
	payload := make([]byte, n*es)
	if ra(payload, start+8) != len(payload) {
		return nil, 0, errors.New("seek index truncated")
	}
	if crc32.ChecksumIEEE(payload) != le.Uint32(f[12:]) {
		return nil, 0, errors.New("seek index checksum mismatch")
	}
	entries := make([]indexEntry, n)
	var next int64
	for i := range entries {
		b := payload[int64(i)*es:]
		e := &entries[i]
		e.Offset = int64(le.Uint64(b[0:]))
		e.CSize = int64(le.Uint64(b[8:]))
		e.RawSize = int64(le.Uint64(b[16:]))
		e.Samples = le.Uint64(b[24:])
		e.FirstNS = le.Uint64(b[32:])
		e.LastNS = le.Uint64(b[40:])
		e.Flags = le.Uint32(b[48:])
		if e.Offset != next || e.CSize <= 0 || e.CSize > start-e.Offset || e.RawSize < 0 || e.RawSize > MaxFrameRaw {
			return nil, 0, fmt.Errorf("seek index entry %d inconsistent (offset %d, size %d)", i, e.Offset, e.CSize)
		}
		next = e.Offset + e.CSize
	}
	if next != start {
		return nil, 0, fmt.Errorf("seek index covers %d bytes but data frames end at %d", next, start)
	}
	return entries, start, nil
}
