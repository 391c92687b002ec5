//go:build !linux

// Command kpcap-bench compares kpcap with perf; it runs only on Linux.
package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stderr, "kpcap-bench: runs only on Linux (it records with perf and kpcap record)")
	os.Exit(1)
}
