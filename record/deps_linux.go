//go:build linux

package record

// Keeps x/sys in go.mod until the recorder uses it; remove then.
import _ "golang.org/x/sys/unix"
