package loadgen

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/perch-gw/perch/gateway/payload"
)

// Profile makes the JSON payloads of simulated devices ([Sim]): "env"
// (temperature and humidity drifting as a room's do, and the LED: the
// firmware examples' readings), "counter" (a count from 1, and the LED) or
// a template (see [ParseProfile]). The zero Profile is "env".
type Profile struct {
	name   string
	fields int
	make   func(device string, rng *rand.Rand) generator
}

// generator appends one device's next payload to dst.
type generator func(dst []byte, r reading) []byte

// reading is what a payload may carry besides its own values.
type reading struct {
	seq int // the device's message number, from 1
	led bool
	now time.Time
}

// Name is the profile's name, or "template" for a template.
func (p Profile) Name() string {
	if p.make == nil {
		return envProfile.name
	}
	return p.name
}

// Fields is the number of values each payload holds: the points it adds
// to a bucket.
func (p Profile) Fields() int {
	if p.make == nil {
		return envProfile.fields
	}
	return p.fields
}

// walk is a value drifting in [lo, hi] by at most step a time.
type walk struct{ v, lo, hi, step float64 }

func (w *walk) next(rng *rand.Rand) float64 {
	w.v += (rng.Float64()*2 - 1) * w.step
	w.v = min(max(w.v, w.lo), w.hi)
	return w.v
}

func appendBit(b []byte, on bool) []byte {
	if on {
		return append(b, '1')
	}
	return append(b, '0')
}

var envProfile = Profile{name: "env", fields: 3, make: func(_ string, rng *rand.Rand) generator {
	temp := walk{v: 19 + 4*rng.Float64(), lo: 5, hi: 35, step: 0.1}
	hum := walk{v: 40 + 20*rng.Float64(), lo: 15, hi: 95, step: 0.4}
	return func(b []byte, r reading) []byte {
		b = append(b, `{"temp":`...)
		b = strconv.AppendFloat(b, float64(int(temp.next(rng)*10))/10, 'f', 1, 64)
		b = append(b, `,"hum":`...)
		b = strconv.AppendFloat(b, float64(int(hum.next(rng)*10))/10, 'f', 1, 64)
		b = append(b, `,"led":`...)
		return append(appendBit(b, r.led), '}')
	}
}}

var counterProfile = Profile{name: "counter", fields: 2, make: func(string, *rand.Rand) generator {
	return func(b []byte, r reading) []byte {
		b = append(b, `{"count":`...)
		b = strconv.AppendInt(b, int64(r.seq), 10)
		b = append(b, `,"led":`...)
		return append(appendBit(b, r.led), '}')
	}
}}

// The placeholders of a template.
var placeholders = map[string]bool{"device": true, "seq": true, "led": true, "rand": true, "walk": true, "ts": true}

// ParseProfile returns the profile named "env" or "counter", or one made
// from a JSON template in which {device} stands for the device id, {seq}
// for its message number (from 1), {led} for its LED (0 or 1), {rand} for a
// random number in [0, 1), {walk} for a value drifting from about 20 and
// {ts} for the time in epoch milliseconds. Any other brace is JSON's:
//
//	{"id":"{device}","n":{seq},"level":{walk},"ts":{ts}}
//
// The payloads must be JSON objects that a bucket stores (at least one
// number; see package payload): the template is checked against that.
func ParseProfile(spec string) (Profile, error) {
	switch spec {
	case "", "env":
		return envProfile, nil
	case "counter":
		return counterProfile, nil
	}
	if !strings.Contains(spec, "{") {
		return Profile{}, fmt.Errorf("%w: profile %q: env, counter or a JSON template", ErrInvalid, spec)
	}
	// Split into literal text and placeholders, once.
	type part struct {
		text        string
		placeholder bool
	}
	var parts []part
	rest := spec
	for rest != "" {
		i := strings.IndexByte(rest, '{')
		if i < 0 {
			parts = append(parts, part{text: rest})
			break
		}
		j := strings.IndexByte(rest[i:], '}')
		if j > 0 && placeholders[rest[i+1:i+j]] {
			parts = append(parts, part{text: rest[:i]}, part{text: rest[i+1 : i+j], placeholder: true})
			rest = rest[i+j+1:]
			continue
		}
		parts = append(parts, part{text: rest[:i+1]})
		rest = rest[i+1:]
	}
	newGen := func(device string, rng *rand.Rand) generator {
		w := walk{v: 18 + 4*rng.Float64(), lo: -1e9, hi: 1e9, step: 0.2}
		return func(b []byte, r reading) []byte {
			for _, p := range parts {
				if !p.placeholder {
					b = append(b, p.text...)
					continue
				}
				switch p.text {
				case "device":
					b = append(b, device...)
				case "seq":
					b = strconv.AppendInt(b, int64(r.seq), 10)
				case "led":
					b = appendBit(b, r.led)
				case "rand":
					b = strconv.AppendFloat(b, float64(int(rng.Float64()*1000))/1000, 'f', -1, 64)
				case "walk":
					b = strconv.AppendFloat(b, float64(int(w.next(rng)*100))/100, 'f', -1, 64)
				case "ts":
					b = strconv.AppendInt(b, r.now.UnixMilli(), 10)
				}
			}
			return b
		}
	}
	now := time.Now()
	sample := newGen("device-1", rand.New(rand.NewPCG(1, 2)))(nil, reading{seq: 1, now: now})
	if !json.Valid(sample) {
		return Profile{}, fmt.Errorf("%w: template %q does not make JSON: %s", ErrInvalid, spec, sample)
	}
	res, err := payload.Decode(sample, now, payload.Options{})
	if err != nil {
		return Profile{}, fmt.Errorf("%w: template %q: a bucket would refuse its payloads: %v", ErrInvalid, spec, err)
	}
	return Profile{name: "template", fields: len(res.Fields), make: newGen}, nil
}
