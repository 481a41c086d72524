package access_test

import (
	"context"
	"errors"
	"testing"

	"github.com/perch-gw/perch/gateway/access"
)

// FuzzCheckToken feeds CheckToken what arrives in an Authorization header:
// it must never panic and never accept anything but a token it issued.
// The seeds include the real tokens' ids, so the fuzzer starts from inputs
// that reach the hash verification.
func FuzzCheckToken(f *testing.F) {
	e := newEnv(f)
	issued := map[string]bool{}
	var ids []string
	for _, name := range []string{"ci", "ro"} {
		tok, plain, err := e.a.CreateToken(name, name == "ro")
		if err != nil {
			f.Fatal(err)
		}
		issued[plain] = true
		ids = append(ids, tok.ID)
	}
	for _, s := range []string{"", "perch_", "perch__", "perch_x_y", "Bearer perch_", "\x00", "perch_\xff_\xfe"} {
		f.Add(s)
	}
	for _, id := range ids {
		f.Add("perch_" + id)
		f.Add("perch_" + id + "_")
		f.Add("perch_" + id + "_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
		f.Add("perch_" + id + "__" + id)
	}
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, token string) {
		p, err := e.a.CheckToken(ctx, token)
		if issued[token] {
			if err != nil {
				t.Fatalf("CheckToken(issued token) = %v", err)
			}
			return
		}
		if err == nil {
			t.Fatalf("CheckToken(%q) accepted a token never issued: %+v", token, p)
		}
		if !errors.Is(err, access.ErrDenied) || p != (access.Principal{}) {
			t.Fatalf("CheckToken(%q) = %+v, %v; want ErrDenied", token, p, err)
		}
	})
}
