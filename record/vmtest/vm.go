//go:build linux

package vmtest

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"
)

// VM is one qemu boot.
type VM struct {
	Arch    *Arch         // nil: amd64
	Kernel  string        // vmlinuz path
	Initrd  string        // initramfs path
	Dir     string        // where the serial outputs and returned files go
	Timeout time.Duration // for the whole boot; default 180 s
}

// Result is what came back from one boot.
type Result struct {
	Release  string        // uname -r inside the VM
	BootTime float64       // guest uptime (s) when /init started
	Uptime   float64       // guest uptime (s) when all jobs were done
	Wall     time.Duration // host time from qemu start to exit
	Jobs     map[string]*JobResult
	Order    []string // job names in the order they ran
	Console  string   // the kernel console (ttyS0, ttyAMA0)
	Serial   string   // the raw job channel (ttyS1, hvc0)
}

// JobResult is the outcome of one job.
type JobResult struct {
	Name    string
	RC      int               // exit status of the script (137 when its time limit killed it)
	Log     string            // stdout and stderr of the script
	Files   map[string]string // file name -> host path of the copy
	Seconds float64           // guest time the job took
}

// Run boots the VM and waits for it to power off, then parses the job
// channel. Errors carry the tail of the kernel console.
func (vm *VM) Run(ctx context.Context) (*Result, error) {
	timeout := vm.Timeout
	if timeout == 0 {
		timeout = 180 * time.Second
	}
	if err := os.MkdirAll(vm.Dir, 0o755); err != nil {
		return nil, err
	}
	consolePath := filepath.Join(vm.Dir, "console.txt")
	serialPath := filepath.Join(vm.Dir, "serial.txt")
	os.Remove(consolePath)
	os.Remove(serialPath)

	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	arch := vm.Arch
	if arch == nil {
		arch = Archs["amd64"]
	}
	cmd := exec.CommandContext(ctx, arch.Qemu, arch.qemuArgs(vm.Kernel, vm.Initrd, consolePath, serialPath)...)
	var qout bytes.Buffer
	cmd.Stdout = &qout
	cmd.Stderr = &qout
	start := time.Now()
	runErr := cmd.Run()
	res := &Result{Wall: time.Since(start), Jobs: map[string]*JobResult{}}
	console, _ := os.ReadFile(consolePath)
	serial, _ := os.ReadFile(serialPath)
	res.Console = string(console)
	res.Serial = string(serial)

	fail := func(format string, a ...any) (*Result, error) {
		msg := fmt.Sprintf(format, a...)
		return res, fmt.Errorf("%s\nqemu output:\n%s\nVM console tail (%s):\n%s\njob channel tail (%s):\n%s",
			msg, tail(qout.Bytes(), 1000), consolePath, tail(console, 3000), serialPath, tail(serial, 3000))
	}
	if ctx.Err() == context.DeadlineExceeded {
		return fail("VM did not power off within %v (kernel %s)", timeout, vm.Kernel)
	}
	if runErr != nil {
		return fail("%s: %v", arch.Qemu, runErr)
	}
	if err := parseSerial(serial, vm.Dir, res); err != nil {
		return fail("job channel: %v", err)
	}
	return res, nil
}

// tail returns the last n bytes of b as a string.
func tail(b []byte, n int) string {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}
