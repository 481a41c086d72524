package config

// WithDefaults returns c with every zero string, int and duration taken from
// Default, so that a Config literal with only a few fields set works (tests,
// gateway.New).
//
// Booleans and lists are left as given: false and an empty list are real
// choices, and a zero cannot be told from "not set". For the same reason a
// key chosen to be zero whose default is not (mqtt.session_expiry: 0s)
// comes back as its default.
func (c Config) WithDefaults() Config {
	def := Default()
	for _, l := range newSchema().leaves {
		switch l.kind {
		case kindString, kindInt, kindDuration:
			if f := l.field(&c); f.IsZero() {
				f.Set(l.field(&def))
			}
		}
	}
	return c
}
