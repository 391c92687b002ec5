//go:build linux

package record

import (
	"context"
	"fmt"
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
	sk := &stallSink{started: make(chan struct{}), release: make(chan struct{})}
	force := make(chan struct{})
	// The writer goes on only once the capture has taken the forced stop
	// in: released before, it may write every sample first.
	forceSeen := make(chan struct{})
	c := recordCounted(t, captureSpec{
		opts: Options{Force: force, Filter: fmt.Sprintf("common_pid == %d", tid),
			forceSeen: func() { close(forceSeen) }},
		srcs: []*source{tracepointSource(t, "syscalls", "sys_enter_getppid"), tracepointSource(t, "syscalls", "sys_exit_getppid")},
		wrap: func(w sink) sink { sk.sink = w; return sk },
		during: func(stop context.CancelFunc) {
			close(start)
			<-done
			select {
			case <-sk.started:
			case <-time.After(20 * time.Second):
				t.Fatal("the writer never wrote a sample")
			}
			stop()
			time.Sleep(50 * time.Millisecond)
			close(force)
			select {
			case <-forceSeen:
			case <-time.After(20 * time.Second):
				t.Fatal("the capture never took the forced stop in")
			}
			close(sk.release)
		},
	})
	res, file, counts, lostOf := c.res, c.file, c.counts, c.lostOf
	t.Logf("recorded %v, lost %d, lost records %d (sum %d)", counts, res.Lost, len(file.Lost), c.lost)
	if res.Lost == 0 {
		t.Errorf("the forced stop went on writing %v samples instead of counting the unwritten ones lost", counts)
	}
	if res.Samples+res.Lost != 2*n || c.lost != res.Lost {
		t.Errorf("result %d recorded + %d lost, want %d in all; Lost records sum %d", res.Samples, res.Lost, 2*n, c.lost)
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
