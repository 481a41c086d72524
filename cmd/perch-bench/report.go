package main

import (
	"bufio"
	"bytes"
	"fmt"
	"math"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// metric is one row of the report.
type metric struct {
	name   string
	format func(float64) string
	goal   goal
}

// goal is Perch's target for a metric; a zero goal is informational.
type goal struct {
	text string
	met  func(mosquitto, perch float64) bool // NaN when not measured
}

func atLeastRatio(r float64) goal {
	return goal{fmt.Sprintf("≥ %g× Mosquitto", r), func(m, p float64) bool { return p >= r*m }}
}

func atMostRatio(r float64) goal {
	text := fmt.Sprintf("≤ %g× Mosquitto", r)
	if r == 1 {
		text = "≤ Mosquitto"
	}
	return goal{text, func(m, p float64) bool { return p <= r*m }}
}

// atLeast and atMost are absolute goals; text is v in the metric's unit.
func atLeast(v float64, text string) goal {
	return goal{"≥ " + text, func(_, p float64) bool { return p >= v }}
}

func atMost(v float64, text string) goal {
	return goal{"≤ " + text, func(_, p float64) bool { return p <= v }}
}

// verdict returns ✅ or ❌ when the goal can be judged from the values.
func (g goal) verdict(m, p float64) string {
	if g.met == nil || math.IsNaN(p) || (strings.Contains(g.text, "Mosquitto") && math.IsNaN(m)) {
		return ""
	}
	if g.met(m, p) {
		return " ✅"
	}
	return " ❌"
}

func fmtRate(v float64) string    { return group(int64(math.Round(v))) }
func fmtCount(v float64) string   { return group(int64(math.Round(v))) }
func fmtPercent(v float64) string { return strconv.FormatFloat(v, 'f', 2, 64) + " %" }
func fmtMicros(v float64) string  { return strconv.FormatFloat(v, 'f', 1, 64) + " µs" }
func fmtMillis(v float64) string  { return strconv.FormatFloat(v, 'f', 2, 64) + " ms" }
func fmtMiB(v float64) string     { return strconv.FormatFloat(v/(1<<20), 'f', 1, 64) + " MiB" }
func fmtKiB(v float64) string     { return strconv.FormatFloat(v/(1<<10), 'f', 1, 64) + " KiB" }
func fmtBytes(v float64) string   { return strconv.FormatFloat(v, 'f', 2, 64) + " B" }
func fmtRatio(v float64) string   { return strconv.FormatFloat(v, 'f', 2, 64) + "×" }
func fmtMB(v float64) string      { return strconv.FormatFloat(v/1e6, 'f', 1, 64) + " MB" }
func fmtKB(v float64) string      { return strconv.FormatFloat(v/1e3, 'f', 1, 64) + " kB" }

// group writes n with thousands separated by thin spaces: 12 345.
func group(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteString("\u202f")
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// othersWarning is the CPU, in cores, that other processes may use during
// a scenario before the report warns that its numbers are disturbed.
const othersWarning = 0.1

// reportInfo is what the report says about the run itself.
type reportInfo struct {
	machine string
	started time.Time
	elapsed time.Duration
	args    []string
	noDelay bool
}

// renderReport writes the Markdown report: setup, the side-by-side table
// and the details of each run.
func renderReport(p plan, runs []*brokerRun, info reportInfo) string {
	byName := map[string]*brokerRun{}
	for _, r := range runs {
		byName[r.name] = r
	}
	value := func(name string, step, m int) float64 {
		if r := byName[name]; r != nil {
			return r.values[step][m]
		}
		return math.NaN()
	}
	cell := func(f func(float64) string, v float64) string {
		if math.IsNaN(v) {
			return "—"
		}
		return f(v)
	}

	var b strings.Builder
	fmt.Fprintf(&b, "### Run of %s\n\n", info.started.UTC().Format("2006-01-02 15:04 MST"))
	fmt.Fprintf(&b, "- Command: `%s`\n", strings.TrimSpace("go run ./cmd/perch-bench "+strings.Join(info.args, " ")))
	fmt.Fprintf(&b, "- Machine: %s; the generator and the broker share it.\n", info.machine)
	var versions []string
	for _, r := range runs {
		v := r.version
		if v == "" {
			v = r.name + " (did not start)"
		}
		if r.name == "Mosquitto" {
			v += fmt.Sprintf(" (set_tcp_nodelay %t)", info.noDelay)
		}
		versions = append(versions, v)
	}
	fmt.Fprintf(&b, "- Brokers: %s.\n", strings.Join(versions, "; "))
	fmt.Fprintf(&b, "- Scenarios: %s. Whole run: %s.\n", p.desc, info.elapsed.Round(time.Second))
	var worst float64
	for _, r := range runs {
		worst = max(worst, r.maxOthers)
	}
	if worst > othersWarning {
		fmt.Fprintf(&b, "- **Warning: other processes used up to %.2f cores during a scenario; these numbers are disturbed.**\n", worst)
	}
	b.WriteString("\n")

	b.WriteString("| scenario | Mosquitto | Perch | Perch/Mosquitto | Perch goal |\n")
	b.WriteString("|---|--:|--:|--:|---|\n")
	for i, s := range p.steps {
		fmt.Fprintf(&b, "| **%s** | | | | |\n", s.label)
		for j, m := range s.metrics {
			mv, pv := value("Mosquitto", i, j), value("Perch", i, j)
			ratio := "—"
			if !math.IsNaN(mv) && !math.IsNaN(pv) && mv != 0 {
				ratio = strconv.FormatFloat(pv/mv, 'f', 2, 64) + "×"
			}
			g := m.goal.text
			if g == "" {
				g = "—"
			}
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %s%s |\n", m.name, cell(m.format, mv), cell(m.format, pv), ratio, g, m.goal.verdict(mv, pv))
		}
	}

	b.WriteString("\nDetails:\n\n")
	for _, r := range runs {
		if r.err != nil {
			fmt.Fprintf(&b, "- %s did not run: %s\n", r.name, oneLine(r.err.Error()))
			continue
		}
		for i, s := range p.steps {
			if r.details[i] != "" {
				fmt.Fprintf(&b, "- %s, %s: %s\n", r.name, s.label, oneLine(r.details[i]))
			}
		}
	}
	return b.String()
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// machine describes this host: cores, CPU model, kernel and Go version.
func machine() string {
	model := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		sc := bufio.NewScanner(bytes.NewReader(b))
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				model = strings.TrimSpace(v)
				break
			}
		}
	}
	kernel := "unknown"
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		kernel = strings.TrimSpace(string(b))
	}
	return fmt.Sprintf("%d cores (%s), Linux %s, %s %s/%s", runtime.NumCPU(), model, kernel, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}
