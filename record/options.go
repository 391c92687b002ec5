package record

import (
	"time"

	"github.com/kpcap/kpcap/format"
	"github.com/kpcap/kpcap/record/probedef"
)

// Options configure a capture. The zero value (plus Output) records the
// default event set system-wide until the context is cancelled.
type Options struct {
	Events []string // tracepoints "SUBSYS:EVENT", globs allowed
	Probes []string // kprobe/uprobe definitions in kprobe_events syntax, USDT markers, function patterns
	// MaxProbes bounds the functions one pattern may attach to; 0: DefaultMaxProbes.
	MaxProbes int
	Filter    string   // ftrace filter applied in the kernel to the sources that have its fields
	PID       int      // trace this process (all its threads and later children); 0: system-wide
	CPUs      []int    // restrict to these CPUs; nil: all online
	Command   []string // run and trace this command and its descendants; stop when it exits
	// Version is kpcap's version, stored in the files written as their
	// application ("kpcap VERSION"); "" stores 0.1.0.
	Version string
	// Cgroups restricts the sources to the tasks of these cgroup v2
	// directories and their descendants (a path, a systemd unit such as
	// nginx.service, or a container id); the file then records each
	// sample's cgroup. Not with PID or Command.
	Cgroups   []string
	Duration  time.Duration // stop after this long; 0: until cancelled
	CallGraph bool          // record kernel and user callchains
	// Path chooses how samples are captured: PathPerf (also ""), PathBPF
	// (every source through a generated BPF program, else a UsageError
	// naming the source that cannot be), or PathAuto (BPF where the kernel
	// and the source allow it, perf otherwise, with a notice).
	Path       string
	BufferSize int      // ring bytes per CPU (rounded down to a power of two); 0: default
	Output     string   // file path; "" means DefaultOutput
	Notes      []string // free text stored in the file
	Args       []string // the command line, stored in the file header

	// MaxSize stops the recording cleanly (as Ctrl-C does) once it has
	// written this many compressed bytes, over all its files; 0: no limit.
	MaxSize int64
	// RotateSize and RotateEvery start a new file, at a frame boundary,
	// once the current one reaches this size or age; the files are named
	// by SetFileName. 0: no rotation.
	RotateSize  int64
	RotateEvery time.Duration
	// Keep and KeepSize delete the oldest files of the set so that at most
	// Keep files (the one being written included) or KeepSize bytes stay
	// on disk. 0: keep everything.
	Keep     int
	KeepSize int64
	// Rotate, when set, starts a new file on each receive (SIGHUP). A
	// recording without RotateSize/RotateEvery then renames its file to the
	// set's first name (SetFileName(Output, 1)) at the first rotation.
	Rotate <-chan struct{}

	// SnapshotWindow or SnapshotSize make a flight recorder: the recording
	// is kept in memory (compressed frames, the last SnapshotWindow of
	// sample time or SnapshotSize bytes) and written only when asked, each
	// time to a new file of the set (SetFileName(Output, n)).
	SnapshotWindow time.Duration
	SnapshotSize   int64
	// Snapshot asks for a snapshot; the string says who asked ("SIGUSR1").
	Snapshot <-chan string
	// Triggers ask for a snapshot when an event matches; After delays the
	// snapshot (the recording goes on meanwhile), Cooldown ignores
	// requests that soon after a snapshot, MaxSnapshots caps the files.
	Triggers     []Trigger
	After        time.Duration
	Cooldown     time.Duration
	MaxSnapshots int

	// Progress, if set, is called about every ProgressEvery (default 250ms)
	// from the capture loop with the counts so far. It must return quickly.
	Progress      func(Stats)
	ProgressEvery time.Duration
	// Attaching, if set, reports progress while many probes are attached:
	// creating them ("probes": tracefs definitions, one per function of a
	// pattern) and opening their perf events ("events": one per probe and
	// CPU, each registering a kprobe or uprobe). It must return quickly.
	Attaching func(what string, done, total int)
	// Notice receives one-line informational messages (skipped default
	// probes, swept stale probes). nil discards them.
	Notice func(string)
	// Started, if set, is called once the events are enabled (for a
	// command: just before it is allowed to exec) with what is recorded.
	Started func(StartInfo)
	// Force, when closed, ends the capture at once: the rings are not
	// drained further, the file is finalized with what has been written.
	Force <-chan struct{}

	// sink replaces the format writer in tests of the capture loop.
	sink sink
	// memCap overrides the memory cap of copied ring data in tests.
	memCap int64
	// slowRelease overrides slowReleaseEvents in tests.
	slowRelease int
	// forceSeen, if set, is called once the capture has taken Force in
	// (the writer stops at its next sample): a test holding the writer
	// lets it go on only then.
	forceSeen func()
	// classicSyscalls keeps syscall tracepoints on the BPF path off the
	// raw syscall programs, so tests check the classic tracepoint
	// programs on the same events.
	classicSyscalls bool
	// gc is the recording's GC tuner, set by Run (nil in tests of the loop).
	gc *gcTuner
}

// Capture paths of Options.Path.
const (
	PathPerf = format.PathPerf
	PathBPF  = format.PathBPF
	PathAuto = "auto"
)

// DefaultMaxProbes is how many functions one pattern may attach to unless
// Options.MaxProbes says otherwise.
const DefaultMaxProbes = 1000

// DefaultOutput is the file written when Options.Output is empty.
const DefaultOutput = "trace.pcapng.zst"

// DefaultEvents are recorded when neither Events nor Probes are given.
var DefaultEvents = []string{
	"sched:sched_process_exec",
	"sched:sched_process_exit",
	"syscalls:sys_enter_openat",
	"syscalls:sys_exit_openat",
}

// DefaultProbes are added to DefaultEvents where the kernel has kprobes: the
// file name by its BTF name, do_sys_openat2's second argument.
var DefaultProbes = []string{
	"p:kprobes/openat2 do_sys_openat2 filename:string",
	"r:kprobes/openat2_ret do_sys_openat2 ret=$retval",
}

// DefaultProbesNoBTF replaces DefaultProbes on a kernel without BTF: the same
// fields, the file name from the recording machine's second argument register
// (%si on x86-64, %x1 on arm64).
var DefaultProbesNoBTF = []string{
	"p:kprobes/openat2 do_sys_openat2 filename=+0(%" + probedef.HostArch.ArgRegs[1] + "):string",
	"r:kprobes/openat2_ret do_sys_openat2 ret=$retval",
}

// StartInfo describes a capture whose events are all enabled.
type StartInfo struct {
	Sources int    // event sources (tracepoints, probes)
	CPUs    int    // CPUs recorded on
	Events  int    // perf events opened (sources times CPUs, times threads for --pid, plus one per CPU)
	Output  string // the file written
}

// SourceStats are the counts of one event source.
type SourceStats struct {
	Name    string `json:"name"`
	Kind    string `json:"kind"`
	Samples uint64 `json:"samples"`
	Lost    uint64 `json:"lost"`
}

// Stats are the running totals of a capture.
type Stats struct {
	Elapsed   time.Duration `json:"elapsed_ns"`
	Samples   uint64        `json:"samples"`
	Lost      uint64        `json:"lost"`                // every lost sample, attributed or not
	Bytes     int64         `json:"bytes"`               // compressed bytes written
	RawBytes  int64         `json:"raw_bytes"`           // uncompressed pcapng bytes
	Sources   []SourceStats `json:"sources"`             //
	Unmatched uint64        `json:"unmatched"`           // samples whose id matched no source (never expected)
	Records   uint64        `json:"records"`             // ring records read, all types
	Malformed uint64        `json:"malformed,omitempty"` // ring chunks with a corrupt record header (never expected)
	Late      uint64        `json:"late,omitempty"`      // records written out of time order (reserved long after their timestamp)
}

// Result is what a finished capture reports.
type Result struct {
	Stats
	Output  string          `json:"output"`
	Sources []format.Source `json:"-"`
	// ExitCode is the traced command's exit status (128+signal when killed),
	// -1 without a command or when it was still running at the end.
	ExitCode int      `json:"exit_code"`
	Notices  []string `json:"notices,omitempty"`
	// SetID and Files describe a rotated recording: every file it wrote,
	// in order, with its counts, including the ones deleted by Keep.
	SetID string      `json:"set_id,omitempty"`
	Files []FileStats `json:"files,omitempty"`
	// SnapshotMemory is the most bytes the flight recorder held; Skipped
	// the snapshot requests refused by Cooldown or MaxSnapshots.
	SnapshotMemory int64 `json:"snapshot_memory,omitempty"`
	Skipped        int   `json:"snapshots_skipped,omitempty"`
	// Usage is what the recorder itself cost.
	Usage Usage `json:"usage"`
}

// Usage is the recorder process's own cost.
type Usage struct {
	UserNS   int64 `json:"user_ns"`   // CPU time in user mode
	SystemNS int64 `json:"system_ns"` // CPU time in the kernel
	MaxRSS   int64 `json:"max_rss"`   // peak resident memory, bytes
}

// Trigger is a condition on the events that asks for a snapshot.
type Trigger struct {
	Text string // as the user wrote it, stored in the snapshot
	// Source is the event source whose samples Match sees ("GROUP:EVENT").
	Source string
	// Compile returns the matcher for the source once it is resolved (its
	// format is known); the CLI gives the offline filter language of
	// replay, which record cannot import.
	Compile func(src format.Source) (func(*format.Sample) bool, error)
	// Latency triggers instead when a return of Target comes more than
	// Latency after its entry on the same thread (Source is unused).
	Target  string
	Latency time.Duration
}

// FileStats are the counts of one file of a rotated recording.
type FileStats struct {
	Path    string `json:"path"`
	Seq     int    `json:"seq"`
	Samples uint64 `json:"samples"` // samples written to the file
	Lost    uint64 `json:"lost"`    // samples reported lost within its span
	Bytes   int64  `json:"bytes"`
	StartNS uint64 `json:"start_ns"`
	EndNS   uint64 `json:"end_ns"`
	Deleted bool   `json:"deleted,omitempty"` // removed to honour Keep or KeepSize
	Trigger string `json:"trigger,omitempty"` // snapshots: what asked for it
}

// sink is the part of *format.Writer the capture loop uses.
type sink interface {
	WriteSample(s *format.Sample) error
	AddComm(c format.Comm) error
	AddLost(l format.Lost) error
	AddSymbols(s []format.Symbol) error
	AddUserFrames(u []format.UserFrame) error
	AddCgroups(c []format.Cgroup) error
	AddTaskCgroup(t format.TaskCgroup) error
	Tick(now time.Time) error
	Close(stats []format.Stats) error
	CompressedBytes() int64
	RawBytes() int64
	EstimatedBytes() int64
}
