//go:build linux

package perf

import (
	"bytes"
	"encoding/binary"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// fakeRing is a Ring over plain memory, with head and tail set by the test.
func fakeRing(size int) *Ring {
	meta := &unix.PerfEventMmapPage{}
	data := make([]byte, size)
	return &Ring{meta: meta, data: data, mask: uint64(size - 1)}
}

// put writes records of the given sizes at head (wrapping) and returns them
// concatenated.
func put(r *Ring, sizes ...int) []byte {
	var all []byte
	for i, sz := range sizes {
		rec := make([]byte, sz)
		binary.NativeEndian.PutUint32(rec, RecordSample)
		binary.NativeEndian.PutUint16(rec[6:], uint16(sz))
		for j := 8; j < sz; j++ {
			rec[j] = byte(i + j)
		}
		for j, b := range rec {
			r.data[(r.meta.Data_head+uint64(j))&r.mask] = b
		}
		r.meta.Data_head += uint64(sz)
		all = append(all, rec...)
	}
	return all
}

func TestReadIntoMax(t *testing.T) {
	tests := []struct {
		name  string
		start uint64 // tail and head before writing
		sizes []int
		limit int
		reads [][]int // record counts per call until drained
	}{
		{"all fits", 0, []int{40, 56, 64}, 1024, [][]int{{3}}},
		{"cut at whole records", 0, []int{40, 56, 64, 32}, 100, [][]int{{2}, {2}}},
		{"first larger than limit", 0, []int{200, 40}, 64, [][]int{{1}, {1}}},
		{"wraps the end", 1000, []int{40, 56, 64, 32}, 1024, [][]int{{4}}},
		{"wraps and cuts", 1000, []int{40, 56, 64, 32}, 120, [][]int{{2}, {2}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := fakeRing(1024)
			r.meta.Data_head, r.meta.Data_tail = tc.start, tc.start
			want := put(r, tc.sizes...)
			var got []byte
			idx := 0
			for i, n := range tc.reads {
				before := len(got)
				var more bool
				got, more = r.ReadIntoMax(got, tc.limit)
				size := 0
				for _, s := range tc.sizes[idx : idx+n[0]] {
					size += s
				}
				idx += n[0]
				if len(got)-before != size {
					t.Fatalf("read %d: %d bytes, want %d", i, len(got)-before, size)
				}
				if i < len(tc.reads)-1 && !more {
					t.Fatalf("read %d: more is false with records left", i)
				}
			}
			if !bytes.Equal(got, want) {
				t.Fatal("bytes differ")
			}
			if r.Pending() != 0 {
				t.Fatalf("%d bytes left", r.Pending())
			}
		})
	}
}

func TestReadIntoMaxCorrupt(t *testing.T) {
	r := fakeRing(1024)
	put(r, 40, 40)
	binary.NativeEndian.PutUint16(r.data[6:], 900) // larger than what is there
	got, _ := r.ReadIntoMax(nil, 16)
	if len(got) != 80 || r.Pending() != 0 {
		t.Fatalf("corrupt size: read %d, %d left; want everything handed over", len(got), r.Pending())
	}
}

func TestPeek(t *testing.T) {
	r := fakeRing(256)
	r.meta.Data_head, r.meta.Data_tail = 230, 230
	if r.Peek(nil) != nil {
		t.Fatal("peek on an empty ring")
	}
	want := put(r, 48, 40)
	got := r.Peek(nil)
	if !bytes.Equal(got, want[:48]) {
		t.Fatalf("peek across the wrap: got %x want %x", got, want[:48])
	}
	if r.Pending() != 88 {
		t.Fatal("peek released data")
	}
}

// TestPollerWake: Wait parks in the runtime poller; it times out when
// nothing happens and returns at once after Wake.
func TestPollerWake(t *testing.T) {
	p, err := NewPoller()
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	t0 := time.Now()
	woken, ready, _, err := p.Wait(30, nil)
	if err != nil || woken || ready {
		t.Fatalf("idle wait: woken %v ready %v err %v", woken, ready, err)
	}
	if d := time.Since(t0); d < 20*time.Millisecond {
		t.Fatalf("idle wait returned after %v, want about 30ms", d)
	}
	go func() {
		time.Sleep(10 * time.Millisecond)
		p.Wake()
	}()
	woken, _, _, err = p.Wait(10000, nil)
	if err != nil || !woken {
		t.Fatalf("wait after Wake: woken %v err %v", woken, err)
	}
}
