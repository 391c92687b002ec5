package analyze

import "sync"

// ProgressReporter is implemented by inputs that show progress. A pass
// that reads the trace's frames itself instead of calling Next (the
// summary's fast path) reports to it as its frames complete; a pass
// through Next reports nothing, since the input sees every batch.
type ProgressReporter interface {
	// PassProgress gives the running totals of the current direct pass:
	// events counted so far and compressed bytes of the frames read.
	// Calls never overlap and the totals only grow, except that a new
	// pass, or a pass handing over to Next, starts again from 0, 0.
	PassProgress(events uint64, bytes int64)
}

// passProgress serializes the progress reports of a pass's workers.
type passProgress struct {
	to     ProgressReporter // nil: nobody listens
	mu     sync.Mutex
	events uint64
	bytes  int64
}

func newPassProgress(in Input) *passProgress {
	pr, _ := in.(ProgressReporter)
	return &passProgress{to: pr}
}

// add counts one finished frame.
func (p *passProgress) add(events uint64, bytes int64) {
	if p.to == nil {
		return
	}
	p.mu.Lock()
	p.events += events
	p.bytes += bytes
	p.to.PassProgress(p.events, p.bytes)
	p.mu.Unlock()
}

// reset starts again from zero (a new pass, or the batch path taking over).
func (p *passProgress) reset() {
	if p.to == nil {
		return
	}
	p.mu.Lock()
	if p.events != 0 || p.bytes != 0 {
		p.events, p.bytes = 0, 0
		p.to.PassProgress(0, 0)
	}
	p.mu.Unlock()
}
