//go:build linux

package record

import (
	"encoding/binary"
	"math/rand/v2"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/kpcap/kpcap/format"
)

// backlogCapture is a capture of one source with a 120-byte payload
// writing a rotated set into dir, fed by hand: the writer's own path
// (emitSample, size checks, rotation, real files) without the kernel.
func backlogCapture(t *testing.T, o *Options) *capture {
	t.Helper()
	src := &source{desc: format.Source{Name: "test:payload", Kind: format.KindTracepoint,
		Format: "field:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;\n" +
			"field:char payload[120];\toffset:8;\tsize:120;\tsigned:0;\n"}}
	var err error
	if src.layout, err = parseLayout(src.desc.Format); err != nil {
		t.Fatal(err)
	}
	c := &capture{
		opts:       o,
		sources:    []*source{src},
		cpus:       []int{0},
		comms:      map[uint32]taskComm{},
		eventIDs:   eventIDs{ids: map[uint64]int32{77: 0}},
		counters:   counters{recvCPU: [][]uint64{{0}}, weightCPU: [][]uint64{{0}}, filteredCPU: [][]uint64{{0}}, drop: []uint64{0}},
		perfEvents: perfEvents{cpuOf: []uint32{0}},
	}
	c.buildDense()
	c.sizeCheck = sizeCheckEvery
	c.rot = c.newRotation(1)
	if err := c.openFile(format.SetFileName(o.Output, 1), c.rot.info(1)); err != nil {
		t.Fatal(err)
	}
	c.comms[1234] = taskComm{pid: 1234, comm: "payload"}
	if err := c.out.AddComm(format.Comm{PID: 1234, TID: 1234, Time: 1, Comm: "payload"}); err != nil {
		t.Fatal(err)
	}
	return c
}

// payloadSample is a SAMPLE record as the kernel writes it for the source
// of backlogCapture (id, tid, time, cpu, raw), random bytes of it random.
func payloadSample(r []byte, t uint64, random int, rng *rand.Rand) []byte {
	r = r[:184]
	clear(r)
	binary.NativeEndian.PutUint32(r, 9) // PERF_RECORD_SAMPLE
	binary.NativeEndian.PutUint16(r[6:], 184)
	binary.NativeEndian.PutUint64(r[8:], 77)
	binary.NativeEndian.PutUint32(r[16:], 1234)
	binary.NativeEndian.PutUint32(r[20:], 1234)
	binary.NativeEndian.PutUint64(r[24:], t)
	binary.NativeEndian.PutUint64(r[40:], 1) // period
	binary.NativeEndian.PutUint32(r[48:], 128)
	raw := r[52:]
	binary.NativeEndian.PutUint16(raw, 305)
	for i := range random {
		raw[8+i] = byte(rng.Uint32())
	}
	return r
}

// TestSizeLimitBacklog writes, as fast as the writer takes them, events
// that compress well and then events that compress several times worse,
// into a set rotated at a small size. The frames waiting for a compressor
// pile up (as on a host short of CPU) and are priced at the ratio of the
// frames written before: without waiting for them near a limit, files
// passed it by many frames. Every file must stay under its limit plus one
// frame and hold every sample written into it.
func TestSizeLimitBacklog(t *testing.T) {
	const limit = 128 << 10
	// One P: the compressors run only when the events stop coming (or at
	// a preemption), like a recorder on a host whose CPUs are busy.
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	for _, tc := range []struct {
		name string
		opts Options
	}{
		{"rotate", Options{RotateSize: limit}},
		{"keep-size", Options{KeepSize: 2 * limit}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			o := tc.opts
			o.Output = filepath.Join(dir, "b.pcapng.zst")
			stop := watchDisk(dir)
			c := backlogCapture(t, &o)
			rng := rand.New(rand.NewPCG(1, 2))
			r := make([]byte, 184)
			clock := uint64(1)
			var written uint64
			// Each phase is long enough for several files; the worse one
			// comes in bursts as the ratio of the written frames catches up.
			for i := range 20 {
				n, random := 60_000, 2
				if i%2 == 1 {
					n, random = 40_000, 12
				}
				for range n {
					clock += 1000
					if err := c.emitSample(0, payloadSample(r, clock, random, rng)); err != nil {
						t.Fatal(err)
					}
					written++
				}
			}
			if _, err := c.closeFile(clock+1, true); err != nil {
				t.Fatal(err)
			}
			peak := stop()
			res := &Result{SetID: c.rot.id, Files: c.files()}
			res.Samples = written
			sc := checkSet(t, res, o.Output)
			if len(res.Files) < 4 {
				t.Fatalf("only %d files: the test does not rotate", len(res.Files))
			}
			for _, f := range res.Files {
				if f.Deleted {
					continue
				}
				ff, err := format.Open(f.Path)
				if err != nil {
					t.Fatal(err)
				}
				var maxFrame int64
				for _, fr := range ff.Frames {
					maxFrame = max(maxFrame, fr.CSize)
				}
				ff.Close()
				if o.RotateSize > 0 && f.Bytes > limit+maxFrame {
					t.Errorf("%s: %d bytes, over the limit %d plus one frame (%d)", filepath.Base(f.Path), f.Bytes, limit, maxFrame)
				}
			}
			t.Logf("%d files (%d kept), %d samples; disk peak %d (largest frame %d)", len(res.Files), sc.kept, written, peak, sc.maxFrame)
			if o.KeepSize > 0 && peak > o.KeepSize+sc.maxFrame {
				t.Errorf("disk reached %d bytes: over the cap %d plus one frame (%d)", peak, o.KeepSize, sc.maxFrame)
			}
		})
	}
}
