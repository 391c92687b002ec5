//go:build unix

package kernelbtf

import (
	"io/fs"
	"os"
	"syscall"
)

// checkPrivate refuses a file or directory that another user owns or
// that its group or others may write: kpcap runs as root, and sudo may
// leave it the invoking user's HOME.
func checkPrivate(fi fs.FileInfo) error {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok || int(st.Uid) != os.Geteuid() || fi.Mode().Perm()&0o022 != 0 {
		return errForeignFacts
	}
	return nil
}
