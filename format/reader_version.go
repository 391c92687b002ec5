package format

import "fmt"

// readHeaderFrame checks the first frame's version block, then reads it.
func (f *File) readHeaderFrame(buf []byte) error {
	major, minor, err := findVersion(buf)
	if err != nil {
		return err
	}
	if major != MajorVersion {
		return fmt.Errorf("%w %d.%d: this kpcap reads version %d.x; use a kpcap release that matches the recorder", ErrVersion, major, minor, MajorVersion)
	}
	f.Header.FormatVersion = [2]int{int(major), int(minor)}
	return f.readMeta(buf, 0)
}

// findVersion looks for the SHB and the version block in the header frame.
func findVersion(buf []byte) (major, minor uint32, err error) {
	off := 0
	for i := 0; off < len(buf); i++ {
		b, next, err := nextBlock(buf, off)
		if err != nil {
			return 0, 0, fmt.Errorf("%w: header frame: %v", ErrNotTrace, err)
		}
		off = next
		if i == 0 {
			if b.typ != blockSHB {
				return 0, 0, fmt.Errorf("%w: does not start with a pcapng section header", ErrNotTrace)
			}
			if len(b.body) < 16 {
				return 0, 0, fmt.Errorf("%w: section header too short", ErrNotTrace)
			}
			if m := le.Uint32(b.body); m != byteOrderMagic {
				return 0, 0, fmt.Errorf("%w: pcapng section is not little-endian (byte-order magic %#x)", ErrNotTrace, m)
			}
			continue
		}
		if b.typ != blockCustom && b.typ != blockCustomNoCopy {
			continue
		}
		kind, p, ok, err := customPayload(b.body)
		if err != nil || !ok || kind != kindVersion {
			continue
		}
		if len(p) < 8 {
			return 0, 0, fmt.Errorf("%w: version block too short", ErrNotTrace)
		}
		return le.Uint32(p), le.Uint32(p[4:]), nil
	}
	return 0, 0, fmt.Errorf("%w: pcapng file without a kpcap version block (written by another tool?)", ErrNotTrace)
}
