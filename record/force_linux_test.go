//go:build linux

package record

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/kpcap/kpcap/format"
)

// stallSink blocks the writer on its first sample until released, so that
// at a forced stop samples are left both copied (unwritten) and in the rings.
type stallSink struct {
	sink
	started chan struct{}
	release chan struct{}
	once    bool
}

func (s *stallSink) WriteSample(smp *format.Sample) error {
	if !s.once {
		s.once = true
		close(s.started)
		<-s.release
	}
	return s.sink.WriteSample(smp)
}

// TestForcedStopCountsDiscarded stops a capture with a second "Ctrl-C"
// (Options.Force) while samples wait in memory and in the rings: whatever
// is not written must be counted lost, in the result, the file's Lost
// records and its statistics.
func TestForcedStopCountsDiscarded(t *testing.T) {
	requireRoot(t)
	const n = 50000
	tidc := make(chan int, 1)
	start := make(chan struct{})
	done := make(chan struct{})
	go syscallBurst(n, tidc, start, done)
	tid := <-tidc
	src := tracepointSource(t, "syscalls", "sys_enter_getppid")
	exit := tracepointSource(t, "syscalls", "sys_exit_getppid")
	out := filepath.Join(t.TempDir(), "force.pcapng.zst")
	f, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w, err := format.NewWriter(f, &format.Header{Application: "test", Sources: []format.Source{src.desc, exit.desc}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	sk := &stallSink{sink: w, started: make(chan struct{}), release: make(chan struct{})}
	force := make(chan struct{})
	ready := make(chan struct{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	type ret struct {
		res *Result
		err error
	}
	rc := make(chan ret, 1)
	go func() {
		res, err := runDirect(ctx, Options{Output: out, sink: sk, Force: force, Ready: func() { close(ready) },
			Filter: fmt.Sprintf("common_pid == %d", tid)}, src, exit)
		rc <- ret{res, err}
	}()
	select {
	case <-ready:
	case r := <-rc:
		t.Fatalf("Run ended before it was ready: %v", r.err)
	}
	close(start)
	<-done
	select {
	case <-sk.started:
	case <-time.After(20 * time.Second):
		t.Fatal("the writer never wrote a sample")
	}
	cancel()
	time.Sleep(50 * time.Millisecond)
	close(force)
	close(sk.release)
	var r ret
	select {
	case r = <-rc:
	case <-time.After(30 * time.Second):
		t.Fatal("forced stop did not end the capture")
	}
	if r.err != nil {
		t.Fatal(r.err)
	}
	res := r.res
	file, err := format.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	counts, err := countSamples(t, file, nil)
	if err != nil {
		t.Fatal(err)
	}
	lostOf := map[uint32]uint64{}
	var lostInFile uint64
	for _, l := range file.Lost {
		lostInFile += l.Count
		lostOf[l.Source] += l.Count
	}
	t.Logf("recorded %v, lost %d, lost records %d (sum %d)", counts, res.Lost, len(file.Lost), lostInFile)
	if res.Lost == 0 {
		t.Errorf("the forced stop went on writing %v samples instead of counting the unwritten ones lost", counts)
	}
	if res.Samples+res.Lost != 2*n || lostInFile != res.Lost {
		t.Errorf("result %d recorded + %d lost, want %d in all; Lost records sum %d", res.Samples, res.Lost, 2*n, lostInFile)
	}
	for i, st := range res.Stats.Sources {
		got := uint64(counts[uint32(i)])
		if got+st.Lost != n || lostOf[uint32(i)] != st.Lost || len(file.Stats) != 2 ||
			file.Stats[i].Received != got || file.Stats[i].Dropped != st.Lost || st.Samples != got {
			t.Errorf("%s: file holds %d, result %d recorded + %d lost (Lost records %d), want %d in all; file stats %+v",
				st.Name, got, st.Samples, st.Lost, lostOf[uint32(i)], n, file.Stats)
		}
	}
}
