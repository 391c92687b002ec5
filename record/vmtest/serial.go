//go:build linux

package vmtest

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Markers of the job channel (written by init.sh).
const (
	mBooted    = "KPCAP-VM-BOOTED "
	mJobBegin  = "KPCAP-JOB-BEGIN "
	mJobEnd    = "KPCAP-JOB-END "
	mFileBegin = "KPCAP-FILE-BEGIN "
	mFileEnd   = "KPCAP-FILE-END"
	mDone      = "KPCAP-VM-DONE "
)

// parseSerial splits the job channel into jobs, logs and files, writing the
// files below dir/files/JOB/.
func parseSerial(serial []byte, dir string, res *Result) error {
	p := &serialParser{dir: dir, res: res}
	sc := bufio.NewScanner(bytes.NewReader(serial))
	sc.Buffer(make([]byte, 64*1024), 16<<20)
	for sc.Scan() {
		if err := p.line(strings.TrimRight(sc.Text(), "\r")); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		return err
	}
	return p.finish()
}

// serialParser is the state of parseSerial between lines.
type serialParser struct {
	dir    string
	res    *Result
	job    *JobResult      // the job running, nil between jobs
	log    strings.Builder // its output so far
	inFile string          // the file being transferred, "" for none
	b64    strings.Builder // its base64 lines so far
	done   bool            // the VM reported the end of its jobs
}

// line handles one line of the job channel.
func (p *serialParser) line(line string) error {
	switch {
	case p.inFile != "":
		return p.fileLine(line)
	case strings.HasPrefix(line, mBooted):
		f := strings.Fields(strings.TrimPrefix(line, mBooted))
		if len(f) >= 2 {
			p.res.Release = f[0]
			p.res.BootTime, _ = strconv.ParseFloat(f[1], 64)
		}
	case strings.HasPrefix(line, mJobBegin):
		name := strings.TrimSpace(strings.TrimPrefix(line, mJobBegin))
		p.job = &JobResult{Name: name, Files: map[string]string{}, RC: -1}
		p.log.Reset()
		p.res.Jobs[name] = p.job
		p.res.Order = append(p.res.Order, name)
	case p.job != nil && strings.HasPrefix(line, mFileBegin):
		name := strings.TrimSpace(strings.TrimPrefix(line, mFileBegin))
		if name == "" || strings.ContainsAny(name, "/\\") || name == "." || name == ".." {
			return fmt.Errorf("job %s: bad file name %q", p.job.Name, name)
		}
		p.inFile = name
		p.b64.Reset()
	case p.job != nil && strings.HasPrefix(line, mJobEnd):
		p.endJob(strings.TrimPrefix(line, mJobEnd))
	case strings.HasPrefix(line, mDone):
		f := strings.Fields(strings.TrimPrefix(line, mDone))
		if len(f) >= 1 {
			p.res.Uptime, _ = strconv.ParseFloat(f[0], 64)
		}
		p.done = true
	case p.job != nil:
		p.log.WriteString(line)
		p.log.WriteByte('\n')
	}
	return nil
}

// fileLine takes one base64 line of the file being transferred, or its end
// marker, which writes the file below dir/files/JOB/.
func (p *serialParser) fileLine(line string) error {
	if line != mFileEnd {
		p.b64.WriteString(line)
		return nil
	}
	data, err := base64.StdEncoding.DecodeString(p.b64.String())
	if err != nil {
		return fmt.Errorf("job %s file %s: bad base64: %v", p.job.Name, p.inFile, err)
	}
	fdir := filepath.Join(p.dir, "files", p.job.Name)
	if err := os.MkdirAll(fdir, 0o755); err != nil {
		return err
	}
	path := filepath.Join(fdir, p.inFile)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		return err
	}
	p.job.Files[p.inFile] = path
	p.inFile = ""
	return nil
}

// endJob closes the running job from its end marker's fields
// ("name rc=N secs=S").
func (p *serialParser) endJob(fields string) {
	for _, f := range strings.Fields(fields) {
		if v, ok := strings.CutPrefix(f, "rc="); ok {
			p.job.RC, _ = strconv.Atoi(v)
		}
		if v, ok := strings.CutPrefix(f, "secs="); ok {
			p.job.Seconds, _ = strconv.ParseFloat(v, 64)
		}
	}
	p.job.Log = p.log.String()
	p.job = nil
}

// finish checks that the channel ended after a complete run.
func (p *serialParser) finish() error {
	if p.inFile != "" {
		return fmt.Errorf("file %s of job %s is truncated", p.inFile, p.job.Name)
	}
	if p.job != nil {
		p.job.Log = p.log.String()
		return fmt.Errorf("job %s did not finish; its log so far:\n%s", p.job.Name, tail([]byte(p.job.Log), 3000))
	}
	if p.res.Release == "" {
		return errors.New("the VM never reached /init")
	}
	if !p.done {
		return errors.New("the VM did not report the end of its jobs")
	}
	return nil
}
