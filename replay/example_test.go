package replay_test

import (
	"fmt"
	"log"

	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/kpcap/kpcap/replay"
)

// A Reader hands out Arrow record batches in time order; each row is one
// sample, its event fields decoded into typed columns. Probes and Filter
// select rows as kpcap replay's --probe and --filter do.
func ExampleReader() {
	r, err := replay.Open("../testdata/kernels/openat-6.1.pcapng.zst", replay.Options{
		Probes: []string{"kprobes:openat2"},
		Filter: `filename ~ "/etc/*"`,
	})
	if err != nil {
		log.Fatal(err)
	}
	defer r.Close()
	filename := -1 // the column of the selected source's filename field
	for _, src := range r.Sources() {
		if src.Selected {
			filename = r.FieldColumn(src.Index, "filename")
		}
	}
	var files []string
	for r.Next() {
		rec := r.Record() // valid until the next call to Next
		comm := rec.Column(rec.Schema().FieldIndices(replay.ColComm)[0]).(*array.Dictionary)
		comms := comm.Dictionary().(*array.String)
		name := rec.Column(filename).(*array.String)
		for i := 0; i < name.Len(); i++ {
			files = append(files, comms.Value(comm.GetValueIndex(i))+" "+name.Value(i))
		}
	}
	if err := r.Err(); err != nil {
		log.Fatal(err)
	}
	fmt.Println(len(files), "opens under /etc, the first:", files[0])
	// Output:
	// 30 opens under /etc, the first: ls /etc/group
}
