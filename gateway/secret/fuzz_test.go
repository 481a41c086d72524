package secret

import (
	"context"
	"errors"
	"strings"
	"testing"
)

// FuzzVerify feeds arbitrary encoded hashes, as a damaged or hostile
// database row would hold, to Verify and the Verifier: they must not panic,
// must report ErrMalformedHash for what they cannot parse, and must never
// accept a secret nobody could have known.
func FuzzVerify(f *testing.F) {
	fast, _ := Hash("q7Yb3Xw_K0fZr9LmT2vNcP8sHd1JgE4u")
	f.Add(fast)
	f.Add(cheapArgon("password123"))
	f.Add("$argon2id$v=19$m=8,t=1,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc")
	for _, tt := range malformedTests {
		f.Add(tt.encoded)
	}
	v := NewVerifier(1)
	f.Fuzz(func(t *testing.T, encoded string) {
		random, err := Generate(16)
		if err != nil {
			t.Fatal(err)
		}
		h, perr := parse(encoded)
		if perr != nil {
			if !errors.Is(perr, ErrMalformedHash) {
				t.Fatalf("parse(%q) error %v does not wrap ErrMalformedHash", encoded, perr)
			}
			if !strings.HasPrefix(perr.Error(), "secret: malformed hash: ") {
				t.Fatalf("parse(%q) error %q", encoded, perr)
			}
		} else if h.argon && uint64(h.memory)*uint64(h.time) > 1024 {
			return // valid but costly parameters: the verification code is the same as below
		}
		if IsFast(encoded) != (perr == nil && !h.argon) {
			t.Fatalf("IsFast(%q) = %v, parse error %v", encoded, IsFast(encoded), perr)
		}
		ok, err := Verify(encoded, random)
		if ok {
			t.Fatalf("Verify(%q, random secret) = true", encoded)
		}
		if (err == nil) != (perr == nil) {
			t.Fatalf("Verify(%q) error %v, parse error %v", encoded, err, perr)
		}
		ok, err = v.Verify(context.Background(), encoded, random)
		if ok || (err == nil) != (perr == nil) {
			t.Fatalf("Verifier.Verify(%q, random secret) = %v, %v", encoded, ok, err)
		}
		if v.Cached(encoded, random) {
			t.Fatalf("Cached(%q, random secret) = true", encoded)
		}
	})
}
