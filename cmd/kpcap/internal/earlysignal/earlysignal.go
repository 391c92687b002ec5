// Package earlysignal catches SIGINT and SIGTERM for `kpcap record` from
// the start of the program's initialization.
//
// A shell running kpcap as a background job of a script starts it with
// SIGINT ignored; the Go runtime then leaves SIGINT ignored until
// signal.Notify, and a SIGINT sent before is lost for good. kpcap's
// dependencies take tens of milliseconds to initialize, so the CLI cannot
// wait for main: this package imports nothing heavy, which lets it
// initialize among the first packages, and begins catching the signals
// then. The record command takes them over with Signals.
package earlysignal

import (
	"os"
	"os/signal"
	"sync"
	"syscall"
)

var (
	once sync.Once
	sigs chan os.Signal
)

func init() {
	// os.Args[1] is the subcommand (kpcap has no global options).
	if len(os.Args) > 1 && os.Args[1] == "record" {
		Signals()
	}
}

// Signals starts catching SIGINT and SIGTERM, if not yet done, and returns
// the channel that receives them, with the ones caught so far.
func Signals() <-chan os.Signal {
	once.Do(func() {
		sigs = make(chan os.Signal, 8)
		signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	})
	return sigs
}

// Stop ends the catching started by Signals.
func Stop() {
	if sigs != nil {
		signal.Stop(sigs)
	}
}
