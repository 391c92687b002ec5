//go:build unix

package kernelbtf

import (
	"os"
	"syscall"
)

// checkPrivate refuses a file that another user owns or that its group
// or others may write.
func checkPrivate(f *os.File) error {
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok || int(st.Uid) != os.Geteuid() || fi.Mode().Perm()&0o022 != 0 {
		return errForeignFacts
	}
	return nil
}
