// Package format writes and reads kpcap trace files: a sequence of independent
// zstd frames whose decompressed concatenation is one pcapng section (Section
// Header, one Interface Description Block per event source, one Enhanced Packet
// Block per sample, Interface Statistics Blocks and kpcap Custom Blocks), ended by
// a skippable zstd frame holding a seek index. FORMAT.md specifies it byte by byte.
//
// The package is portable (no cgo, no Linux-only code): traces are read on laptops.
package format

// Format version. Readers reject files whose major version differs from
// MajorVersion; minor versions only add optional things.
const (
	MajorVersion = 1
	MinorVersion = 2
)

// PEN is the IANA Private Enterprise Number carried by kpcap custom blocks.
// 32473 is IANA's number reserved for documentation and examples (RFC 5612).
const PEN = 32473

// LinkType is the pcapng link type of every kpcap interface (LINKTYPE_USER0).
const LinkType = 147

// SampleHeaderLen is the fixed part of an encoded sample (see AppendSample).
const SampleHeaderLen = 24

// SourceKind says what kind of probe produced an event source.
type SourceKind uint8

// Source kinds.
const (
	KindTracepoint SourceKind = iota + 1
	KindKprobe
	KindKretprobe
	KindUprobe
	KindUretprobe
)

// String returns the kind's lower-case name ("tracepoint", "kretprobe", ...).
func (k SourceKind) String() string {
	switch k {
	case KindTracepoint:
		return "tracepoint"
	case KindKprobe:
		return "kprobe"
	case KindKretprobe:
		return "kretprobe"
	case KindUprobe:
		return "uprobe"
	case KindUretprobe:
		return "uretprobe"
	}
	return "unknown"
}

// IsReturn reports whether the kind fires on function return.
func (k SourceKind) IsReturn() bool { return k == KindKretprobe || k == KindUretprobe }

// Source describes one event source; it becomes one pcapng interface, and its
// index in Header.Sources is the interface id of its samples.
type Source struct {
	Name       string     // "GROUP:EVENT" as the user wrote it, e.g. "syscalls:sys_enter_openat"
	Kind       SourceKind //
	Definition string     // the definition as the user gave it (-e / -p argument)
	Filter     string     // in-kernel ftrace filter, "" if none
	Target     string     // probed function: "do_sys_openat2", "/usr/bin/x:main"; "" for tracepoints. Entry and return probes of one function share it.
	Format     string     // the tracefs "format" file text of the event, used to decode Raw
	// Created is the definition as kpcap wrote it to tracefs when that differs from
	// Definition (argument names resolved through BTF into plain fetch arguments).
	Created string
	// Fields gives the C type, and an enum's value names, of probe fields whose types kpcap
	// resolved through BTF, so that replay can name enum values without the kernel's BTF.
	Fields []FieldType
	// Path is how the recorder captured the source's samples: PathBPF, or
	// "" for the perf sample path (PathPerf; files before it say nothing).
	Path string
}

// Capture paths of a source (Source.Path).
const (
	PathPerf = "perf" // perf_event_open samples into per-CPU perf rings
	PathBPF  = "bpf"  // a kpcap-generated BPF program writing into a BPF ring buffer
)

// FieldType is the C type of one probe field, from the recording kernel's BTF.
type FieldType struct {
	Name  string      `json:"name"`           // field name as in Format
	CType string      `json:"c_type"`         // "struct file *", "unsigned int", "unsigned char:4" (bitfield)
	Enum  []EnumValue `json:"enum,omitempty"` // an enum's constants
}

// EnumValue is one named constant of an enum.
type EnumValue struct {
	Value int64  `json:"value"`
	Name  string `json:"name"`
}

// Host describes the machine that recorded the trace.
type Host struct {
	Hostname string `json:"hostname"`
	Kernel   string `json:"kernel"`  // uname release, e.g. "6.1.0-56-amd64"
	Version  string `json:"version"` // uname version
	Machine  string `json:"machine"` // uname machine, e.g. "x86_64"
	OS       string `json:"os"`      // "linux"
	CPUs     int    `json:"cpus"`
	PageSize int    `json:"page_size"`
	// WallOffsetNS is wall-clock time minus the sample clock (CLOCK_MONOTONIC)
	// at the start of the capture: wall = ts + WallOffsetNS.
	WallOffsetNS int64 `json:"wall_offset_ns"`
}

// Capture holds the options the capture ran with.
type Capture struct {
	Args       []string          `json:"args"`                  // the command line
	Clock      string            `json:"clock"`                 // "monotonic"
	BufferSize int               `json:"buffer_size,omitempty"` // ring bytes per CPU
	CallGraph  bool              `json:"call_graph,omitempty"`
	Targets    string            `json:"targets,omitempty"` // "system-wide", "pid 42", "command ...", "cpus 0-1"
	Extra      map[string]string `json:"extra,omitempty"`
}

// Header is everything known when a capture starts; it is written in the first frame.
type Header struct {
	Application string // "kpcap 0.1.0"
	Host        Host
	Sources     []Source
	Capture     Capture
	Notes       []string
	// Set, when not nil, says that this file is one of a set (rotated
	// files of one recording, or flight-recorder snapshots): its identity,
	// place and, once the file is closed, the time span and loss it covers.
	Set           *SetInfo
	FormatVersion [2]int // set by the reader: {major, minor}
}

// SetInfo places a file in a set of files written by one recording. The
// writer stores it twice: at the start (ID, Seq, Mode, StartNS, Trigger)
// and at Close (the same plus EndNS, Samples and Lost); readers keep the
// later values. A file whose recorder was killed has only the first.
type SetInfo struct {
	ID      string `json:"id"`                // random hex, shared by every file of the set
	Seq     int    `json:"seq"`               // 1, 2, ... in the order the files were started
	Mode    string `json:"mode,omitempty"`    // "rotate" or "snapshot"
	StartNS uint64 `json:"start_ns"`          // capture-clock time this file's span begins
	EndNS   uint64 `json:"end_ns,omitempty"`  // capture-clock time it ends (0: unknown, killed)
	Samples uint64 `json:"samples,omitempty"` // samples in this file
	Lost    uint64 `json:"lost,omitempty"`    // samples lost within this file's span (every loss record of the file)
	Trigger string `json:"trigger,omitempty"` // snapshots: what asked for the file (a signal, a command, the triggering event)
	Final   bool   `json:"final,omitempty"`   // written at Close: EndNS, Samples and Lost are complete
}

// Sample is one recorded event. In readers the Raw slice aliases the frame
// buffer (zero copy) and is valid only until the iterator moves on.
type Sample struct {
	Source    uint32   // index into Header.Sources
	Time      uint64   // ns on the capture clock (CLOCK_MONOTONIC)
	CPU       uint32   //
	PID, TID  uint32   //
	Raw       []byte   // PERF_SAMPLE_RAW payload, trimmed to the event's real size when known
	Callchain []uint64 // PERF_SAMPLE_CALLCHAIN ips, context markers (>= 2^64-4095) kept
	// Period is how many events the sample stands for (PERF_SAMPLE_PERIOD)
	// when HasPeriod is set: a tracepoint that passes a __perf_count, such
	// as sched:sched_stat_runtime (runtime in ns), carries its count here.
	// Without HasPeriod the sample counts one event and Period is 1 in
	// samples a reader returns.
	Period    uint64
	HasPeriod bool
}

// Weight is the number of events s stands for: its period, or 1.
func (s *Sample) Weight() uint64 {
	if s.HasPeriod {
		return s.Period
	}
	return 1
}

// Stats are the per-source counts of an Interface Statistics Block.
type Stats struct {
	Source   uint32
	Received uint64 // samples written
	Dropped  uint64 // samples lost (kernel ring full, kretprobe misses, ...)
	StartNS  uint64
	EndNS    uint64
}

// Lost is one loss report: Count samples lost on CPU's ring around Time.
// Source is the source the kernel attributed it to, or ^uint32(0) when unknown.
type Lost struct {
	Time   uint64 `json:"time"`
	CPU    uint32 `json:"cpu"`
	Source uint32 `json:"source"`
	Count  uint64 `json:"count"`
}

// Comm maps a pid (thread group) or tid to its command name from Time on.
type Comm struct {
	PID  uint32 `json:"pid"`
	TID  uint32 `json:"tid"`
	Time uint64 `json:"time"`
	Comm string `json:"comm"`
}

// Symbol is a kernel symbol needed to symbolize the trace's kernel addresses.
type Symbol struct {
	Addr   uint64 `json:"addr"`
	Size   uint64 `json:"size,omitempty"` // 0 if unknown: extends to the next symbol
	Name   string `json:"name"`
	Module string `json:"module,omitempty"`
}

// UserFrame resolves one user-space address of one process, as the recorder
// saw it: stacks symbolize from the file alone.
type UserFrame struct {
	PID    uint32 `json:"pid"`
	Addr   uint64 `json:"addr"`
	Name   string `json:"name"`   // function, or "" if unknown
	Offset uint64 `json:"offset"` // Addr - function start
	Object string `json:"object"` // mapped file, e.g. "/usr/lib/x86_64-linux-gnu/libc.so.6"
}

// Cgroup names a cgroup v2 directory by its kernel id (the directory's
// inode number, which perf reports as PERF_SAMPLE_CGROUP).
type Cgroup struct {
	ID   uint64 `json:"id"`
	Path string `json:"path"` // relative to the cgroup2 mount: "/system.slice/nginx.service"
}

// TaskCgroup says that thread TID of process PID is in cgroup ID from Time
// on (until its next record).
type TaskCgroup struct {
	PID  uint32 `json:"pid"`
	TID  uint32 `json:"tid"`
	Time uint64 `json:"time"`
	ID   uint64 `json:"id"`
}

// FrameInfo describes one zstd frame of a file.
type FrameInfo struct {
	Offset  int64  // of the compressed frame in the file
	CSize   int64  // compressed bytes
	RawSize int64  // decompressed bytes (0 if unknown before decoding)
	Samples uint64 // EPBs in the frame
	FirstNS uint64 // smallest sample time, 0 if no samples
	LastNS  uint64 // largest sample time
	Part    int    // the file holding the frame: an index into File.Parts (OpenSet)
}
