package format

import "hash/maphash"

// frameSeen remembers the frames a scan has decoded, so that a frame the
// file holds twice (bytes copied again by damage or a careless splice) is
// read once: its samples would otherwise come back as duplicate events and
// its loss records count twice. A real trace never repeats a frame byte for
// byte: every frame holds samples of times no other frame holds.
type frameSeen struct {
	seed  maphash.Seed
	seen  map[frameDigest]int64 // the offset of the first copy
	dups  int
	first [2]int64 // the first repeat's offset and the offset it repeats
	bytes int64    // compressed bytes skipped
}

// frameDigest identifies a decompressed frame: its size and a 64-bit hash.
type frameDigest struct {
	raw int
	sum uint64
}

// repeat reports whether buf, the frame at pos of csize compressed bytes,
// repeats one seen before; otherwise it remembers it.
func (s *frameSeen) repeat(buf []byte, pos, csize int64) bool {
	if s.seen == nil {
		s.seed = maphash.MakeSeed()
		s.seen = map[frameDigest]int64{}
	}
	d := frameDigest{len(buf), maphash.Bytes(s.seed, buf)}
	at, ok := s.seen[d]
	if !ok {
		s.seen[d] = pos
		return false
	}
	if s.dups == 0 {
		s.first = [2]int64{pos, at}
	}
	s.dups++
	s.bytes += csize
	return true
}

// report warns once, counting the repeated frames.
func (s *frameSeen) report(f *File) {
	if s.dups > 0 {
		f.warn("%d frames (%d bytes) repeat earlier frames byte for byte (the first at offset %d repeats offset %d); each was read once", s.dups, s.bytes, s.first[0], s.first[1])
	}
}
