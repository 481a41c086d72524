package secret

import (
	"encoding/base64"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// testArgon are Argon2id parameters small enough (64 KiB) for tests that
// hash and verify many times; the code is the same as with the defaults.
var testArgon = argonParams{time: 1, memory: 64, threads: 1}

func cheapArgon(secret string) string { return hashArgon2id(secret, testArgon) }

// hashes are Hash and HashPassword with the test parameters.
var hashes = map[string]func(string) (string, error){
	"Hash":         func(s string) (string, error) { return hash(s, false, testArgon) },
	"HashPassword": func(s string) (string, error) { return hash(s, true, testArgon) },
}

func TestGenerate(t *testing.T) {
	for _, n := range []int{1, 2, 3, 12, 16, 24, 32, 1024} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			a, err := Generate(n)
			if err != nil {
				t.Fatal(err)
			}
			b, err := Generate(n)
			if err != nil {
				t.Fatal(err)
			}
			if want := (4*n + 2) / 3; len(a) != want {
				t.Errorf("len(Generate(%d)) = %d, want %d", n, len(a), want)
			}
			raw, err := base64.RawURLEncoding.DecodeString(a)
			if err != nil || len(raw) != n {
				t.Errorf("Generate(%d) = %q: not %d bytes of unpadded base64url (%v)", n, a, n, err)
			}
			if n >= 8 && a == b {
				t.Errorf("Generate(%d) returned %q twice", n, a)
			}
		})
	}
	for _, n := range []int{-1, 0, 1025} {
		if s, err := Generate(n); !errors.Is(err, ErrInvalid) || s != "" {
			t.Errorf("Generate(%d) = %q, %v; want ErrInvalid", n, s, err)
		}
	}
}

func TestNewToken(t *testing.T) {
	for _, prefix := range []string{"perch_", "", "PERCH-", "x"} {
		tok, id, err := NewToken(prefix)
		if err != nil {
			t.Fatalf("NewToken(%q): %v", prefix, err)
		}
		if !strings.HasPrefix(tok, prefix+id+"_") {
			t.Errorf("NewToken(%q) = %q, id %q: want prefix+id+\"_\"+secret", prefix, tok, id)
		}
		if got, ok := TokenID(prefix, tok); !ok || got != id {
			t.Errorf("TokenID(%q, %q) = %q, %v; want %q, true", prefix, tok, got, ok, id)
		}
		if want := len(prefix) + tokenIDLen + 1 + 43; len(tok) != want {
			t.Errorf("len(%q) = %d, want %d", tok, len(tok), want)
		}
		h, err := Hash(tok)
		if err != nil {
			t.Fatal(err)
		}
		if !IsFast(h) {
			t.Errorf("token %q stored with %q, want the fast scheme", tok, h)
		}
	}
	for _, prefix := range []string{"bad prefix", "a$b", "é_", strings.Repeat("p", maxTokenPrefix+1)} {
		if _, _, err := NewToken(prefix); !errors.Is(err, ErrInvalid) {
			t.Errorf("NewToken(%q) error = %v, want ErrInvalid", prefix, err)
		}
	}
}

func TestTokenID(t *testing.T) {
	tests := []struct {
		prefix, token, id string
		ok                bool
	}{
		{"perch_", "perch_abcdefgh2345_secret", "abcdefgh2345", true},
		{"perch_", "perch_abcdefgh2345_se_cr-et", "abcdefgh2345", true},
		{"perch_", "other_abcdefgh2345_secret", "", false},
		{"perch_", "perch_abcdefgh2345", "", false},
		{"perch_", "perch_abcdefgh2345_", "", false},
		{"perch_", "perch_abcdefgh234_secret", "", false},
		{"perch_", "perch_ABCDEFGH2345_secret", "", false},
		{"perch_", "perch_abcdefgh2389_secret", "", false},
		{"perch_", "", "", false},
	}
	for _, tt := range tests {
		if id, ok := TokenID(tt.prefix, tt.token); id != tt.id || ok != tt.ok {
			t.Errorf("TokenID(%q, %q) = %q, %v; want %q, %v", tt.prefix, tt.token, id, ok, tt.id, tt.ok)
		}
	}
}

func mustGenerate(t testing.TB, n int) string {
	t.Helper()
	s, err := Generate(n)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestHashScheme(t *testing.T) {
	tok, _, err := NewToken("perch_")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, secret string
		fast         bool
	}{
		{"generated 24 bytes", "q7Yb3Xw_K0fZr9LmT2vNcP8sHd1JgE4u", true},
		{"generated 16 bytes", "Xw_K0fZr9LmT2vNcP8sHd1", true},
		{"generated 12 bytes (admin)", "K0fZr9LmT2vNcP8s", false},
		{"token", tok, true},
		{"hex 32 bytes", "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", true},
		{"hex 16 bytes", "5d41402abc4b2a76b9719d911017c592", true},
		{"21 random characters", "Xw_K0fZr9LmT2vNcP8sHd", false},
		{"22 letters, no digit or symbol", "XwKafZrbLmTgvNcPesHdhJ", false},
		{"short password", "password", false},
		{"dictionary password", "Summer2024!", false},
		{"lower-case words", "correcthorsebatterystaple", false},
		{"camel case words", "CorrectHorseBatteryStaple42", false},
		{"words and dashes", "kitchen-sensor-01-password", false},
		{"sentence", "my greenhouse sensor password 2024", false},
		{"repetition", "P@ssw0rd-P@ssw0rd-P@ssw0rd", false},
		{"one letter", strings.Repeat("a", 64), false},
		{"alternating classes", strings.Repeat("aB1", 20), false},
		{"non-ASCII", "Gewächshaus-Sensor-Nr-3-Passwört", false},
		{"control character", "Xw_K0fZr9LmT2vNcP8sHd1\x00", false},
		// Human passwords the heuristic cannot tell from random ones: why
		// user-chosen passwords should go through HashPassword.
		{"mixed-class passphrase", "Greenhouse-Temp-Sensor-#3", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := highEntropy(tt.secret); got != tt.fast {
				t.Errorf("highEntropy(%q) = %v, want %v", tt.secret, got, tt.fast)
			}
			h, err := hashes["Hash"](tt.secret)
			if err != nil {
				t.Fatal(err)
			}
			if IsFast(h) != tt.fast {
				t.Errorf("Hash(%q) = %q, fast scheme %v, want %v", tt.secret, h, IsFast(h), tt.fast)
			}
			wantPrefix := "$argon2id$v=19$m=64,t=1,p=1$"
			if tt.fast {
				wantPrefix = "$perch-sha256$"
			}
			if !strings.HasPrefix(h, wantPrefix) {
				t.Errorf("Hash(%q) = %q, want prefix %q", tt.secret, h, wantPrefix)
			}
			p, err := hashes["HashPassword"](tt.secret)
			if err != nil {
				t.Fatal(err)
			}
			if IsFast(p) || !strings.HasPrefix(p, "$argon2id$") {
				t.Errorf("HashPassword(%q) = %q, want Argon2id", tt.secret, p)
			}
		})
	}
	for _, f := range []func(string) (string, error){Hash, HashPassword} { // no Argon2id: refused first
		if _, err := f(""); !errors.Is(err, ErrInvalid) {
			t.Errorf("hashing an empty secret: error %v, want ErrInvalid", err)
		}
	}
}

// TestGeneratedAreFast checks how often Perch's own secrets miss the fast
// scheme, on a fixed pseudo-random stream so the test is deterministic.
func TestGeneratedAreFast(t *testing.T) {
	r := rand.New(rand.NewChaCha8([32]byte{'p', 'e', 'r', 'c', 'h'}))
	random := func(n int) string {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(r.Uint32())
		}
		return base64.RawURLEncoding.EncodeToString(b)
	}
	tests := []struct {
		name    string
		make    func() string
		maxMiss float64
	}{
		{"16 bytes", func() string { return random(16) }, 0.02},
		{"24 bytes", func() string { return random(24) }, 0.002},
		{"32 bytes", func() string { return random(32) }, 0.001},
		{"token", func() string { return "perch_" + strings.ToLower(random(9)[:12]) + "_" + random(32) }, 0.001},
	}
	const n = 20_000
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			miss := 0
			for range n {
				if !highEntropy(tt.make()) {
					miss++
				}
			}
			if rate := float64(miss) / n; rate > tt.maxMiss {
				t.Errorf("%d of %d (%.3f%%) miss the fast scheme, want at most %.3f%%", miss, n, 100*rate, 100*tt.maxMiss)
			}
		})
	}
}

func TestRoundTrip(t *testing.T) {
	secrets := []string{
		mustGenerate(t, 24),
		"password123",
		"Gewächshaus 🌱 Passwort",
		strings.Repeat("long secret ", 1000),
		"x",
	}
	for _, s := range secrets {
		name := s
		if len(name) > 20 {
			name = name[:20]
		}
		t.Run(name, func(t *testing.T) {
			for _, hash := range hashes {
				h, err := hash(s)
				if err != nil {
					t.Fatal(err)
				}
				h2, _ := hash(s)
				if h == h2 {
					t.Errorf("two hashes of one secret are equal: salt not random")
				}
				if ok, err := Verify(h, s); !ok || err != nil {
					t.Errorf("Verify(%q, right secret) = %v, %v; want true", h, ok, err)
				}
				for _, wrong := range []string{"", s + "x", s[:len(s)-1], strings.ToUpper(s) + "!"} {
					if ok, err := Verify(h, wrong); ok || err != nil {
						t.Errorf("Verify(%q, %q) = %v, %v; want false, nil", h, wrong, ok, err)
					}
				}
			}
		})
	}
}

// TestDefaults checks the parameters of real hashes.
func TestDefaults(t *testing.T) {
	for name, hash := range map[string]func(string) (string, error){"Hash": Hash, "HashPassword": HashPassword} {
		h, err := hash("password123")
		if err != nil {
			t.Fatal(err)
		}
		const want = "$argon2id$v=19$m=16384,t=1,p=1$"
		if !strings.HasPrefix(h, want) || len(h) != len(want)+22+1+43 {
			t.Errorf("%s(%q) = %q, want %s<16-byte salt>$<32-byte hash>", name, "password123", h, want)
		}
		if ok, err := Verify(h, "password123"); !ok || err != nil {
			t.Errorf("Verify(%s(%q)) = %v, %v", name, "password123", ok, err)
		}
	}
	tok, _, _ := NewToken("perch_")
	h, err := Hash(tok)
	if err != nil {
		t.Fatal(err)
	}
	if len(h) != len("$perch-sha256$")+22+1+43 {
		t.Errorf("Hash(token) = %q, want $perch-sha256$<16-byte salt>$<32-byte mac>", h)
	}
}

// TestKnownVectors checks interoperability with other implementations.
func TestKnownVectors(t *testing.T) {
	tests := []struct{ encoded, secret string }{
		// The reference implementation's README:
		// echo -n password | ./argon2 somesalt -id -t 2 -m 16 -p 1
		{"$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc", "password"},
		// RFC 4231 test case 1: key 20 × 0x0b, data "Hi There".
		{"$perch-sha256$" + b64.EncodeToString([]byte(strings.Repeat("\x0b", 20))) + "$" +
			b64.EncodeToString([]byte("\xb0\x34\x4c\x61\xd8\xdb\x38\x53\x5c\xa8\xaf\xce\xaf\x0b\xf1\x2b\x88\x1d\xc2\x00\xc9\x83\x3d\xa7\x26\xe9\x37\x6c\x2e\x32\xcf\xf7")), "Hi There"},
	}
	for _, tt := range tests {
		if testing.Short() && strings.HasPrefix(tt.encoded, "$argon2id$") {
			continue // 64 MiB, two passes
		}
		if ok, err := Verify(tt.encoded, tt.secret); !ok || err != nil {
			t.Errorf("Verify(%q, %q) = %v, %v; want true", tt.encoded, tt.secret, ok, err)
		}
	}
}

const marker = "Sup3r-Secret-Marker-XYZ"

var malformedTests = []struct{ name, encoded string }{
	{"empty", ""},
	{"plain text", "hunter2"},
	{"dollar", "$"},
	{"no leading dollar", "perch-sha256$c2FsdHNhbHQ$AAAA"},
	{"unknown scheme", "$2b$10$abcdefghijklmnopqrstuuABCDEFGHIJKLMNOPQRSTUVWXYZ01234"},
	{"fast: missing mac", "$perch-sha256$c2FsdHNhbHQ"},
	{"fast: extra field", "$perch-sha256$c2FsdHNhbHQ$" + b64.EncodeToString(make([]byte, 32)) + "$x"},
	{"fast: short salt", "$perch-sha256$c2FsdA$" + b64.EncodeToString(make([]byte, 32))},
	{"fast: mac 31 bytes", "$perch-sha256$c2FsdHNhbHQ$" + b64.EncodeToString(make([]byte, 31))},
	{"fast: padded base64", "$perch-sha256$c2FsdHNhbHQ=$" + b64.EncodeToString(make([]byte, 32))},
	{"fast: not base64", "$perch-sha256$c2Fs*HNhbHQ$" + b64.EncodeToString(make([]byte, 32))},
	{"fast: base64url", "$perch-sha256$c2FsdHNhbHQ$" + base64.RawURLEncoding.EncodeToString([]byte(strings.Repeat("\xff", 32)))},
	{"argon2id: v=16", "$argon2id$v=16$m=64,t=1,p=1$c29tZXNhbHQ$" + b64.EncodeToString(make([]byte, 32))},
	{"argon2id: no version", "$argon2id$m=64,t=1,p=1$c29tZXNhbHQ$" + b64.EncodeToString(make([]byte, 32))},
	{"argon2id: params order", "$argon2id$v=19$t=1,m=64,p=1$c29tZXNhbHQ$" + b64.EncodeToString(make([]byte, 32))},
	{"argon2id: missing p", "$argon2id$v=19$m=64,t=1$c29tZXNhbHQ$" + b64.EncodeToString(make([]byte, 32))},
	{"argon2id: negative", "$argon2id$v=19$m=-64,t=1,p=1$c29tZXNhbHQ$" + b64.EncodeToString(make([]byte, 32))},
	{"argon2id: t=0", "$argon2id$v=19$m=64,t=0,p=1$c29tZXNhbHQ$" + b64.EncodeToString(make([]byte, 32))},
	{"argon2id: p=0", "$argon2id$v=19$m=64,t=1,p=0$c29tZXNhbHQ$" + b64.EncodeToString(make([]byte, 32))},
	{"argon2id: m below 8p", "$argon2id$v=19$m=15,t=1,p=2$c29tZXNhbHQ$" + b64.EncodeToString(make([]byte, 32))},
	{"argon2id: 4 GiB", "$argon2id$v=19$m=4194304,t=1,p=1$c29tZXNhbHQ$" + b64.EncodeToString(make([]byte, 32))},
	{"argon2id: t=1000", "$argon2id$v=19$m=64,t=1000,p=1$c29tZXNhbHQ$" + b64.EncodeToString(make([]byte, 32))},
	{"argon2id: p=255", "$argon2id$v=19$m=4096,t=1,p=255$c29tZXNhbHQ$" + b64.EncodeToString(make([]byte, 32))},
	{"argon2id: overflow", "$argon2id$v=19$m=99999999999999999999,t=1,p=1$c29tZXNhbHQ$" + b64.EncodeToString(make([]byte, 32))},
	{"argon2id: hash 8 bytes", "$argon2id$v=19$m=64,t=1,p=1$c29tZXNhbHQ$" + b64.EncodeToString(make([]byte, 8))},
	{"argon2id: empty salt", "$argon2id$v=19$m=64,t=1,p=1$$" + b64.EncodeToString(make([]byte, 32))},
	{"argon2id: too few fields", "$argon2id$v=19$m=64,t=1,p=1$c29tZXNhbHQ"},
	{"too long", "$perch-sha256$" + strings.Repeat("A", 600)},
	{"secret as hash", marker},
}

func TestVerifyMalformed(t *testing.T) {
	for _, tt := range malformedTests {
		t.Run(tt.name, func(t *testing.T) {
			ok, err := Verify(tt.encoded, marker)
			if ok || !errors.Is(err, ErrMalformedHash) {
				t.Fatalf("Verify(%q) = %v, %v; want false, ErrMalformedHash", tt.encoded, ok, err)
			}
			msg := err.Error()
			if tt.encoded != marker && strings.Contains(msg, marker) {
				t.Errorf("error %q contains the secret", msg)
			}
			if !strings.HasPrefix(msg, "secret: malformed hash: ") || len(msg) > 200 {
				t.Errorf("error %q: want a short message starting with %q", msg, "secret: malformed hash: ")
			}
			if IsFast(tt.encoded) {
				t.Errorf("IsFast(%q) = true for a malformed hash", tt.encoded)
			}
		})
	}
}

func TestIsFast(t *testing.T) {
	fast, _ := Hash(mustGenerate(t, 24))
	slow := cheapArgon("pw")
	if !IsFast(fast) || IsFast(slow) {
		t.Errorf("IsFast(fast) = %v, IsFast(argon2id) = %v; want true, false", IsFast(fast), IsFast(slow))
	}
}

// TestConstantTime checks, in the source, that every comparison of a hash
// or cache record uses crypto/subtle and that nothing compares bytes with a
// function that returns early.
func TestConstantTime(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	mustCompare := map[string]bool{"verify": false, "lookup": false}
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		src, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		f, err := parser.ParseFile(fset, name, src, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			fn, ok := d.(*ast.FuncDecl)
			if !ok {
				continue
			}
			ast.Inspect(fn, func(n ast.Node) bool {
				call, ok := n.(*ast.CallExpr)
				if !ok {
					return true
				}
				sel, ok := call.Fun.(*ast.SelectorExpr)
				if !ok {
					return true
				}
				pkg, ok := sel.X.(*ast.Ident)
				if !ok {
					return true
				}
				switch pkg.Name + "." + sel.Sel.Name {
				case "subtle.ConstantTimeCompare":
					if _, want := mustCompare[fn.Name.Name]; want {
						mustCompare[fn.Name.Name] = true
					}
				case "bytes.Equal", "bytes.Compare", "reflect.DeepEqual", "slices.Equal", "strings.EqualFold":
					t.Errorf("%s: %s calls %s.%s, which is not constant-time", fset.Position(call.Pos()), fn.Name.Name, pkg.Name, sel.Sel.Name)
				}
				return true
			})
		}
	}
	for fn, ok := range mustCompare {
		if !ok {
			t.Errorf("%s does not compare with subtle.ConstantTimeCompare", fn)
		}
	}
}

func BenchmarkVerifyFast(b *testing.B) {
	s := mustGenerate(b, 24)
	h, _ := Hash(s)
	if !IsFast(h) {
		b.Fatal("not the fast scheme")
	}
	for b.Loop() {
		if ok, _ := Verify(h, s); !ok {
			b.Fatal("not verified")
		}
	}
}

func BenchmarkVerifyArgon2id(b *testing.B) {
	h, _ := Hash("password123")
	for b.Loop() {
		if ok, _ := Verify(h, "password123"); !ok {
			b.Fatal("not verified")
		}
	}
}

func BenchmarkHashHighEntropy(b *testing.B) {
	s := mustGenerate(b, 24)
	for b.Loop() {
		highEntropy(s)
	}
}
