//go:build linux

package vmtest

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

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
	if err := ir.installBinaries(root); err != nil {
		return err
	}
	if err := ir.writeFiles(root); err != nil {
		return err
	}
	return writeCpio(ctx, root, out)
}

// installBinaries copies busybox, kpcap and the other executables into
// root/bin after checking that each is static and built for the VM.
func (ir *Initramfs) installBinaries(root string) error {
	arch := ir.Arch
	if arch == nil {
		arch = Archs["amd64"]
	}
	bins := map[string]string{ir.Busybox: "busybox"}
	if ir.Kpcap != "" {
		bins[ir.Kpcap] = "kpcap"
	}
	for _, b := range ir.Bins {
		bins[b] = filepath.Base(b)
	}
	for src, name := range bins {
		if err := CheckStatic(src, arch.Machine); err != nil {
			return err
		}
		if err := copyFile(src, filepath.Join(root, "bin", name), 0o755); err != nil {
			return err
		}
	}
	return nil
}

// writeFiles writes the jobs, their order and time limit, the helpers,
// the extra files and /init below root.
func (ir *Initramfs) writeFiles(root string) error {
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
	return os.WriteFile(filepath.Join(root, "init"), []byte(initScript), 0o755)
}

// writeCpio archives the tree at root into out with cpio, gzip-compressed.
func writeCpio(ctx context.Context, root, out string) error {
	// List paths relative to root, parents first, for cpio.
	var list bytes.Buffer
	err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
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
