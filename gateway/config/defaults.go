package config

// WithDefaults returns c with every zero string, int and duration taken from
// Default, so that a Config literal with only a few fields set works (tests,
// gateway.New).
//
// Booleans and lists are left as given: false and an empty list are real
// choices, and a zero cannot be told from "not set". So is an int or
// duration whose allowed range (see Validate) includes 0, which is left as
// given too: storage.fsync_interval: 0 (fsync before every acknowledgement)
// stays 0. A key chosen to be zero where zero is not allowed
// (mqtt.session_expiry: 0s) comes back as its default.
func (c Config) WithDefaults() Config {
	def := Default()
	lim := limits()
	for _, l := range newSchema().leaves {
		if b, ok := lim[l.key]; ok && b.min <= 0 && b.max >= 0 {
			continue
		}
		switch l.kind {
		case kindString, kindInt, kindDuration:
			if f := l.field(&c); f.IsZero() {
				f.Set(l.field(&def))
			}
		}
	}
	return c
}
