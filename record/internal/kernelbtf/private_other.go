//go:build !unix

package kernelbtf

import "os"

// checkPrivate refuses every file where kernel BTF facts are never
// remembered (no kernel build ID off Unix).
func checkPrivate(*os.File) error { return errForeignFacts }
