package format

// blockNameAt names the pcapng block kind whose header starts at off in a
// decompressed frame, for errors that say which block is damaged.
func blockNameAt(frame []byte, off int) string {
	if off < 0 || len(frame)-off < 4 {
		return "block (header cut short)"
	}
	switch le.Uint32(frame[off:]) {
	case blockSHB:
		return "section header block"
	case blockIDB:
		return "interface description block"
	case blockISB:
		return "interface statistics block"
	case blockEPB:
		return "enhanced packet block (sample)"
	case blockCustom, blockCustomNoCopy:
		return "custom block (metadata)"
	}
	return "block of unknown type"
}
