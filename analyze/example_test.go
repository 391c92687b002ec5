package analyze_test

import (
	"fmt"
	"log"

	"github.com/kpcap/kpcap/analyze"
	"github.com/kpcap/kpcap/replay"
)

// Summarize reads a trace once (with replay's counting pass when it can)
// and counts its events per source, CPU, comm, process and field value, the
// TopN largest of each.
func ExampleSummarize() {
	r, err := replay.Open("../testdata/kernels/openat-6.1.pcapng.zst", replay.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer r.Close()
	s, err := analyze.Summarize(r, analyze.SummaryOptions{TopN: 3})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(s.Events, "events, lost", s.LostTotal)
	for _, src := range s.Sources {
		fmt.Println(src.Name, src.Events)
	}
	for _, c := range s.Comms {
		fmt.Println("comm", c.Name, c.Count)
	}
	// Output:
	// 508 events, lost 0
	// sched:sched_process_exec 79
	// sched:sched_process_exit 87
	// kprobes:openat2 171
	// kprobes:openat2_ret 171
	// comm cat 248
	// comm exe 79
	// comm sh 66
}
