package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kpcap/kpcap/format"
)

// writeInfoTrace writes a small real trace and returns its path.
func writeInfoTrace(t *testing.T, closeIt bool) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "trace.pcapng.zst")
	fh, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	h := &format.Header{
		Application: "kpcap " + version,
		Host:        format.Host{Hostname: "testhost", Kernel: "6.18.0", Machine: "x86_64", OS: "linux", CPUs: 2},
		Sources: []format.Source{
			{Name: "syscalls:sys_enter_openat", Kind: format.KindTracepoint, Definition: "syscalls:sys_enter_openat", Filter: "dfd == -100"},
			{Name: "kpcap:open_ret", Kind: format.KindUretprobe, Definition: "r:/bin/x:open $retval", Target: "/bin/x:open"},
		},
		Capture: format.Capture{Args: []string{"kpcap", "record", "-e", "syscalls:sys_enter_openat"}, Clock: "monotonic"},
		Notes:   []string{"hello note"},
	}
	w, err := format.NewWriter(fh, h, &format.WriterOptions{FrameBytes: 8192})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 1000; i++ {
		s := format.Sample{Source: uint32(i % 2), Time: 5_000_000_000 + uint64(i)*1_000_000, PID: 1, TID: 1, Raw: make([]byte, 40)}
		if err := w.WriteSample(&s); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.AddLost(format.Lost{Time: 5_000_000_100, Source: 1, Count: 4}); err != nil {
		t.Fatal(err)
	}
	if closeIt {
		err = w.Close([]format.Stats{{Source: 0, Received: 500, Dropped: 2}, {Source: 1, Received: 500, Dropped: 4}})
	} else {
		err = w.Flush()
	}
	if err != nil {
		t.Fatal(err)
	}
	return path
}

func TestInfoJSON(t *testing.T) {
	for _, closed := range []bool{true, false} {
		path := writeInfoTrace(t, closed)
		var out bytes.Buffer
		if err := writeInfo(&out, []string{path}, true, false); err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := json.Unmarshal(out.Bytes(), &m); err != nil {
			t.Fatalf("bad JSON: %v\n%s", err, out.String())
		}
		for _, k := range []string{"probes", "kernel", "hostname", "start_ns", "end_ns", "bytes", "raw_bytes", "frames", "notes", "warnings", "indexed"} {
			if _, ok := m[k]; !ok {
				t.Errorf("closed=%v: key %q missing", closed, k)
			}
		}
		st, _ := os.Stat(path)
		if m["bytes"].(float64) != float64(st.Size()) || m["kernel"] != "6.18.0" || m["hostname"] != "testhost" ||
			m["indexed"] != closed || m["start_ns"].(float64) != 5e9 || m["end_ns"].(float64) != 5e9+999e6 {
			t.Errorf("closed=%v: %s", closed, out.String())
		}
		probes := m["probes"].([]any)
		p1 := probes[1].(map[string]any)
		wantLost := 4.0 // without ISBs: from the loss record
		if p1["name"] != "kpcap:open_ret" || p1["kind"] != "uretprobe" || p1["count"].(float64) != 500 || p1["lost"].(float64) != wantLost {
			t.Errorf("closed=%v: probe %v", closed, p1)
		}
		p0 := probes[0].(map[string]any)
		if p0["filter"] != "dfd == -100" || p0["definition"] != "syscalls:sys_enter_openat" {
			t.Errorf("probe 0 %v", p0)
		}
		if warns := m["warnings"].([]any); closed != (len(warns) == 0) {
			t.Errorf("closed=%v: warnings %v", closed, warns)
		}
	}
}

func TestInfoText(t *testing.T) {
	path := writeInfoTrace(t, true)
	var out bytes.Buffer
	if err := writeInfo(&out, []string{path}, false, false); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"testhost", "6.18.0", "syscalls:sys_enter_openat", "[filter: dfd == -100]",
		"r:/bin/x:open $retval", "Events:      1000", "lost 6", "hello note", "indexed"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}

func TestInfoErrors(t *testing.T) {
	dir := t.TempDir()
	notTrace := filepath.Join(dir, "notes.txt")
	os.WriteFile(notTrace, []byte("just text\n"), 0o644)
	for _, tc := range []struct {
		args []string
		code int
	}{
		{[]string{"info", filepath.Join(dir, "missing.pcapng.zst")}, 1},
		{[]string{"info", notTrace}, 1},
		{[]string{"info", dir}, 1},
		{[]string{"info"}, 2},
		{[]string{"info", "a", "b"}, 1}, // two files of one trace, neither there
	} {
		if got := run(tc.args); got != tc.code {
			t.Errorf("kpcap %v: exit %d, want %d", tc.args, got, tc.code)
		}
	}
	var out bytes.Buffer
	err := writeInfo(&out, []string{notTrace}, false, false)
	if err == nil || !strings.Contains(err.Error(), "not a kpcap trace") {
		t.Errorf("error %v, want 'not a kpcap trace'", err)
	}
}
