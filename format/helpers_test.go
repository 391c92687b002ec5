package format

import (
	"bytes"
	"fmt"
	"os"
	"testing"
)

// requireTool skips without a tool locally but fails under CI=true.
func requireTool(t testing.TB, ok bool, what string) {
	t.Helper()
	if ok {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s is required under CI=true", what)
	}
	t.Skipf("skipping: %s not available", what)
}

func testHeader() *Header {
	return &Header{
		Application: "kpcap test",
		Host: Host{Hostname: "box", Kernel: "6.18.0-test", Version: "#1 SMP", Machine: "x86_64",
			OS: "linux", CPUs: 2, PageSize: 4096, WallOffsetNS: 1_700_000_000_000_000_000},
		Sources: []Source{
			{Name: "syscalls:sys_enter_openat", Kind: KindTracepoint, Definition: "syscalls:sys_enter_openat",
				Filter: "dfd == -100", Format: "name: sys_enter_openat\nID: 700\nformat:\n\tfield:int __syscall_nr;\toffset:8;\tsize:4;\tsigned:1;\n"},
			{Name: "kpcap_1:do_sys_openat2", Kind: KindKprobe, Definition: "p:do_sys_openat2 dfd=%di", Target: "do_sys_openat2"},
			{Name: "kpcap_1:do_sys_openat2__return", Kind: KindKretprobe, Definition: "r:do_sys_openat2 $retval", Target: "do_sys_openat2"},
		},
		Capture: Capture{Args: []string{"kpcap", "record", "-e", "syscalls:sys_enter_openat"}, Clock: "monotonic",
			BufferSize: 1 << 20, CallGraph: true, Targets: "system-wide", Extra: map[string]string{"k": "v"}},
		Notes: []string{"first note"},
	}
}

// genSample makes a deterministic sample i.
func genSample(i int, s *Sample) {
	s.Source = uint32(i % 3)
	s.Time = 1_000_000_000 + uint64(i)*1000
	s.CPU = uint32(i % 2)
	s.PID = uint32(100 + i%7)
	s.TID = s.PID + uint32(i%2)
	s.Raw = s.Raw[:0]
	for j := 0; j < i%37; j++ {
		s.Raw = append(s.Raw, byte(i+j))
	}
	s.Callchain = s.Callchain[:0]
	for j := 0; j < i%5; j++ {
		s.Callchain = append(s.Callchain, 0xffffffff81000000+uint64(i*16+j))
	}
}

// meta is the metadata every test trace carries.
var (
	testSymbols = []Symbol{{Addr: 0xffffffff81000100, Size: 0x80, Name: "do_sys_openat2"},
		{Addr: 0xffffffff81000000, Name: "_stext"}, {Addr: 0xffffffffc0000000, Size: 16, Name: "modfn", Module: "ext4"}}
	testFrames = []UserFrame{{PID: 100, Addr: 0x401000, Name: "main", Offset: 0, Object: "/usr/bin/x"},
		{PID: 101, Addr: 0x7f0000001234, Name: "", Offset: 0, Object: "/lib/libc.so.6"}}
	testComms = []Comm{{PID: 100, TID: 100, Time: 0, Comm: "bash"}, {PID: 100, TID: 100, Time: 1_000_050_000, Comm: "cat"},
		{PID: 101, TID: 102, Time: 5, Comm: "worker"}}
	testLost = []Lost{{Time: 1_000_002_000, CPU: 1, Source: 2, Count: 7}, {Time: 1_000_003_000, CPU: 0, Source: ^uint32(0), Count: 3}}
)

// writeTrace writes n generated samples with every metadata kind and
// returns the file bytes.
func writeTrace(t testing.TB, n int, opts *WriterOptions, closeIt bool) []byte {
	t.Helper()
	var out bytes.Buffer
	w, err := NewWriter(&out, testHeader(), opts)
	if err != nil {
		t.Fatal(err)
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(w.AddSymbols(testSymbols))
	must(w.AddUserFrames(testFrames))
	var s Sample
	for i := 0; i < n; i++ {
		genSample(i, &s)
		must(w.WriteSample(&s))
		if i < len(testComms) {
			must(w.AddComm(testComms[i]))
		}
		if i < len(testLost) {
			must(w.AddLost(testLost[i]))
		}
		if i == n/2 {
			must(w.AddNote(fmt.Sprintf("note at %d", i)))
		}
	}
	if closeIt {
		must(w.Close(nil))
	} else {
		must(w.Flush())
	}
	return out.Bytes()
}

func openBytes(t testing.TB, b []byte) *File {
	t.Helper()
	f, err := NewFile(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	return f
}
