package format

import (
	"fmt"
	"strings"
)

// readMeta reads every non-EPB block of a decompressed frame.
func (f *File) readMeta(buf []byte, frameOff int64) error {
	off := 0
	for off < len(buf) {
		b, next, err := nextBlock(buf, off)
		if err != nil {
			return fmt.Errorf("block at raw offset %d: %w", off, err)
		}
		off = next
		switch b.typ {
		case blockEPB:
		case blockSHB:
			if f.sawSHB {
				f.warn("frame at offset %d: another pcapng section header ignored", frameOff)
				continue
			}
			f.sawSHB = true
			f.readSHB(b.body)
		case blockIDB:
			f.readIDB(b.body)
		case blockISB:
			f.readISB(b.body)
		case blockCustom, blockCustomNoCopy:
			kind, p, ok, err := customPayload(b.body)
			if err != nil {
				f.warn("frame at offset %d: %v", frameOff, err)
				continue
			}
			if ok {
				if err := f.readCustom(kind, p); err != nil {
					f.warn("frame at offset %d: custom block kind %d: %v", frameOff, kind, err)
				}
			}
		}
	}
	return nil
}

// readSHB takes the application, OS and machine from the section header.
func (f *File) readSHB(body []byte) {
	if len(body) < 16 {
		return
	}
	err := forEachOption(body[16:], func(code uint16, val []byte) {
		switch code {
		case optUserAppl:
			f.Header.Application = string(val)
		case optOS:
			if f.Header.Host.Kernel == "" {
				// Overwritten by the host block; kept for traces missing it.
				s := string(val)
				if k, ok := strings.CutPrefix(s, "Linux "); ok {
					f.Header.Host.OS, f.Header.Host.Kernel = "linux", k
				} else {
					f.Header.Host.Kernel = s
				}
			}
		case optHardware:
			if f.Header.Host.Machine == "" {
				f.Header.Host.Machine = string(val)
			}
		}
	})
	if err != nil {
		f.warn("section header options: %v", err)
	}
}

// readIDB adds the event source an interface description block defines,
// up to MaxSources.
func (f *File) readIDB(body []byte) {
	if len(body) < 8 {
		f.warn("interface description block too short")
		return
	}
	if len(f.idbs) == MaxSources {
		f.warn("more than %d interfaces (event sources); the rest and their samples are ignored", MaxSources)
		f.idbs = append(f.idbs, Source{}) // the marker: warned once
		return
	}
	if len(f.idbs) > MaxSources {
		return
	}
	var s Source
	tsresol := -1
	err := forEachOption(body[8:], func(code uint16, val []byte) {
		switch code {
		case optIfName:
			s.Name = string(val)
		case optIfDesc:
			s.Definition = string(val)
		case optIfFilter:
			if len(val) > 0 && val[0] == 0 {
				s.Filter = string(val[1:])
			}
		case optIfTsresol:
			if len(val) > 0 {
				tsresol = int(val[0])
			}
		}
	})
	if err != nil {
		f.warn("interface %d options: %v", len(f.idbs), err)
	}
	if lt := le.Uint16(body); lt != LinkType {
		f.warn("interface %d has link type %d, not %d", len(f.idbs), lt, LinkType)
	}
	if tsresol != 9 {
		f.warn("interface %d timestamp resolution %d is not nanoseconds; times may be misread", len(f.idbs), tsresol)
	}
	f.idbs = append(f.idbs, s)
}

// readISB keeps a source's received and dropped counts and time span.
func (f *File) readISB(body []byte) {
	if len(body) < 12 {
		f.warn("interface statistics block too short")
		return
	}
	id := le.Uint32(body)
	st := Stats{Source: id}
	err := forEachOption(body[12:], func(code uint16, val []byte) {
		if len(val) < 8 {
			return
		}
		switch code {
		case optIsbRecv:
			st.Received = le.Uint64(val)
		case optIsbDrop:
			st.Dropped = le.Uint64(val)
		case optIsbStart:
			st.StartNS = uint64(le.Uint32(val))<<32 | uint64(le.Uint32(val[4:]))
		case optIsbEnd:
			st.EndNS = uint64(le.Uint32(val))<<32 | uint64(le.Uint32(val[4:]))
		}
	})
	if err != nil {
		f.warn("interface statistics %d: %v", id, err)
	}
	f.isbs[id] = st
}
