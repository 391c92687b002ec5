package format

import (
	"bytes"
	"testing"
)

// TestCgroupRoundTrip writes cgroup paths and thread moves across several
// frames and reads each thread's cgroup back at times before, at and after
// its moves.
func TestCgroupRoundTrip(t *testing.T) {
	var out bytes.Buffer
	w, err := NewWriter(&out, testHeader(), &WriterOptions{FrameBytes: 4096})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.AddCgroups([]Cgroup{{ID: 7, Path: "/"}, {ID: 4242, Path: "/system.slice/nginx.service"}}); err != nil {
		t.Fatal(err)
	}
	var s Sample
	for i := 0; i < 2000; i++ {
		genSample(i, &s)
		if err := w.WriteSample(&s); err != nil {
			t.Fatal(err)
		}
		switch i {
		case 10:
			err = w.AddTaskCgroup(TaskCgroup{PID: 100, TID: 100, Time: 0, ID: 7})
		case 1000:
			err = w.AddTaskCgroup(TaskCgroup{PID: 100, TID: 100, Time: 2_000_000_000, ID: 4242})
		case 1500:
			err = w.AddTaskCgroup(TaskCgroup{PID: 101, TID: 102, Time: 5, ID: 99})
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(nil); err != nil {
		t.Fatal(err)
	}
	f := openBytes(t, out.Bytes())
	if len(f.Frames) < 2 {
		t.Fatalf("want the records spread over several frames, got %d frames", len(f.Frames))
	}
	if !f.HasCgroups() || len(f.Cgroups) != 2 || len(f.TaskCgroups) != 3 {
		t.Fatalf("cgroups %+v tasks %+v", f.Cgroups, f.TaskCgroups)
	}
	for _, c := range []struct {
		tid  uint32
		t    uint64
		want string
		ok   bool
	}{
		{100, 0, "/", true},
		{100, 1_999_999_999, "/", true},
		{100, 2_000_000_000, "/system.slice/nginx.service", true},
		{100, 9_000_000_000, "/system.slice/nginx.service", true},
		{102, 1, "cgroup:99", true}, // before its first record: that record
		{103, 1, "", false},
	} {
		got, ok := f.CgroupOf(c.tid, c.t)
		if got != c.want || ok != c.ok {
			t.Errorf("CgroupOf(%d, %d) = %q, %v; want %q, %v", c.tid, c.t, got, ok, c.want, c.ok)
		}
	}
}

// TestCgroupAbsent checks that a file without cgroup records says so.
func TestCgroupAbsent(t *testing.T) {
	f := openBytes(t, writeTrace(t, 100, nil, true))
	if f.HasCgroups() {
		t.Fatal("HasCgroups on a file recorded without --cgroup")
	}
	if p, ok := f.CgroupOf(100, 0); ok {
		t.Fatalf("CgroupOf = %q", p)
	}
}
