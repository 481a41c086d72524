package loadgen

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// defaultClockTicks is USER_HZ on every Linux architecture we build for; it
// is used when getconf is missing.
const defaultClockTicks = 100

// Process reads a broker's CPU time and resident memory from /proc. A nil
// *Process measures nothing: its methods return ErrNoProcess.
type Process struct {
	pid   int
	ticks int64 // clock ticks per second, from getconf CLK_TCK
}

// NewProcess returns a Process for pid, after checking that its
// /proc/<pid>/stat is readable. The clock tick rate comes from
// `getconf CLK_TCK` (100 when getconf is missing).
func NewProcess(ctx context.Context, pid int) (*Process, error) {
	p := &Process{pid: pid, ticks: clockTicks(ctx)}
	if _, err := p.CPU(); err != nil {
		return nil, err
	}
	return p, nil
}

func clockTicks(ctx context.Context) int64 {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "getconf", "CLK_TCK").Output()
	if err != nil {
		return defaultClockTicks
	}
	n, err := strconv.ParseInt(strings.TrimSpace(string(out)), 10, 64)
	if err != nil || n <= 0 {
		return defaultClockTicks
	}
	return n
}

// PID returns the process id, or 0 for a nil Process.
func (p *Process) PID() int {
	if p == nil {
		return 0
	}
	return p.pid
}

// CPU returns the process's user plus system CPU time so far (all its
// threads), from utime and stime in /proc/<pid>/stat.
func (p *Process) CPU() (time.Duration, error) {
	if p == nil {
		return 0, ErrNoProcess
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.pid))
	if err != nil {
		return 0, fmt.Errorf("loadgen: cpu of pid %d: %w", p.pid, err)
	}
	ticks, err := parseStatCPU(b)
	if err != nil {
		return 0, fmt.Errorf("loadgen: cpu of pid %d: %w", p.pid, err)
	}
	return time.Duration(ticks) * time.Second / time.Duration(p.ticks), nil
}

// parseStatCPU returns utime+stime, in clock ticks, from the contents of a
// /proc/<pid>/stat file. The command name (field 2) is in parentheses and
// may itself hold spaces and parentheses, so fields are counted from the
// last ')'.
func parseStatCPU(stat []byte) (int64, error) {
	end := bytes.LastIndexByte(stat, ')')
	if end < 0 {
		return 0, fmt.Errorf("%w: no command name", ErrProcFormat)
	}
	f := strings.Fields(string(stat[end+1:]))
	// f[0] is field 3 (state); utime and stime are fields 14 and 15.
	const utime, stime = 14 - 3, 15 - 3
	if len(f) <= stime {
		return 0, fmt.Errorf("%w: %d fields after the command name", ErrProcFormat, len(f))
	}
	u, err := strconv.ParseInt(f[utime], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%w: utime %q", ErrProcFormat, f[utime])
	}
	s, err := strconv.ParseInt(f[stime], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%w: stime %q", ErrProcFormat, f[stime])
	}
	return u + s, nil
}

// RSS returns the process's resident set size in bytes (VmRSS in
// /proc/<pid>/status).
func (p *Process) RSS() (uint64, error) {
	if p == nil {
		return 0, ErrNoProcess
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.pid))
	if err != nil {
		return 0, fmt.Errorf("loadgen: rss of pid %d: %w", p.pid, err)
	}
	n, err := parseStatusRSS(b)
	if err != nil {
		return 0, fmt.Errorf("loadgen: rss of pid %d: %w", p.pid, err)
	}
	return n, nil
}

// parseStatusRSS returns VmRSS in bytes from the contents of a
// /proc/<pid>/status file.
func parseStatusRSS(status []byte) (uint64, error) {
	sc := bufio.NewScanner(bytes.NewReader(status))
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:")
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		if len(f) != 2 || f[1] != "kB" {
			return 0, fmt.Errorf("%w: VmRSS %q", ErrProcFormat, rest)
		}
		kb, err := strconv.ParseUint(f[0], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("%w: VmRSS %q", ErrProcFormat, rest)
		}
		return kb << 10, nil
	}
	return 0, fmt.Errorf("%w: no VmRSS line", ErrProcFormat)
}

// machineBusy returns the CPU time all CPUs have spent busy (everything
// but idle and iowait), from the first line of /proc/stat.
func machineBusy(ticks int64) (time.Duration, error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, fmt.Errorf("loadgen: machine cpu: %w", err)
	}
	n, err := parseMachineBusy(b)
	if err != nil {
		return 0, fmt.Errorf("loadgen: machine cpu: %w", err)
	}
	return time.Duration(n) * time.Second / time.Duration(ticks), nil
}

// parseMachineBusy returns the busy clock ticks of the "cpu" line of a
// /proc/stat file.
func parseMachineBusy(stat []byte) (int64, error) {
	line, _, _ := strings.Cut(string(stat), "\n")
	f := strings.Fields(line)
	if len(f) < 5 || f[0] != "cpu" {
		return 0, fmt.Errorf("%w: /proc/stat begins %q", ErrProcFormat, line)
	}
	var busy int64
	// user nice system idle iowait irq softirq steal [guest guest_nice,
	// already counted in user and nice]
	for i, v := range f[1:min(len(f), 9)] {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("%w: /proc/stat field %q", ErrProcFormat, v)
		}
		if i != 3 && i != 4 { // idle, iowait
			busy += n
		}
	}
	return busy, nil
}

// cpuMeter measures, over an interval, the CPU time of the broker (when
// known), of this process and of the whole machine.
type cpuMeter struct {
	p       *Process
	ticks   int64
	start   time.Time
	initial cpuUse
	errs    [2]error // broker, machine
}

// cpuUse is CPU time used by the broker, by this process (the generator)
// and by the machine as a whole. Broker and Machine are -1 when unknown.
type cpuUse struct {
	Elapsed                    time.Duration
	Broker, Generator, Machine time.Duration
}

func startCPU(p *Process) *cpuMeter {
	m := &cpuMeter{p: p, ticks: defaultClockTicks, start: time.Now()}
	if p != nil {
		m.ticks = p.ticks
	}
	m.initial.Broker, m.errs[0] = p.CPU()
	m.initial.Generator = selfCPU()
	m.initial.Machine, m.errs[1] = machineBusy(m.ticks)
	return m
}

// stop returns the CPU time used since start. It may be called more than
// once.
func (m *cpuMeter) stop() cpuUse {
	u := cpuUse{Elapsed: time.Since(m.start), Broker: -1, Generator: selfCPU() - m.initial.Generator, Machine: -1}
	if m.errs[0] == nil {
		if b, err := m.p.CPU(); err == nil {
			u.Broker = b - m.initial.Broker
		}
	}
	if m.errs[1] == nil {
		if b, err := machineBusy(m.ticks); err == nil {
			u.Machine = b - m.initial.Machine
		}
	}
	return u
}

// others returns the CPU used by every other process during the interval,
// in cores (1 = one CPU busy the whole time), or -1 when unknown. Anything
// well above zero means the numbers are disturbed: a benchmark should
// share the machine with nothing else.
func (u cpuUse) others() float64 {
	if u.Broker < 0 || u.Machine < 0 || u.Elapsed <= 0 {
		return -1
	}
	return max(0, (u.Machine-u.Broker-u.Generator).Seconds()/u.Elapsed.Seconds())
}
