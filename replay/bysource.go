package replay

import (
	"fmt"
	"sort"

	"github.com/kpcap/kpcap/replay/internal/bysource"
)

func init() { bysource.Register(passBySource) }

// bsPlan is how the by-source pass decodes one source's samples.
type bsPlan struct {
	sd     *sourceDec // nil: the source's samples are skipped
	ints   []bsInt
	vars   []bsVar
	fields int // output columns
}

type bsInt struct {
	off, size int
	signed    bool
	out       int // index into Rows.Fields
}

type bsVar struct {
	fd  *fieldDec
	str bool // a utf8 column: NUL-trimmed, invalid UTF-8 replaced
	out int
}

// bySourcePlans lays out each source's output columns in the order of
// their schema columns, or fails for a trace the pass cannot decode as
// the Reader does.
func (r *Reader) bySourcePlans() ([]bsPlan, error) {
	o := r.opts
	if r.started || r.wide || len(o.Probes) > 0 || o.Filter != "" || o.Since != 0 || o.Until != 0 {
		return nil, bysource.ErrUnsupported
	}
	plans := make([]bsPlan, len(r.decs))
	for i, sd := range r.decs {
		if sd == nil {
			continue
		}
		// Output position of each schema column the source has.
		cols := make([]int, 0, len(r.infos[i].Fields))
		for _, c := range r.infos[i].Fields {
			cols = append(cols, c-numCommon)
		}
		sort.Ints(cols)
		pos := make(map[int]int, len(cols))
		for k, c := range cols {
			pos[c] = k
		}
		p := bsPlan{sd: sd, fields: len(cols)}
		used := make([]bool, len(cols))
		take := func(col int) (int, error) {
			k, ok := pos[col]
			if !ok || used[k] {
				// Two fields of one name in one format share a column
				// the Reader writes twice.
				return 0, bysource.ErrUnsupported
			}
			used[k] = true
			return k, nil
		}
		for _, f := range sd.ints {
			k, err := take(f.col)
			if err != nil {
				return nil, err
			}
			signed := false
			for _, fd := range sd.fields {
				if fd.col == f.col {
					signed = fd.f.Signed
				}
			}
			p.ints = append(p.ints, bsInt{off: f.off, size: f.size, signed: signed, out: k})
		}
		for j := range sd.vars {
			fd := &sd.vars[j]
			k, err := take(fd.col)
			if err != nil {
				return nil, err
			}
			p.vars = append(p.vars, bsVar{fd: fd, str: r.cols[fd.col].kind == colString, out: k})
		}
		plans[i] = p
	}
	// Frames the index says overlap would be merged: leave them to the
	// Reader at once (the pass checks the decoded times too).
	var last uint64
	seen := false
	for _, fi := range r.frames {
		fr := r.f.Frames[fi]
		if fr.Samples == 0 {
			continue
		}
		if seen && fr.FirstNS < last {
			return nil, bysource.ErrUnordered
		}
		seen, last = true, max(last, fr.LastNS)
	}
	return plans, nil
}

// bsFrame is one decoded frame of the pass.
type bsFrame struct {
	bysource.Frame
	fi           int
	n            int
	minTS, maxTS uint64
	stacks       chunk // its stackMap and stacks: the frame's callchains, in row order
	truncated    []uint64
	err          error
}

// passBySource implements bysource.PassFunc.
func passBySource(reader any, workers int, fn func(*bysource.Frame) error) error {
	r, ok := reader.(*Reader)
	if !ok {
		return bysource.ErrUnsupported
	}
	plans, err := r.bySourcePlans()
	if err != nil {
		return err
	}
	r.started = true // the Reader's batches are not available after a pass
	workers = max(1, min(workers, len(r.frames)))
	done := make(chan struct{})
	order := make(chan chan *bsFrame, 2*workers)
	jobs := make(chan bsJob)
	free := make(chan *bsFrame, 2*workers+2)
	go func() {
		defer close(order)
		defer close(jobs)
		for _, fi := range r.frames {
			ch := make(chan *bsFrame, 1)
			select {
			case order <- ch:
			case <-done:
				return
			}
			select {
			case jobs <- bsJob{fi, ch}:
			case <-done:
				close(ch) // no result will come
				return
			}
		}
	}()
	maxRaw := r.maxFrameRaw()
	for range workers {
		go func() {
			w := &bsWorker{r: r, plans: plans, free: free}
			fb := newFrameBuf(maxRaw)
			defer fb.free()
			buf := fb.bytes()
			for j := range jobs {
				var fr *bsFrame
				fr, buf = w.decodeFrame(j.fi, buf)
				j.out <- fr // buffered
			}
		}()
	}
	defer func() {
		close(done)
		for ch := range order { // lets the dispatcher and workers end
			<-ch
		}
		// Every frame dispatched is decoded: the workers touch nothing
		// more of the Reader.
	}()
	return r.consumeBySource(order, free, fn)
}

type bsJob struct {
	fi  int
	out chan *bsFrame
}

// consumeBySource hands the decoded frames to fn in frame order, with
// the Reader's stack ids and warnings.
func (r *Reader) consumeBySource(order chan chan *bsFrame, free chan *bsFrame, fn func(*bysource.Frame) error) error {
	var last uint64
	emitted := false
	var ids []int64
	for ch := range order {
		fr := <-ch
		r.mu.Lock()
		for k, v := range fr.truncated {
			r.truncated[k] += v
		}
		r.mu.Unlock()
		if fr.err != nil {
			r.warnf("%v (the frame's samples from there on are lost)", fmt.Errorf("frame %d: %w", fr.fi, fr.err))
		}
		if fr.n > 0 {
			if emitted && fr.minTS < last {
				return bysource.ErrUnordered
			}
			emitted, last = true, max(last, fr.maxTS)
			// Stack ids go by first use in the Reader's row order.
			ids = ids[:0]
			for _, k := range fr.stacks.stacks {
				ids = append(ids, r.stacks.intern(k))
			}
			for _, rows := range fr.Sources {
				if rows != nil {
					for i, s := range rows.Stack.I64 {
						rows.Stack.I64[i] = ids[s]
					}
				}
			}
			r.rows.Add(int64(fr.n))
			fr.CommDict = r.commDict
			if err := fn(&fr.Frame); err != nil {
				return err
			}
		}
		select {
		case free <- fr:
		default:
		}
	}
	return nil
}
