//go:build !linux

package main

import "errors"

var errListKernel = errors.New("listing the kernel's tracepoints, functions and BTF needs Linux; 'kpcap list PATH' lists a binary's functions and USDT markers anywhere")

func listFeatures(o *listOpts) error             { return errListKernel }
func listVerbose(o *listOpts, name string) error { return errListKernel }
func listKernel(o *listOpts, pattern string) error {
	return errListKernel
}
