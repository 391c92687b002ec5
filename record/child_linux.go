//go:build linux

package record

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"
)

// childMarker is argv[1] of the helper process that waits on a pipe before
// exec'ing the traced command (see MaybeRunChild).
const childMarker = "__kpcap_exec_child__"

// MaybeRunChild must be called at the start of the program (from an init
// function, which runs on the main thread) by every program that records
// with Options.Command. In the helper process kpcap starts for the command
// it waits until the events are attached, then execs the command and never
// returns; in any other process it returns at once.
//
// The helper execs from the main thread on purpose: the events are attached
// to that thread, and an exec from another thread would replace it.
func MaybeRunChild() {
	if len(os.Args) < 4 || os.Args[1] != childMarker {
		return
	}
	gate := os.NewFile(3, "kpcap-gate")
	var b [1]byte
	if n, _ := gate.Read(b[:]); n != 1 {
		os.Exit(127) // the recorder gave up before the command started
	}
	gate.Close()
	err := syscall.Exec(os.Args[2], os.Args[3:], os.Environ())
	fmt.Fprintf(os.Stderr, "kpcap: exec %s: %v\n", os.Args[2], err)
	os.Exit(127)
}

// childProc is the traced command, stopped before exec until release.
type childProc struct {
	cmd      *exec.Cmd
	gate     *os.File
	done     chan struct{}
	released bool
}

func selfExe() (string, error) {
	if p, err := os.Executable(); err == nil {
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	a := os.Args[0]
	if filepath.Base(a) != a {
		return filepath.Abs(a)
	}
	return exec.LookPath(a)
}

// startChild starts the helper for args.
func startChild(args []string) (*childProc, error) {
	path, err := exec.LookPath(args[0])
	if err != nil {
		return nil, &UsageError{fmt.Sprintf("command %q: %v", args[0], errors.Unwrap(err))}
	}
	if path, err = filepath.Abs(path); err != nil {
		return nil, err
	}
	exe, err := selfExe()
	if err != nil {
		return nil, fmt.Errorf("find own executable to start the command: %w", err)
	}
	r, w, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	cmd := &exec.Cmd{
		Path:       exe,
		Args:       append([]string{exe, childMarker, path}, args...),
		Stdin:      os.Stdin,
		Stdout:     os.Stdout,
		Stderr:     os.Stderr,
		ExtraFiles: []*os.File{r},
	}
	if err := cmd.Start(); err != nil {
		r.Close()
		w.Close()
		return nil, fmt.Errorf("start %s: %w", args[0], err)
	}
	r.Close()
	c := &childProc{cmd: cmd, gate: w, done: make(chan struct{})}
	go func() {
		cmd.Wait()
		close(c.done)
	}()
	return c, nil
}

func (c *childProc) pid() int { return c.cmd.Process.Pid }

// release lets the helper exec the command.
func (c *childProc) release() error {
	c.released = true
	_, err := c.gate.Write([]byte{1})
	c.gate.Close()
	if err != nil {
		return fmt.Errorf("start command: %w", err)
	}
	return nil
}

// abort ends a helper that was never released.
func (c *childProc) abort() {
	if c.released {
		return
	}
	c.gate.Close()
	<-c.done
}

// exitCode returns the command's exit status, 128+signal if it was killed,
// or -1 if it is still running a second after the capture stopped.
func (c *childProc) exitCode() int {
	select {
	case <-c.done:
	case <-time.After(time.Second):
		return -1
	}
	st := c.cmd.ProcessState
	if ws, ok := st.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return st.ExitCode()
}
