//go:build linux

package vmtest

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

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
