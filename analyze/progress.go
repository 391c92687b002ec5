package analyze

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
