//go:build linux

package record

import (
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/kpcap/kpcap/format"
	"golang.org/x/sys/unix"
)

// output is where the capture writes: the file, or the set of files when
// rotating.
type output struct {
	out  sink
	file *os.File
	w    *format.Writer // out, unless a test replaced it
	path string         // the file being written

	// rotation, when the recording is a set of files (nil until the
	// first rotation otherwise)
	rot       *rotation
	sizeCheck int         // samples until the next size check
	stopReq   atomic.Bool // a limit (MaxSize) asks the reader to stop
	limits    sizeWatch   // the size limits' state (sizecap_linux.go)
	closed    bool        // finish closed the last file
}

// createOutput opens the file (the set's first, when rotating) and writes
// the header frame.
func (c *capture) createOutput() error {
	o := c.opts
	c.sizeCheck = sizeCheckEvery
	if o.sink != nil {
		c.out = o.sink
		return nil
	}
	if o.snapshots() {
		return c.newFlightRecorder()
	}
	if o.rotates() {
		start := monotonicNS()
		c.rot = c.newRotation(start)
		return c.openFile(format.SetFileName(o.Output, 1), c.rot.info(start))
	}
	return c.openFile(o.Output, nil)
}

// defaultVersion is stored in the files written when Options.Version is empty.
const defaultVersion = "0.1.0"

func (c *capture) targets() string {
	o := c.opts
	var t string
	switch {
	case len(o.Command) > 0:
		t = "command " + strings.Join(o.Command, " ")
	case o.PID != 0:
		t = "pid " + strconv.Itoa(o.PID)
	case c.cg != nil:
		t = c.cg.describe()
	default:
		t = "system-wide"
	}
	if len(o.CPUs) > 0 {
		t += ", cpus " + FormatCPUList(c.cpus)
	}
	return t
}

func hostInfo() format.Host {
	var u unix.Utsname
	unix.Uname(&u)
	wall := time.Now().UnixNano()
	mono := monotonicNS()
	h := format.Host{
		Kernel:       unix.ByteSliceToString(u.Release[:]),
		Version:      unix.ByteSliceToString(u.Version[:]),
		Machine:      unix.ByteSliceToString(u.Machine[:]),
		OS:           "linux",
		CPUs:         runtime.NumCPU(),
		PageSize:     os.Getpagesize(),
		WallOffsetNS: wall - int64(mono),
	}
	h.Hostname, _ = os.Hostname()
	if h.Hostname == "" {
		h.Hostname = unix.ByteSliceToString(u.Nodename[:])
	}
	return h
}

// finish writes symbols and statistics and closes the (last) file.
func (c *capture) finish() error {
	if c.out == nil {
		return nil
	}
	var serr error
	if c.snap != nil && c.snap.pending != "" {
		// A trigger's --after delay outlived the recording: write it now.
		why := c.snap.pending
		c.snap.pending = ""
		serr = c.writeSnapshot(why)
	}
	end, _ := c.spanEnd(max(c.lastNS, monotonicNS()))
	_, err := c.closeFile(end, true)
	if serr != nil {
		return serr
	}
	c.closed = true
	return err
}
