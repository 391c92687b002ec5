package analyze

import "strconv"

// counterTrack declares a counter track.
func (pw *perfettoWriter) counterTrack(ts, uuid uint64, name, unit string) {
	pw.descriptor(ts, uuid, 0, name, func(p *pbuf) {
		p.begin(pfTrackCounter)
		p.str(pfCounterUnitName, unit) // a free-form unit, "instead" of the Unit enum
		p.end()
	})
}

// counter writes one value of a counter track.
func (pw *perfettoWriter) counter(ts, track uint64, v int64) {
	e := pw.startEvent(ts, pfTypeCounter, track)
	e.sint(pfEventCounterValue, v)
	pw.endEvent()
	pw.res.Counters++
}

// advance writes the counters due before ts: closed events/s bins and loss
// reports.
func (pw *perfettoWriter) advance(ts uint64) {
	pw.lostUntil(ts)
	bin := ts / pw.binNS
	if !pw.binSeen {
		pw.bin, pw.binSeen = bin, true
		return
	}
	if bin == pw.bin {
		return
	}
	pw.closeBin()
	if bin > pw.bin+1 {
		// A gap without events: the rate drops to zero until the next bin.
		pw.bin++
		pw.closeBin()
	}
	pw.bin = bin
}

// lostUntil writes the loss reports up to ts as cumulative counters per CPU.
func (pw *perfettoWriter) lostUntil(ts uint64) {
	for len(pw.lost) > 0 && pw.lost[0].Time <= ts {
		l := pw.lost[0]
		pw.lost = pw.lost[1:]
		u := trackUUID(trackLost, uint64(l.CPU))
		if _, ok := pw.lostSum[l.CPU]; !ok {
			pw.counterTrack(l.Time, u, "lost samples, CPU "+strconv.Itoa(int(l.CPU)), "samples lost (cumulative)")
		}
		pw.lostSum[l.CPU] += int64(l.Count)
		pw.counter(l.Time, u, pw.lostSum[l.CPU])
	}
}

// closeBin writes each source's rate in the current bin at the bin's start.
func (pw *perfettoWriter) closeBin() {
	ts := pw.bin * pw.binNS
	scale := 1e9 / float64(pw.binNS)
	for i := range pw.srcs {
		ps := &pw.srcs[i]
		if !ps.selected {
			continue
		}
		if !ps.rateTrack {
			if pw.counts[i] == 0 {
				continue
			}
			ps.rateTrack = true
			pw.counterTrack(ts, trackUUID(trackRate, uint64(i)), pw.r.File().Header.Sources[i].Name+" events/s", "events/s")
		}
		pw.counter(ts, trackUUID(trackRate, uint64(i)), int64(float64(pw.counts[i])*scale+0.5))
		pw.counts[i] = 0
	}
}
