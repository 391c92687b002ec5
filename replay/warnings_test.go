package replay

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kpcap/kpcap/format"
)

// TestManyDamagedFramesWarnOncePerKind damages 150 of 300 frames and gives
// a source a broken event format: the warnings name each kind of damage
// once, with how many frames it hit, instead of a line per frame.
func TestManyDamagedFramesWarnOncePerKind(t *testing.T) {
	sw := loadFormat(t, "sys_exit_openat")
	spec := traceSpec{sources: []format.Source{
		{Name: "syscalls:sys_exit_openat", Kind: format.KindTracepoint, Format: sw},
		{Name: "bad:one", Kind: format.KindTracepoint, Format: "name: one\nID: 7\nformat:\n\tfield:nonsense"},
	}, flushAfter: map[int]bool{}}
	const frames = 300
	for i := range frames {
		for j := range 20 {
			spec.samples = append(spec.samples, format.Sample{Time: uint64(1000 + i*20 + j), CPU: 0, PID: 1, TID: 1,
				Raw: payload(t, sw, map[string]any{"ret": i*20 + j}, 0)})
		}
		spec.flushAfter[len(spec.samples)-1] = true
	}
	p := filepath.Join(t.TempDir(), "damaged.kpcap")
	writeTrace(t, p, spec)
	f, err := format.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	infos := append([]format.FrameInfo(nil), f.Frames...)
	f.Close()
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	damaged := 0
	for i, fi := range infos {
		if fi.Samples == 0 || i%2 == 1 {
			continue
		}
		data[fi.Offset+fi.CSize/2] ^= 0xff
		damaged++
	}
	if damaged < 100 {
		t.Fatalf("only %d sample frames damaged of %d frames", damaged, len(infos))
	}
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	r, err := Open(p, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	n, err := WriteText(r, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if n == 0 || n >= frames*20 {
		t.Errorf("%d events read, want some but fewer than %d", n, frames*20)
	}
	ws := r.Warnings()
	if len(ws) > 5 {
		t.Errorf("%d warning lines for %d damaged frames, want one per kind:\n%s", len(ws), damaged, strings.Join(ws, "\n"))
	}
	var frameLine, srcLine bool
	for _, w := range ws {
		if strings.Contains(w, "samples from there on are lost") && strings.Contains(w, "more like it") {
			frameLine = true
		}
		if strings.Contains(w, "source bad:one: cannot parse") {
			srcLine = true
		}
	}
	if !frameLine || !srcLine {
		t.Errorf("want a grouped damaged-frame line and the source's own line, got:\n%s", strings.Join(ws, "\n"))
	}
}
