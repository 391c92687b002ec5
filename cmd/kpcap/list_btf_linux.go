//go:build linux

package main

// listBTF will print a function's prototype or a struct's members from the
// kernel's BTF once record/probedef has its BTF resolver; until then -v
// describes tracepoints only.
func listBTF(o *listOpts, name string) error {
	return usagef("-v %q: kpcap list -v describes tracepoints (SUBSYS:EVENT); function prototypes and struct layouts from BTF are not implemented yet", name)
}
