package analyze

import (
	"strconv"

	"github.com/kpcap/kpcap/analyze/latency"
)

// Track uuids: a kind in the top byte, an id below.
const (
	trackProcess uint64 = iota + 1
	trackThread
	trackIdle // tid 0, one per CPU: the idle tasks share the tid
	trackCPU
	trackRate
	trackLost
)

func trackUUID(kind, id uint64) uint64 { return kind<<56 | id&(1<<56-1) }

// pfThread is a thread's track: by pid and tid, so that a tid reused by
// another process gets its own track (Perfetto refuses a track whose
// descriptor changes its pid), and the comm index it was last named with.
type pfThread struct {
	uuid uint64
	comm int32
	pid  int32
}

// comm is the command name of comm index ci, "" for none.
func (pw *perfettoWriter) comm(ci int32) string {
	if ci < 0 || int(ci) >= len(pw.comms) {
		return ""
	}
	return pw.comms[ci]
}

// threadTrack returns the track of an event's task, declaring its process
// and thread (again when its comm changed, which renames it from ts on).
func (pw *perfettoWriter) threadTrack(ts uint64, pid, tid int32, cpu uint32, ci int32) uint64 {
	if l := &pw.last; l.ok && l.tid == tid && l.pid == pid && l.ci == ci && tid != 0 {
		return l.uuid
	}
	u := pw.declareTask(ts, pid, tid, cpu, ci)
	pw.last.ok, pw.last.pid, pw.last.tid, pw.last.ci, pw.last.uuid = true, pid, tid, ci, u
	return u
}

// declareTask returns the track of a task, writing the descriptors of its
// process and thread when new or renamed; tid 0 is its CPU's idle task.
func (pw *perfettoWriter) declareTask(ts uint64, pid, tid int32, cpu uint32, ci int32) uint64 {
	if tid == 0 {
		u := trackUUID(trackIdle, uint64(cpu))
		if !pw.idle[cpu] {
			pw.idle[cpu] = true
			pw.descriptor(ts, u, 0, "CPU "+strconv.Itoa(int(cpu))+" idle task (tid 0)", nil)
		}
		return u
	}
	proc := trackUUID(trackProcess, uint64(uint32(pid)))
	if old, ok := pw.processes[pid]; !ok || (tid == pid && old != ci) {
		pw.processes[pid] = ci
		name := pw.comm(ci)
		pw.descriptor(ts, proc, 0, "", func(p *pbuf) {
			p.begin(pfTrackProcess)
			p.sint(pfProcessPID, int64(pid))
			if name != "" {
				p.str(pfProcessName, name)
			}
			p.end()
		})
	}
	th, ok := pw.threads[tid]
	if ok && th.comm == ci && th.pid == pid {
		return th.uuid
	}
	u := trackUUID(trackThread, uint64(uint32(pid))<<28|uint64(uint32(tid))&(1<<28-1))
	pw.threads[tid] = pfThread{uuid: u, comm: ci, pid: pid}
	name := pw.comm(ci)
	pw.descriptor(ts, u, proc, "", func(p *pbuf) {
		p.begin(pfTrackThread)
		p.sint(pfThreadPID, int64(pid))
		p.sint(pfThreadTID, int64(tid))
		if name != "" {
			p.str(pfThreadName, name)
		}
		p.end()
	})
	return u
}

// keyTrack is the track of a pairing key (thread keys only).
func (pw *perfettoWriter) keyTrack(k latency.Key) uint64 {
	if k.N&(1<<63) != 0 {
		return trackUUID(trackIdle, k.N&^(1<<63))
	}
	return pw.threads[int32(uint32(k.N))].uuid
}

// schedSwitch ends the slice running on cpu and begins the next task's.
func (pw *perfettoWriter) schedSwitch(i int, ts uint64, cpu uint32, ps *pfSource, stack int64) {
	u := trackUUID(trackCPU, uint64(cpu))
	open, known := pw.cpuOpen[cpu]
	if !known {
		pw.descriptor(ts, u, 0, "CPU "+strconv.Itoa(int(cpu))+" (sched_switch)", nil)
	}
	if open {
		pw.startEvent(ts, pfTypeSliceEnd, u)
		pw.endEvent()
	}
	comm, _ := valueString(pw.cols[ps.nextComm], i)
	pid, _ := valueString(pw.cols[ps.nextPID], i)
	name := comm + " [" + pid + "]"
	id, ok := pw.events[name]
	if !ok && pw.dynamic < maxInterned {
		pw.dynamic++
		id, ok = pw.intern(pfInternEventNames, name), true
	}
	e := pw.startEvent(ts, pfTypeSliceBegin, u)
	if ok {
		e.varint(pfEventNameIID, id)
	} else {
		e.str(pfEventName, name)
	}
	pw.annotations(e, i, ps, 0)
	pw.callstack(e, stack)
	pw.endEvent()
	pw.cpuOpen[cpu] = true
	pw.res.CPUSlices++
}
