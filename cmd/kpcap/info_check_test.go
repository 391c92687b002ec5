package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/kpcap/kpcap/format"
)

// TestInfoCheck: --check reads a committed sample trace whole, and on a
// copy with one sample frame damaged names that frame's byte offset and
// what was read before it, and fails with one line.
func TestInfoCheck(t *testing.T) {
	src := filepath.Join("..", "..", "testdata", "kernels", "openat-6.12.pcapng.zst")
	orig, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := writeInfo(&out, []string{src}, false, true); err != nil {
		t.Fatalf("undamaged trace: %v", err)
	}
	f, err := format.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	var events uint64
	for _, fr := range f.Frames {
		events += fr.Samples
	}
	if len(f.Frames) < 3 {
		t.Fatalf("%d sample frames", len(f.Frames))
	}
	bad := f.Frames[2]
	f.Close()
	if want := "Check:       " + strconv.Itoa(len(f.Frames)) + " sample frames read, " + strconv.FormatUint(events, 10) + " events intact, 0 damaged frames"; !strings.Contains(out.String(), want) {
		t.Errorf("output lacks %q:\n%s", want, out.String())
	}

	damaged := bytes.Clone(orig)
	damaged[bad.Offset+bad.CSize/2] ^= 0x40
	p := filepath.Join(t.TempDir(), "damaged.pcapng.zst")
	if err := os.WriteFile(p, damaged, 0o644); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	err = writeInfo(&out, []string{p}, true, true)
	off := strconv.FormatInt(bad.Offset, 10)
	if err == nil || strings.Contains(err.Error(), "\n") || !strings.Contains(err.Error(), "byte offset "+off) {
		t.Fatalf("error %v, want one line naming byte offset %s", err, off)
	}
	var in infoJSON
	if err := json.Unmarshal(out.Bytes(), &in); err != nil {
		t.Fatal(err)
	}
	before := f.Frames[0].Samples + f.Frames[1].Samples
	if c := in.Check; c == nil || len(c.Damage) != 1 || c.Damage[0].Offset != bad.Offset || c.Damage[0].Frame != 2 ||
		c.Damage[0].Before != before || c.Events != events-bad.Samples {
		t.Errorf("check %+v; want frame 2 at %d damaged, %d events before it", in.Check, bad.Offset, before)
	}
}
