//go:build linux

package vmtest

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"debug/elf"
	"embed"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Kernel is a Debian kernel image package the harness can boot.
type Kernel struct {
	Name    string   // short name used in file and test names, e.g. "6.1"
	Package string   // Debian binary package, e.g. "linux-image-6.1.0-56-amd64"
	Arch    string   // its architecture (a key of Archs); "" is amd64
	Jobs    []string // the jobs that run on it, nil for every job
}

// Kernels are the kernels the VM tests run on: the oldest and newest
// Debian 12 kernel lines, whose kprobe PMU types and trace formats differ,
// and the newest on arm64, where the jobs that are not about x86-64 run
// (register names and syscall entry points differ).
var Kernels = []Kernel{
	{Name: "6.1", Package: "linux-image-6.1.0-56-amd64"},
	{Name: "6.12", Package: "linux-image-6.12.117+deb12-amd64"},
	{Name: "6.12-arm64", Package: "linux-image-6.12.117+deb12-arm64", Arch: "arm64",
		Jobs: []string{"regs", "openat", "bpfprobes", "retprobes", "btfnames", "btfcheck", "globs", "cleanup"}},
}

//go:embed init.sh
var initScript string

//go:embed lib.sh
var libScript string

//go:embed jobs/*.sh
var jobFS embed.FS

// Job is one shell script run inside the VM, in its own output directory
// ($OUT); every file the job leaves there comes back to the host.
type Job struct {
	Name   string // file name without ".sh"
	Script string
}

// Jobs returns the embedded job scripts by name.
func Jobs() (map[string]Job, error) {
	ents, err := jobFS.ReadDir("jobs")
	if err != nil {
		return nil, fmt.Errorf("read embedded jobs: %w", err)
	}
	jobs := make(map[string]Job, len(ents))
	for _, e := range ents {
		b, err := jobFS.ReadFile(path.Join("jobs", e.Name()))
		if err != nil {
			return nil, fmt.Errorf("read embedded job %s: %w", e.Name(), err)
		}
		name := strings.TrimSuffix(e.Name(), ".sh")
		jobs[name] = Job{Name: name, Script: string(b)}
	}
	return jobs, nil
}

// CacheDir is where downloaded kernels are kept: $KPCAP_CACHE/kernels, by
// default ~/.cache/kpcap/kernels.
func CacheDir() (string, error) {
	base := os.Getenv("KPCAP_CACHE")
	if base == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("find cache dir (set KPCAP_CACHE): %w", err)
		}
		base = filepath.Join(home, ".cache", "kpcap")
	}
	return filepath.Join(base, "kernels"), nil
}

// FetchKernel returns the path of k's vmlinuz under cacheDir, downloading the
// package with apt-get and unpacking its boot/vmlinuz-* on first use.
func FetchKernel(ctx context.Context, k Kernel, cacheDir string) (string, error) {
	a, err := ArchOf(k)
	if err != nil {
		return "", err
	}
	dst := filepath.Join(cacheDir, k.Package, "vmlinuz")
	if err := fetchDebMember(ctx, k.Package+":"+a.GOARCH, "boot/vmlinuz-", dst); err != nil {
		return "", err
	}
	return dst, nil
}

// fetchDebMember makes dst a copy of the first file of Debian package pkg
// ("name:arch") whose path starts with prefix, downloading the package with
// apt-get download (never installing it) unless dst already exists.
func fetchDebMember(ctx context.Context, pkg, prefix, dst string) error {
	if fi, err := os.Stat(dst); err == nil && fi.Size() > 0 {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return fmt.Errorf("vmtest cache: %w", err)
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dst), "download-")
	if err != nil {
		return fmt.Errorf("vmtest cache: %w", err)
	}
	defer os.RemoveAll(tmp)

	download := func() ([]byte, error) {
		cmd := exec.CommandContext(ctx, "apt-get", "download", pkg)
		cmd.Dir = tmp
		return cmd.CombinedOutput()
	}
	out, err := download()
	if err != nil && bytes.Contains(out, []byte("Unable to locate")) {
		// The package lists may be stale or missing: refresh once and retry.
		if uout, uerr := exec.CommandContext(ctx, "apt-get", "update").CombinedOutput(); uerr != nil {
			return fmt.Errorf("apt-get update: %v\n%s", uerr, tail(uout, 2000))
		}
		out, err = download()
	}
	if err != nil {
		hint := ""
		if name, arch, ok := strings.Cut(pkg, ":"); ok && bytes.Contains(out, []byte("Unable to locate")) {
			hint = fmt.Sprintf(" (for another architecture's %s, apt needs it: dpkg --add-architecture %s && apt-get update)", name, arch)
		}
		return fmt.Errorf("apt-get download %s: %v%s\n%s", pkg, err, hint, tail(out, 2000))
	}
	debs, _ := filepath.Glob(filepath.Join(tmp, "*.deb"))
	if len(debs) != 1 {
		return fmt.Errorf("apt-get download %s: expected one .deb, found %d", pkg, len(debs))
	}
	part := dst + ".part"
	if err := extractMember(ctx, debs[0], prefix, part); err != nil {
		os.Remove(part)
		return err
	}
	// Rename is atomic: a concurrent test process sees a whole file or none.
	if err := os.Rename(part, dst); err != nil {
		return fmt.Errorf("vmtest cache: %w", err)
	}
	return nil
}

// extractMember copies the first regular file of a .deb whose path starts
// with prefix to dst, reading the data tarball through dpkg-deb (the same
// contents dpkg -x unpacks) without writing the rest (hundreds of MB of
// kernel modules) to disk.
func extractMember(ctx context.Context, deb, prefix, dst string) error {
	cmd := exec.CommandContext(ctx, "dpkg-deb", "--fsys-tarfile", deb)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	r, err := cmd.StdoutPipe()
	if err != nil {
		return fmt.Errorf("dpkg-deb: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("dpkg-deb: %w", err)
	}
	found := false
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			cmd.Process.Kill()
			cmd.Wait()
			return fmt.Errorf("read %s: %w", deb, err)
		}
		name := strings.TrimPrefix(h.Name, "./")
		if found || h.Typeflag != tar.TypeReg || !strings.HasPrefix(name, prefix) {
			continue
		}
		f, err := os.Create(dst)
		if err != nil {
			cmd.Process.Kill()
			cmd.Wait()
			return fmt.Errorf("vmtest cache: %w", err)
		}
		_, err = io.Copy(f, tr)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			cmd.Process.Kill()
			cmd.Wait()
			return fmt.Errorf("extract %s from %s: %w", name, deb, err)
		}
		found = true
	}
	if err := cmd.Wait(); err != nil {
		return fmt.Errorf("dpkg-deb --fsys-tarfile %s: %v\n%s", deb, err, tail(stderr.Bytes(), 2000))
	}
	if !found {
		return fmt.Errorf("%s has no %s*", deb, prefix)
	}
	return nil
}

// ModuleRoot returns the directory holding go.mod, searching upwards from dir.
func ModuleRoot(dir string) (string, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d, nil
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("no go.mod above %s", dir)
		}
	}
}

// BuildKpcap builds a static linux kpcap binary for goarch from the module at root.
func BuildKpcap(ctx context.Context, root, goarch, out string) error {
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = "/usr/local/go/bin/go"
	}
	cmd := exec.CommandContext(ctx, goBin, "build", "-trimpath", "-o", out, "./cmd/kpcap")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+goarch)
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("GOARCH=%s go build ./cmd/kpcap: %v\n%s", goarch, err, tail(b, 4000))
	}
	return nil
}

// BuildTestBinary compiles the tests of package pkg (e.g. "./record/internal/tracefs")
// into a static linux test binary for goarch at out, with the given build
// tags, to run inside the VM.
func BuildTestBinary(ctx context.Context, root, pkg, goarch, out string, tags ...string) error {
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = "/usr/local/go/bin/go"
	}
	args := []string{"test", "-c", "-trimpath", "-o", out}
	if len(tags) > 0 {
		args = append(args, "-tags", strings.Join(tags, ","))
	}
	cmd := exec.CommandContext(ctx, goBin, append(args, pkg)...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+goarch)
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go test -c %s: %v\n%s", pkg, err, tail(b, 4000))
	}
	return nil
}

// CheckStatic verifies that bin is a statically linked ELF executable for
// machine m, the only kind that runs in the bare initramfs.
func CheckStatic(bin string, m elf.Machine) error {
	f, err := elf.Open(bin)
	if err != nil {
		return fmt.Errorf("%s: %w", bin, err)
	}
	defer f.Close()
	if f.Machine != m {
		return fmt.Errorf("%s is %v, need %v", bin, f.Machine, m)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return fmt.Errorf("%s is dynamically linked; install busybox-static", bin)
		}
	}
	return nil
}

// Initramfs describes the files of the VM's root file system.
type Initramfs struct {
	Arch    *Arch             // of the binaries (nil: amd64)
	Busybox string            // static busybox binary, installed as /bin/busybox
	Kpcap   string            // static kpcap binary, installed as /bin/kpcap ("" for none)
	Bins    []string          // more static executables (e.g. test binaries), installed as /bin/BASENAME
	Jobs    []Job             // run in this order by /init
	JobTime time.Duration     // per-job time limit inside the VM
	Files   map[string]string // more files: path below the root (e.g. "jobs/regs.list") -> contents
}

// Pack writes a gzip-compressed newc cpio archive of the initramfs to out,
// using the cpio tool.
func (ir *Initramfs) Pack(ctx context.Context, out string) error {
	root, err := os.MkdirTemp("", "kpcap-initramfs-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(root)
	for _, d := range []string{"bin", "dev", "proc", "sys", "tmp", "etc", "lib", "out", "jobs", "root"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			return err
		}
	}
	arch := ir.Arch
	if arch == nil {
		arch = Archs["amd64"]
	}
	if err := CheckStatic(ir.Busybox, arch.Machine); err != nil {
		return err
	}
	if err := copyFile(ir.Busybox, filepath.Join(root, "bin", "busybox"), 0o755); err != nil {
		return err
	}
	if ir.Kpcap != "" {
		if err := CheckStatic(ir.Kpcap, arch.Machine); err != nil {
			return err
		}
		if err := copyFile(ir.Kpcap, filepath.Join(root, "bin", "kpcap"), 0o755); err != nil {
			return err
		}
	}
	for _, b := range ir.Bins {
		if err := CheckStatic(b, arch.Machine); err != nil {
			return err
		}
		if err := copyFile(b, filepath.Join(root, "bin", filepath.Base(b)), 0o755); err != nil {
			return err
		}
	}
	var order []string
	for _, j := range ir.Jobs {
		if err := os.WriteFile(filepath.Join(root, "jobs", j.Name+".sh"), []byte(j.Script), 0o755); err != nil {
			return err
		}
		order = append(order, j.Name)
	}
	secs := int(ir.JobTime / time.Second)
	if secs <= 0 {
		secs = 60
	}
	files := map[string]string{
		"jobs/order":    strings.Join(order, "\n") + "\n",
		"jobs/timeout":  strconv.Itoa(secs) + "\n",
		"etc/passwd":    "root:x:0:0:root:/root:/bin/sh\n",
		"etc/group":     "root:x:0:\n",
		"lib/vmtest.sh": libScript,
	}
	for name, body := range ir.Files {
		if !filepath.IsLocal(name) {
			return fmt.Errorf("initramfs file %q is not below the root", name)
		}
		files[name] = body
	}
	for name, body := range files {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(root, name)), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(root, name), []byte(body), 0o644); err != nil {
			return err
		}
	}
	if err := os.WriteFile(filepath.Join(root, "init"), []byte(initScript), 0o755); err != nil {
		return err
	}

	// List paths relative to root, parents first, for cpio.
	var list bytes.Buffer
	err = filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		list.WriteString(rel + "\n")
		return nil
	})
	if err != nil {
		return err
	}
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	defer f.Close()
	zw, _ := gzip.NewWriterLevel(f, gzip.BestSpeed)
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, "cpio", "--quiet", "-o", "-H", "newc", "-R", "0:0")
	cmd.Dir = root
	cmd.Stdin = &list
	cmd.Stdout = zw
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("cpio: %v\n%s", err, tail(stderr.Bytes(), 2000))
	}
	if err := zw.Close(); err != nil {
		return err
	}
	return f.Close()
}

func copyFile(src, dst string, mode os.FileMode) error {
	b, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	return os.WriteFile(dst, b, mode)
}

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

// Markers of the job channel (written by init.sh).
const (
	mBooted    = "KPCAP-VM-BOOTED "
	mJobBegin  = "KPCAP-JOB-BEGIN "
	mJobEnd    = "KPCAP-JOB-END "
	mFileBegin = "KPCAP-FILE-BEGIN "
	mFileEnd   = "KPCAP-FILE-END"
	mDone      = "KPCAP-VM-DONE "
)

// parseSerial splits the job channel into jobs, logs and files, writing the
// files below dir/files/JOB/.
func parseSerial(serial []byte, dir string, res *Result) error {
	sc := bufio.NewScanner(bytes.NewReader(serial))
	sc.Buffer(make([]byte, 64*1024), 16<<20)
	var (
		job    *JobResult
		log    strings.Builder
		inFile string
		b64    strings.Builder
		done   bool
	)
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), "\r")
		switch {
		case inFile != "":
			if line != mFileEnd {
				b64.WriteString(line)
				continue
			}
			data, err := base64.StdEncoding.DecodeString(b64.String())
			if err != nil {
				return fmt.Errorf("job %s file %s: bad base64: %v", job.Name, inFile, err)
			}
			fdir := filepath.Join(dir, "files", job.Name)
			if err := os.MkdirAll(fdir, 0o755); err != nil {
				return err
			}
			p := filepath.Join(fdir, inFile)
			if err := os.WriteFile(p, data, 0o644); err != nil {
				return err
			}
			job.Files[inFile] = p
			inFile = ""
		case strings.HasPrefix(line, mBooted):
			f := strings.Fields(strings.TrimPrefix(line, mBooted))
			if len(f) >= 2 {
				res.Release = f[0]
				res.BootTime, _ = strconv.ParseFloat(f[1], 64)
			}
		case strings.HasPrefix(line, mJobBegin):
			name := strings.TrimSpace(strings.TrimPrefix(line, mJobBegin))
			job = &JobResult{Name: name, Files: map[string]string{}, RC: -1}
			log.Reset()
			res.Jobs[name] = job
			res.Order = append(res.Order, name)
		case job != nil && strings.HasPrefix(line, mFileBegin):
			name := strings.TrimSpace(strings.TrimPrefix(line, mFileBegin))
			if name == "" || strings.ContainsAny(name, "/\\") || name == "." || name == ".." {
				return fmt.Errorf("job %s: bad file name %q", job.Name, name)
			}
			inFile = name
			b64.Reset()
		case job != nil && strings.HasPrefix(line, mJobEnd):
			// KPCAP-JOB-END name rc=N secs=S
			for _, f := range strings.Fields(strings.TrimPrefix(line, mJobEnd)) {
				if v, ok := strings.CutPrefix(f, "rc="); ok {
					job.RC, _ = strconv.Atoi(v)
				}
				if v, ok := strings.CutPrefix(f, "secs="); ok {
					job.Seconds, _ = strconv.ParseFloat(v, 64)
				}
			}
			job.Log = log.String()
			job = nil
		case strings.HasPrefix(line, mDone):
			f := strings.Fields(strings.TrimPrefix(line, mDone))
			if len(f) >= 1 {
				res.Uptime, _ = strconv.ParseFloat(f[0], 64)
			}
			done = true
		case job != nil:
			log.WriteString(line)
			log.WriteByte('\n')
		}
	}
	if err := sc.Err(); err != nil {
		return err
	}
	if inFile != "" {
		return fmt.Errorf("file %s of job %s is truncated", inFile, job.Name)
	}
	if job != nil {
		job.Log = log.String()
		return fmt.Errorf("job %s did not finish; its log so far:\n%s", job.Name, tail([]byte(job.Log), 3000))
	}
	if res.Release == "" {
		return errors.New("the VM never reached /init")
	}
	if !done {
		return errors.New("the VM did not report the end of its jobs")
	}
	return nil
}

func tail(b []byte, n int) string {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}
