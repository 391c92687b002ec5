// Command kpcap records Linux kernel and user probes into compressed
// pcapng-style trace files and analyzes them anywhere.
package main

import (
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/kpcap/kpcap/replay"
	"github.com/spf13/pflag"
)

// version is the kpcap release; the build may override it with -ldflags -X.
var version = "0.1.0"

// command is one subcommand. Each subcommand lives in its own file and
// registers itself from init.
type command struct {
	name    string
	summary string // one line for `kpcap help`
	usage   string // full usage text with examples, printed by `kpcap CMD --help`
	run     func(args []string) error
}

var commands = map[string]*command{}

func register(c *command) { commands[c.name] = c }

// usageError marks errors caused by the command line: exit status 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, a ...any) error { return &usageError{fmt.Sprintf(format, a...)} }

func main() {
	stop := startCPUProfile()
	code := run(os.Args[1:])
	stop()
	os.Exit(code)
}

func run(args []string) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		if len(args) > 1 {
			if c, ok := commands[args[1]]; ok {
				fmt.Fprint(os.Stdout, c.usage)
				return 0
			}
		}
		printHelp()
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	if args[0] == "version" || args[0] == "--version" {
		fmt.Println("kpcap", version)
		return 0
	}
	c, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(os.Stderr, "kpcap: unknown command %q; run 'kpcap help' for the list\n", args[0])
		return 2
	}
	err := c.run(args[1:])
	switch {
	case err == nil:
		return 0
	case errors.Is(err, pflag.ErrHelp):
		return 0
	}
	fmt.Fprintf(os.Stderr, "kpcap %s: %s\n", c.name, terminalSafe(err.Error()+hint(err)))
	var ue *usageError
	if errors.As(err, &ue) {
		fmt.Fprintf(os.Stderr, "run 'kpcap %s --help' for usage\n", c.name)
		return 2
	}
	return 1
}

func printHelp() {
	var b strings.Builder
	b.WriteString("kpcap records kernel and user probes into a compressed pcapng trace and analyzes it anywhere.\n\n")
	b.WriteString("Usage: kpcap COMMAND [options]\n\nCommands:\n")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(&b, "  %-9s %s\n", n, commands[n].summary)
	}
	b.WriteString("\nRun 'kpcap COMMAND --help' for a command's options and examples.\n")
	fmt.Fprint(os.Stdout, b.String())
}

// newFlags returns a flag set whose --help prints c.usage.
func newFlags(c *command) *pflag.FlagSet {
	fs := pflag.NewFlagSet(c.name, pflag.ContinueOnError)
	fs.SortFlags = false
	fs.Usage = func() {
		fmt.Fprint(os.Stdout, c.usage)
		fmt.Fprintln(os.Stdout, "\nOptions:")
		fmt.Fprint(os.Stdout, fs.FlagUsages())
	}
	return fs
}

// parseArgs parses a command's flags: --help stays pflag.ErrHelp (run
// exits 0 after the usage), any other flag error is a usage error (exit 2,
// with the pointer to --help).
func parseArgs(fs *pflag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return err
		}
		return usagef("%v", err)
	}
	return nil
}

// isTerminal reports whether f is a terminal (for progress lines).
func isTerminal(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// terminalSafe spells out what in s could drive the user's terminal (escape
// sequences): error messages quote file names and trace contents. Control
// bytes but newlines and tabs are escaped as the text format escapes them
// (replay.EscapeControl); C1 controls and invalid UTF-8, which the text
// format keeps as they are, are escaped as \xNN.
func terminalSafe(s string) string {
	clean := true
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < 0x20 && c != '\n' && c != '\t') || c == 0x7f || c >= 0x80 {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	for len(s) > 0 {
		r, n := utf8.DecodeRuneInString(s)
		switch {
		case r < 0x20 && r != '\n' && r != '\t', r == 0x7f:
			b.WriteString(replay.EscapeControl(s[:1]))
		case r == utf8.RuneError && n <= 1, r >= 0x80 && r < 0xa0:
			for i := 0; i < n; i++ {
				fmt.Fprintf(&b, "\\x%02x", s[i])
			}
		default:
			b.WriteString(s[:n])
		}
		s = s[n:]
	}
	return b.String()
}
