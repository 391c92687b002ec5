//go:build !unix

package kernelbtf

import "io/fs"

// checkPrivate refuses everything where kernel BTF facts are never
// remembered (no kernel build ID off Unix).
func checkPrivate(fs.FileInfo) error { return errForeignFacts }
