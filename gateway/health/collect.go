package health

import (
	"bufio"
	"bytes"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"periph.io/x/host/v3"
	"periph.io/x/host/v3/sysfs"
)

// collector reads the host's figures under root.
type collector struct {
	root    string
	dataDir string
	statfs  func(string) (uint64, uint64, error)
	log     *slog.Logger

	once    sync.Once
	thermal string // path of the CPU's temp file; "" when there is none
	missing sync.Map
}

func newCollector(root, dataDir string, statfs func(string) (uint64, uint64, error), log *slog.Logger) *collector {
	if statfs == nil {
		statfs = diskSpace
	}
	return &collector{root: root, dataDir: dataDir, statfs: statfs, log: log}
}

func (c *collector) path(p string) string {
	if c.root == "" {
		return p
	}
	return filepath.Join(c.root, p)
}

// gone logs, once per field, that the host cannot give it.
func (c *collector) gone(field string, err error) {
	if _, seen := c.missing.LoadOrStore(field, true); !seen {
		c.log.Debug("health: left out of the reports", "field", field, "err", err)
	}
}

func (c *collector) collect() Report {
	var r Report
	c.once.Do(func() { c.thermal = c.findThermal() })
	if c.thermal == "" {
		c.gone("cpu_temp_c", os.ErrNotExist)
	} else if t, err := readCelsius(c.thermal); err != nil {
		c.gone("cpu_temp_c", err)
	} else {
		r.CPUTemp = &t
	}
	if b, err := os.ReadFile(c.path("/proc/loadavg")); err != nil {
		c.gone("load", err)
	} else if f := strings.Fields(string(b)); len(f) >= 3 {
		var l [3]float64
		ok := true
		for i := range l {
			v, err := strconv.ParseFloat(f[i], 64)
			ok = ok && err == nil
			l[i] = v
		}
		if ok {
			r.Load1, r.Load5, r.Load15 = &l[0], &l[1], &l[2]
		}
	}
	if total, avail, err := c.meminfo(); err != nil {
		c.gone("memory", err)
	} else {
		r.MemTotal, r.MemAvailable = &total, &avail
	}
	if total, free, err := c.statfs(c.dataDir); err != nil {
		c.gone("disk", err)
	} else if total > 0 {
		pct := roundTo(100*float64(free)/float64(total), 2)
		r.DiskTotal, r.DiskFree, r.DiskFreePct = &total, &free, &pct
	}
	if b, err := os.ReadFile(c.path("/proc/uptime")); err != nil {
		c.gone("uptime_s", err)
	} else if f := strings.Fields(string(b)); len(f) > 0 {
		if v, err := strconv.ParseFloat(f[0], 64); err == nil {
			v = roundTo(v, 0)
			r.Uptime = &v
		}
	}
	return r
}

// meminfo reads MemTotal and MemAvailable in bytes.
func (c *collector) meminfo() (total, avail uint64, err error) {
	b, err := os.ReadFile(c.path("/proc/meminfo"))
	if err != nil {
		return 0, 0, err
	}
	s := bufio.NewScanner(bytes.NewReader(b))
	found := 0
	for s.Scan() {
		key, rest, ok := strings.Cut(s.Text(), ":")
		if !ok || (key != "MemTotal" && key != "MemAvailable") {
			continue
		}
		f := strings.Fields(rest)
		if len(f) == 0 {
			continue
		}
		kb, err := strconv.ParseUint(f[0], 10, 64)
		if err != nil {
			continue
		}
		if key == "MemTotal" {
			total = kb * 1024
		} else {
			avail = kb * 1024
		}
		found++
	}
	if found < 2 {
		return 0, 0, os.ErrNotExist
	}
	return total, avail, nil
}

// findThermal picks the CPU's thermal zone: on the host itself the zones
// periph discovers (sysfs.ThermalSensors, after host.Init), under a fake
// root those in <root>/sys/class/thermal. One whose type names the CPU or
// SoC is preferred, else the first.
//
// The temperature is then read from the zone's temp file by readCelsius
// rather than by periph's ThermalSensor.Sense: Sense settles the unit on
// its first reading (under 100 means whole degrees) and keeps it for good,
// so a zone that first reads, say, 42 m°C would report every later reading
// a thousand times too high.
func (c *collector) findThermal() string {
	type zone struct{ name, typ string }
	var zones []zone
	if c.root == "" {
		if _, err := host.Init(); err != nil {
			c.log.Debug("health: periph host init", "err", err)
		}
		for _, s := range sysfs.ThermalSensors {
			if strings.HasPrefix(s.String(), "thermal_zone") {
				zones = append(zones, zone{s.String(), s.Type()})
			}
		}
	} else {
		paths, _ := filepath.Glob(c.path("/sys/class/thermal/thermal_zone*/temp"))
		for _, p := range paths {
			dir := filepath.Dir(p)
			typ, _ := os.ReadFile(filepath.Join(dir, "type"))
			zones = append(zones, zone{filepath.Base(dir), strings.TrimSpace(string(typ))})
		}
	}
	if len(zones) == 0 {
		return ""
	}
	pick := zones[0]
	for _, z := range zones {
		t := strings.ToLower(z.typ)
		if strings.Contains(t, "cpu") || strings.Contains(t, "soc") {
			pick = z
			break
		}
	}
	return c.path(filepath.Join("/sys/class/thermal", pick.name, "temp"))
}

// readCelsius reads a thermal zone's temp file. The kernel gives
// millidegrees Celsius; a few drivers give whole degrees, which shows as a
// value under 100 (as periph assumes, but decided again at every reading).
func readCelsius(path string) (float64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	return parseCelsius(strings.TrimSpace(string(b)))
}

func parseCelsius(s string) (float64, error) {
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, err
	}
	if n > -100 && n < 100 {
		return float64(n), nil
	}
	return roundTo(float64(n)/1000, 2), nil
}

func roundTo(v float64, digits int) float64 {
	p := math.Pow(10, float64(digits))
	return math.Round(v*p) / p
}
