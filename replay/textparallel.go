package replay

import (
	"io"
	"sync"

	"github.com/apache/arrow/go/v17/arrow"
)

// lineJob is one batch to format, and where its text goes.
type lineJob struct {
	rec arrow.Record
	out chan lineText
}

// lineText is the formatted text of one batch.
type lineText struct {
	text []byte
	rows int64
}

// writeLinesParallel formats batches on workers goroutines and writes them
// in order. In flight: at most 2*workers batches of text.
func writeLinesParallel(r *Reader, w io.Writer, json bool, workers int) (int64, error) {
	order := make(chan chan lineText, 2*workers)
	jobs := make(chan lineJob)
	done := make(chan struct{})
	free := make(chan []byte, 3*workers)
	go feedLines(r, order, jobs, done)
	var wg sync.WaitGroup
	for i := 0; i < workers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			formatLines(r, json, jobs, free)
		}()
	}
	var n int64
	var werr error
	for ch := range order {
		res := <-ch
		if werr == nil {
			if _, werr = w.Write(res.text); werr != nil {
				close(done)
			} else {
				n += res.rows
			}
		}
		select {
		case free <- res.text:
		default:
		}
	}
	wg.Wait()
	if werr != nil {
		return n, werr
	}
	return n, r.Err()
}

// feedLines queues r's batches as jobs, and their results in order, until
// the batches end or done is closed.
func feedLines(r *Reader, order chan<- chan lineText, jobs chan<- lineJob, done <-chan struct{}) {
	defer close(order)
	defer close(jobs)
	for r.Next() {
		rec := r.Record()
		rec.Retain()
		ch := make(chan lineText, 1)
		select {
		case order <- ch:
		case <-done:
			rec.Release()
			return
		}
		select {
		case jobs <- lineJob{rec, ch}:
		case <-done:
			rec.Release()
			ch <- lineText{} // already queued in order: the writer waits for it
			return
		}
	}
}

// formatLines formats the batches of jobs into buffers taken from free
// when it has one.
func formatLines(r *Reader, json bool, jobs <-chan lineJob, free <-chan []byte) {
	tw := &textWriter{r: r, json: json, collect: true, lineLen: 128}
	for j := range jobs {
		select {
		case tw.buf = <-free:
		default:
			tw.buf = nil
		}
		tw.buf = tw.buf[:0]
		// Size the buffer for the whole batch up front: growing
		// it line by line copies it over and over.
		if need := int(j.rec.NumRows()) * tw.lineLen; cap(tw.buf) < need {
			tw.buf = make([]byte, 0, need+need/8)
		}
		tw.batch(j.rec)
		if rows := int(j.rec.NumRows()); rows > 0 {
			tw.lineLen = len(tw.buf)/rows + 8
		}
		j.out <- lineText{tw.buf, j.rec.NumRows()}
		j.rec.Release()
	}
}
