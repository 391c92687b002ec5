package format_test

import (
	"fmt"
	"log"

	"github.com/kpcap/kpcap/format"
)

// Open reads a trace's header and frame index; ReadFrame and
// ForEachSample walk its samples, frame by frame (in file order).
func ExampleOpen() {
	f, err := format.Open("../testdata/kernels/openat-6.1.pcapng.zst")
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()
	fmt.Println("kernel:", f.Header.Host.Kernel)
	for _, s := range f.Header.Sources {
		fmt.Println("source:", s.Name, s.Kind)
	}
	var n int
	for i := range f.Frames {
		data, err := f.ReadFrame(i, nil)
		if err != nil {
			log.Fatal(err)
		}
		if err := format.ForEachSample(data, func(*format.Sample) error { n++; return nil }); err != nil {
			log.Fatal(err)
		}
	}
	fmt.Println("samples:", n)
	// Output:
	// kernel: 6.1.0-56-amd64
	// source: sched:sched_process_exec tracepoint
	// source: sched:sched_process_exit tracepoint
	// source: kprobes:openat2 kprobe
	// source: kprobes:openat2_ret kretprobe
	// samples: 508
}
