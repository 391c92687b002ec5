package perf

import (
	"encoding/binary"
	"testing"

	"github.com/kpcap/kpcap/format"
)

// sampleRecord builds a SAMPLE record in kpcap's layout.
func sampleRecord(chain []uint64, raw []byte) []byte {
	b := make([]byte, 48)
	ne.PutUint32(b, RecordSample)
	ne.PutUint64(b[8:], 77)      // id
	ne.PutUint32(b[16:], 10)     // pid
	ne.PutUint32(b[20:], 11)     // tid
	ne.PutUint64(b[24:], 123456) // time
	ne.PutUint32(b[32:], 1)      // cpu
	ne.PutUint64(b[40:], 4321)   // period
	if chain != nil {
		b = binary.NativeEndian.AppendUint64(b, uint64(len(chain)))
		for _, ip := range chain {
			b = binary.NativeEndian.AppendUint64(b, ip)
		}
	}
	b = binary.NativeEndian.AppendUint32(b, uint32(len(raw)))
	b = append(b, raw...)
	for len(b)%8 != 0 {
		b = append(b, 0)
	}
	ne.PutUint16(b[6:], uint16(len(b)))
	return b
}

func TestParseSample(t *testing.T) {
	raw := []byte("0123456789abcdef")
	rec := sampleRecord([]uint64{ContextKernel, 0xffffffff81000000, ContextUser, 0x401000}, raw)
	var s Sample
	if !ParseSample(rec, true, &s) {
		t.Fatal("ParseSample failed")
	}
	if s.ID != 77 || s.PID != 10 || s.TID != 11 || s.Time != 123456 || s.CPU != 1 || s.Period != 4321 || string(s.Raw) != string(raw) || s.ChainLen() != 4 {
		t.Errorf("parsed %+v", s)
	}
	if got := s.AppendChain(nil); got[1] != 0xffffffff81000000 || got[3] != 0x401000 {
		t.Errorf("chain %x", got)
	}
	if tm, id, ok := RecordTime(rec); !ok || tm != 123456 || id != 77 {
		t.Errorf("RecordTime %d %d %v", tm, id, ok)
	}
	// truncations never panic and fail
	for i := 0; i < len(rec)-8; i++ {
		if ParseSample(rec[:i], true, &s) && i < 48+8+32+4 {
			t.Errorf("ParseSample accepted %d bytes", i)
		}
	}
	rec2 := sampleRecord(nil, raw)
	if !ParseSample(rec2, false, &s) || string(s.Raw) != string(raw) || s.ChainLen() != 0 {
		t.Errorf("no-callchain parse %+v", s)
	}
}

func TestTaskRecords(t *testing.T) {
	// COMM: pid, tid, "bash\0" padded, then the 32-byte sample_id trailer
	rec := make([]byte, 8+8+8+32)
	ne.PutUint32(rec, RecordComm)
	ne.PutUint16(rec[4:], MiscCommExec)
	ne.PutUint16(rec[6:], uint16(len(rec)))
	ne.PutUint32(rec[8:], 5)
	ne.PutUint32(rec[12:], 6)
	copy(rec[16:], "bash")
	ne.PutUint64(rec[len(rec)-24:], 999) // time
	ne.PutUint64(rec[len(rec)-8:], 3)    // id
	pid, tid, name, ok := Comm(rec)
	if !ok || pid != 5 || tid != 6 || string(name) != "bash" {
		t.Errorf("Comm = %d %d %q %v", pid, tid, name, ok)
	}
	if tm, id, ok := RecordTime(rec); !ok || tm != 999 || id != 3 {
		t.Errorf("RecordTime %d %d", tm, id)
	}
	if _, _, _, ok := Comm(rec[:20]); ok {
		t.Error("short COMM accepted")
	}
	lost := make([]byte, 8+16+32)
	ne.PutUint32(lost, RecordLost)
	ne.PutUint64(lost[16:], 42)
	if n, ok := Lost(lost); !ok || n != 42 {
		t.Errorf("Lost = %d %v", n, ok)
	}
}

// deepestChain is the most ips a SAMPLE record of kpcap's layout holds:
// its size is a u16 (a multiple of 8), and the fixed fields, the ip count
// and the raw size (with an empty payload) take the rest.
const deepestChain = (0xffff&^7 - sampleFixedLen - 8 - 4) / 8

// deepChainRecord is a SAMPLE record with the deepest callchain, kernel
// then user frames.
func deepChainRecord(n int) []byte {
	chain := make([]uint64, n)
	chain[0] = ContextKernel
	for i := 1; i < n; i++ {
		chain[i] = 0xffffffff81000000 + uint64(i%2)*0x100
	}
	chain[n/2] = ContextUser
	return sampleRecord(chain, nil)
}

// TestDeepestChain: the deepest callchain a perf record can carry fits
// format.MaxCallchain, so no sample the kernel writes is refused as too
// deep by the file, and one more ip no longer fits a record.
func TestDeepestChain(t *testing.T) {
	rec := deepChainRecord(deepestChain)
	if len(rec) > 0xffff {
		t.Fatalf("deepest record %d bytes, over a u16", len(rec))
	}
	var s Sample
	if !ParseSample(rec, true, &s) || s.ChainLen() != deepestChain {
		t.Fatalf("deepest record: parsed %v, %d ips, want %d", ParseSample(rec, true, &s), s.ChainLen(), deepestChain)
	}
	if deepestChain > format.MaxCallchain {
		t.Errorf("a perf record holds %d ips, the file at most %d", deepestChain, format.MaxCallchain)
	}
	if n := len(deepChainRecord(deepestChain + 1)); n <= 0xffff {
		t.Errorf("a record of %d ips is %d bytes: fits a u16", deepestChain+1, n)
	}
	fs := format.Sample{Callchain: s.AppendChain(nil), Raw: s.Raw}
	var back format.Sample
	if err := format.DecodeSample(format.AppendSample(nil, &fs), &back); err != nil || len(back.Callchain) != deepestChain {
		t.Errorf("the file round trip of the deepest chain: %v, %d ips", err, len(back.Callchain))
	}
}

func FuzzRecords(f *testing.F) {
	f.Add(sampleRecord([]uint64{ContextKernel, 1}, []byte("abc")), true)
	f.Add(sampleRecord(nil, nil), false)
	f.Add(deepChainRecord(deepestChain), true)
	f.Fuzz(func(t *testing.T, rec []byte, chain bool) {
		if len(rec) < HeaderLen {
			return
		}
		var s Sample
		if ParseSample(rec, chain, &s) {
			if len(s.Raw) > len(rec) || s.ChainLen()*8 > len(rec) {
				t.Fatal("parsed beyond the record")
			}
			if len(rec) <= 0xffff && s.ChainLen() > format.MaxCallchain {
				t.Fatalf("a record of %d bytes carries %d ips, over format.MaxCallchain", len(rec), s.ChainLen())
			}
			s.AppendChain(nil)
		}
		RecordTime(rec)
		Comm(rec)
		Task(rec)
		Lost(rec)
		Mmap(rec)
	})
}
