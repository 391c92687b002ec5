//go:build linux

package main

import "errors"

// listBTF prints a function's prototype or a struct's members from BTF.
func listBTF(o *listOpts, name string) error {
	return errors.New("BTF lookups are not available yet")
}
