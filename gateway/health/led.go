package health

import (
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpioreg"
	"periph.io/x/host/v3"
	"periph.io/x/host/v3/sysfs"
)

// ErrNoLED is wrapped by OpenLED's error when the LED or pin is not there.
var ErrNoLED = errors.New("health: LED not found")

// pinName is what a GPIO pin name may look like ("GPIO17", "P1_11").
var pinName = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,64}$`)

// OpenLED finds the status LED: "act" is the board's ACT LED (sysfs
// "ACT", or "led0" on older kernels), anything else a GPIO pin by name
// after host.Init. root is Config.Root: under a fake root only pins
// registered with gpioreg are looked for.
func OpenLED(name, root string) (gpio.PinOut, error) {
	if strings.EqualFold(name, "act") {
		if root != "" {
			return nil, fmt.Errorf("%w: act: no ACT LED under %s", ErrNoLED, root)
		}
		if _, err := host.Init(); err != nil {
			return nil, fmt.Errorf("%w: act: %w", ErrNoLED, err)
		}
		for _, n := range []string{"ACT", "led0"} {
			if l, err := sysfs.LEDByName(n); err == nil {
				return l, nil
			}
		}
		return nil, fmt.Errorf("%w: act: no ACT or led0 in /sys/class/leds", ErrNoLED)
	}
	if !pinName.MatchString(name) {
		return nil, fmt.Errorf("%w: %q is not a pin name", ErrNoLED, name)
	}
	if p := gpioreg.ByName(name); p != nil {
		return p, nil
	}
	if root == "" {
		if _, err := host.Init(); err != nil {
			return nil, fmt.Errorf("%w: %s: %w", ErrNoLED, name, err)
		}
		if p := gpioreg.ByName(name); p != nil {
			return p, nil
		}
	}
	return nil, fmt.Errorf("%w: no GPIO pin %s", ErrNoLED, name)
}

// State is what the LED shows.
type State int

// The LED's states, in rising priority.
const (
	Ready    State = iota // slow heartbeat
	Traffic               // short flicker: messages flowed in the last second
	Starting              // fast blink
	Fault                 // double blink: disk nearly full, a bucket store failed, or the upstream down over 2 minutes
)

func (s State) String() string {
	return [...]string{"ready", "traffic", "starting", "fault"}[s]
}

// Step is one part of a pattern: the LED on or off for D.
type Step struct {
	On bool
	D  time.Duration
}

// Pattern is one cycle of what the LED shows in state s; the state is
// looked at again after each cycle.
func Pattern(s State) []Step {
	ms := time.Millisecond
	switch s {
	case Starting:
		return []Step{{true, 100 * ms}, {false, 100 * ms}}
	case Traffic:
		return []Step{{true, 40 * ms}, {false, 60 * ms}, {true, 40 * ms}, {false, 860 * ms}}
	case Fault:
		return []Step{{true, 150 * ms}, {false, 150 * ms}, {true, 150 * ms}, {false, 1550 * ms}}
	default:
		return []Step{{true, 100 * ms}, {false, 1900 * ms}}
	}
}

// LED drives a status LED from one goroutine it owns until Close.
type LED struct {
	pin gpio.PinOut
	log *slog.Logger

	ready      atomic.Bool
	traffic    atomic.Bool
	diskFault  atomic.Bool
	storeFault atomic.Bool
	upFault    atomic.Bool

	done      chan struct{}
	wg        sync.WaitGroup
	closeOnce sync.Once
	failed    bool // an Out error was logged
}

// NewLED starts showing the "starting" pattern on pin.
func NewLED(pin gpio.PinOut, log *slog.Logger) *LED {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	l := &LED{pin: pin, log: log, done: make(chan struct{})}
	l.wg.Add(1)
	go l.run()
	return l
}

// State is what the LED shows now.
func (l *LED) State() State {
	switch {
	case l.diskFault.Load() || l.storeFault.Load() || l.upFault.Load():
		return Fault
	case !l.ready.Load():
		return Starting
	case l.traffic.Load():
		return Traffic
	}
	return Ready
}

func (l *LED) setReady()               { l.ready.Store(true) }
func (l *LED) setTraffic(v bool)       { l.traffic.Store(v) }
func (l *LED) setDiskFault(v bool)     { l.diskFault.Store(v) }
func (l *LED) setUpstreamFault(v bool) { l.upFault.Store(v) }
func (l *LED) setStoreFault(v bool)    { l.storeFault.Store(v) }

func (l *LED) out(on bool) {
	level := gpio.Low
	if on {
		level = gpio.High
	}
	if err := l.pin.Out(level); err != nil && !l.failed {
		l.failed = true
		l.log.Warn("health: cannot drive the status LED", "led", l.pin.String(), "err", err)
	}
}

func (l *LED) run() {
	defer l.wg.Done()
	defer l.out(false)
	t := time.NewTimer(0)
	<-t.C
	for {
		for _, s := range Pattern(l.State()) {
			l.out(s.On)
			t.Reset(s.D)
			select {
			case <-l.done:
				t.Stop()
				return
			case <-t.C:
			}
		}
	}
}

// Close stops the LED, leaves it off and waits. Safe to call more than once.
func (l *LED) Close() {
	l.closeOnce.Do(func() { close(l.done) })
	l.wg.Wait()
}
