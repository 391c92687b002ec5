package replay

import (
	"encoding/binary"
	"unicode/utf8"

	"github.com/kpcap/kpcap/format"
	"github.com/kpcap/kpcap/replay/internal/eventfmt"
)

// fieldBytes returns the bytes of a non-integer field, bounds-checked.
func fieldBytes(raw []byte, f *eventfmt.Field) ([]byte, bool) {
	switch f.Kind {
	case eventfmt.KindDataLoc, eventfmt.KindRelLoc:
		if f.Offset+4 > len(raw) {
			return nil, false
		}
		v := binary.LittleEndian.Uint32(raw[f.Offset:])
		off, n := int(v&0xffff), int(v>>16)
		if f.Kind == eventfmt.KindRelLoc {
			off += f.Offset + 4
		}
		if off+n > len(raw) {
			return nil, false
		}
		return raw[off : off+n], true
	default:
		if f.Offset+f.Size > len(raw) {
			return nil, false
		}
		return raw[f.Offset : f.Offset+f.Size], true
	}
}

// trimNULASCII is trimNUL that also tells whether the result is ASCII
// (and so valid UTF-8): most values are, and utf8.Valid walks short
// strings byte by byte.
func trimNULASCII(b []byte) ([]byte, bool) {
	var or byte
	for i, c := range b {
		if c == 0 {
			return b[:i], or < utf8.RuneSelf
		}
		or |= c
	}
	return b, or < utf8.RuneSelf
}

func trimNUL(b []byte) []byte {
	for i, c := range b {
		if c == 0 {
			return b[:i]
		}
	}
	return b
}

// intValue reads an integer field, sign-extended when signed.
func intValue(raw []byte, f *eventfmt.Field) (uint64, bool) {
	if f.Offset+f.Size > len(raw) {
		return 0, false
	}
	b := raw[f.Offset:]
	switch f.Size {
	case 1:
		if f.Signed {
			return uint64(int64(int8(b[0]))), true
		}
		return uint64(b[0]), true
	case 2:
		v := binary.LittleEndian.Uint16(b)
		if f.Signed {
			return uint64(int64(int16(v))), true
		}
		return uint64(v), true
	case 4:
		v := binary.LittleEndian.Uint32(b)
		if f.Signed {
			return uint64(int64(int32(v))), true
		}
		return uint64(v), true
	case 8:
		return binary.LittleEndian.Uint64(b), true
	}
	return 0, false
}

// filterRow lets a compiled filter read the current sample.
type filterRow struct {
	s  *format.Sample
	sd *sourceDec
	d  *decoder
}

func (fr *filterRow) Int(id int) (int64, bool) {
	switch id {
	case idCPU:
		return int64(fr.s.CPU), true
	case idPID:
		return int64(int32(fr.s.TID)), true
	}
	v, ok := intValue(fr.s.Raw, &fr.sd.ev.Fields[id])
	return int64(v), ok
}

func (fr *filterRow) Uint(id int) (uint64, bool) {
	switch id {
	case idCPU:
		return uint64(fr.s.CPU), true
	case idPID:
		return uint64(fr.s.TID), true
	}
	return intValue(fr.s.Raw, &fr.sd.ev.Fields[id])
}

func (fr *filterRow) Str(id int) ([]byte, bool) {
	if id == idComm {
		i := fr.d.commIndex(fr.s.PID, fr.s.TID, fr.s.CPU, fr.s.Time)
		if i < 0 {
			return nil, false
		}
		return []byte(fr.d.r.comms.dict[i]), true
	}
	v, ok := fieldBytes(fr.s.Raw, &fr.sd.ev.Fields[id])
	return trimNUL(v), ok
}
