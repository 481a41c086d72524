package secret

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"math"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
)

// Scheme identifiers, the first field of an encoded hash.
const (
	fastID   = "perch-sha256"
	argonID  = "argon2id"
	fastPref = "$" + fastID + "$"
)

// Argon2id parameters for new hashes: one pass over 16 MiB with one lane.
//
// Measured with BenchmarkVerifyArgon2id on the development machine (x86-64,
// 2-vCPU AMD EPYC "Turin" class VM, Go 1.26, x/crypto's SSE4.1 assembly for
// the Argon2 compression function): about 25 ms per verification (18 to
// 35 ms across runs on a busy host), 16 MiB allocated. ARM builds use the
// generic Go code on slower cores; not measured here, but expect several
// times that on a Pi 4 or 5 and most of a second on a Pi Zero. That is why
// [Verifier] limits how many run at once and caches results, and why
// generated credentials avoid Argon2id altogether. 16 MiB per computation
// keeps a Pi Zero's 512 MB safe with its single slot. This is below OWASP's
// cheapest Argon2id setting (19 MiB, two passes): a deliberate trade for
// the smallest Pis. The parameters are recorded in each hash, so they can
// be raised later without breaking stored hashes.
const (
	argonTime    = 1
	argonMemory  = 16 * 1024 // KiB
	argonThreads = 1
	argonKeyLen  = 32
	saltLen      = 16
)

// Bounds on what Verify accepts in an encoded hash. Anything outside is
// malformed, so that a damaged or hostile database row cannot make one
// verification take seconds or exhaust a Pi's memory.
const (
	maxEncoded    = 512
	maxArgonTime  = 10
	maxArgonMem   = 64 * 1024 // KiB
	maxArgonLanes = 8
	minSaltLen    = 8
	maxSaltLen    = 64
	minArgonKey   = 16
	maxArgonKey   = 64
)

// Hash salts and hashes secret and returns the encoded hash to store. The
// scheme depends on the secret.
//
// A secret is treated as high-entropy, and stored with the fast
// HMAC-SHA256 scheme, when all of these hold:
//
//  1. it is at least 22 bytes long (16 random bytes in base64url);
//  2. every byte is printable ASCII other than space (0x21 to 0x7e), so
//     sentences and non-ASCII text are excluded;
//  3. length × log2(pool) >= 128, where pool adds up the sizes of the
//     character classes present: 26 lower-case letters, 26 upper-case
//     letters, 10 digits, 32 other symbols;
//  4. it has at least min(length/2, 12) distinct bytes, which excludes
//     repetition such as "abcabcabc…" or "P@ssw0rd-P@ssw0rd-P@ssw0rd";
//  5. the character class changes between at least a third of neighbouring
//     bytes, which excludes runs of words such as
//     "correcthorsebatterystaple", "CorrectHorseBatteryStaple42" or
//     "kitchen-sensor-01-password"; random base64url changes class at
//     about 64% of neighbours.
//
// Everything else is stored with Argon2id. Of Perch's own secrets, 16-byte
// [Generate] output fails the rule about 1.4% of the time (22 characters
// with no digit or symbol fall just short of rule 3), 24-byte output
// 0.06%, 32-byte output and [NewToken] tokens about 0.01%; a miss only
// costs an Argon2id hash.
//
// The rule is a heuristic. Its misses on random secrets are harmless, but
// it cannot recognise every password a person made up: short ones always
// get Argon2id, yet a long one with mixed classes, such as
// "Greenhouse-Temp-Sensor-#3", looks random to it and gets the fast scheme,
// open to fast offline guessing if the database leaks. So use Hash for
// secrets Perch generated and [HashPassword] for secrets people chose.
func Hash(secret string) (string, error) {
	return hash(secret, false, defaultArgon)
}

// HashPassword hashes secret with Argon2id, whatever it looks like: for
// passwords a person chose (device credentials typed in, the admin
// password), whose strength no rule can judge.
func HashPassword(secret string) (string, error) {
	return hash(secret, true, defaultArgon)
}

// argonParams are the cost parameters of an Argon2id hash.
type argonParams struct {
	time    uint32 // passes
	memory  uint32 // KiB
	threads uint8  // lanes
}

var defaultArgon = argonParams{argonTime, argonMemory, argonThreads}

func hash(secret string, password bool, p argonParams) (string, error) {
	if secret == "" {
		return "", fmt.Errorf("%w: empty secret", ErrInvalid)
	}
	if !password && highEntropy(secret) {
		return hashFast(secret), nil
	}
	return hashArgon2id(secret, p), nil
}

// highEntropy reports whether [Hash] would store secret with the fast
// scheme. The rule is documented on Hash.
func highEntropy(secret string) bool {
	n := len(secret)
	if n < 22 {
		return false
	}
	var seen [128]bool
	var classes [4]bool
	distinct, changes := 0, 0
	prev := -1
	for i := 0; i < n; i++ {
		c := secret[i]
		if c < 0x21 || c > 0x7e {
			return false
		}
		if !seen[c] {
			seen[c] = true
			distinct++
		}
		k := class(c)
		classes[k] = true
		if prev >= 0 && k != prev {
			changes++
		}
		prev = k
	}
	pool := 0
	for k, sizes := range [4]int{26, 26, 10, 32} {
		if classes[k] {
			pool += sizes
		}
	}
	if float64(n)*math.Log2(float64(pool)) < 128 {
		return false
	}
	if distinct < min(n/2, 12) {
		return false
	}
	return 3*changes >= n-1
}

// class numbers the character classes of highEntropy: lower-case letter,
// upper-case letter, digit, other.
func class(c byte) int {
	switch {
	case 'a' <= c && c <= 'z':
		return 0
	case 'A' <= c && c <= 'Z':
		return 1
	case '0' <= c && c <= '9':
		return 2
	}
	return 3
}

// IsFast reports whether encoded is a well-formed hash in the fast scheme,
// so that verifying a secret against it costs a few microseconds rather
// than an Argon2id computation.
func IsFast(encoded string) bool {
	h, err := parse(encoded)
	return err == nil && !h.argon
}

// Verify reports whether secret matches encoded, a hash from [Hash]. A
// wrong secret is (false, nil); an encoding that cannot be parsed is an
// error wrapping [ErrMalformedHash]. Comparisons take constant time.
//
// Verify runs Argon2id unbounded on the caller's goroutine: servers should
// verify through a shared [Verifier].
func Verify(encoded, secret string) (bool, error) {
	h, err := parse(encoded)
	if err != nil {
		return false, err
	}
	return h.verify(secret), nil
}

// hashed is a parsed encoded hash.
type hashed struct {
	argon   bool
	time    uint32 // Argon2id passes
	memory  uint32 // Argon2id KiB
	threads uint8  // Argon2id lanes
	salt    []byte
	sum     []byte
}

func (h *hashed) verify(secret string) bool {
	var got []byte
	if h.argon {
		got = argon2.IDKey([]byte(secret), h.salt, h.time, h.memory, h.threads, uint32(len(h.sum)))
	} else {
		got = mac(h.salt, secret)
	}
	return subtle.ConstantTimeCompare(got, h.sum) == 1
}

func mac(salt []byte, secret string) []byte {
	m := hmac.New(sha256.New, salt)
	m.Write([]byte(secret))
	return m.Sum(nil)
}

func newSalt() []byte {
	salt := make([]byte, saltLen)
	rand.Read(salt) // never fails (crypto/rand, Go 1.24 and later)
	return salt
}

var b64 = base64.RawStdEncoding.Strict()

func hashFast(secret string) string {
	salt := newSalt()
	return fastPref + b64.EncodeToString(salt) + "$" + b64.EncodeToString(mac(salt, secret))
}

func hashArgon2id(secret string, p argonParams) string {
	salt := newSalt()
	sum := argon2.IDKey([]byte(secret), salt, p.time, p.memory, p.threads, argonKeyLen)
	return fmt.Sprintf("$%s$v=%d$m=%d,t=%d,p=%d$%s$%s", argonID, argon2.Version,
		p.memory, p.time, p.threads, b64.EncodeToString(salt), b64.EncodeToString(sum))
}

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrMalformedHash}, args...)...)
}

// parse decodes an encoded hash. Its errors name the part that is wrong but
// never quote the salt or hash, and never see the secret.
func parse(encoded string) (*hashed, error) {
	if len(encoded) > maxEncoded {
		return nil, malformed("%d bytes long, want at most %d", len(encoded), maxEncoded)
	}
	f := strings.Split(encoded, "$")
	if len(f) < 2 || f[0] != "" {
		return nil, malformed("does not start with $scheme$")
	}
	switch f[1] {
	case fastID:
		if len(f) != 4 {
			return nil, malformed("%s hash has %d fields, want $%s$salt$mac", fastID, len(f)-1, fastID)
		}
		h := &hashed{}
		var err error
		if h.salt, err = decode(fastID, "salt", f[2], minSaltLen, maxSaltLen); err != nil {
			return nil, err
		}
		if h.sum, err = decode(fastID, "mac", f[3], sha256.Size, sha256.Size); err != nil {
			return nil, err
		}
		return h, nil
	case argonID:
		if len(f) != 6 {
			return nil, malformed("%s hash has %d fields, want $%s$v=19$m=,t=,p=$salt$hash", argonID, len(f)-1, argonID)
		}
		if f[2] != "v="+strconv.Itoa(argon2.Version) {
			return nil, malformed("%s version %.16q, want v=%d", argonID, f[2], argon2.Version)
		}
		h := &hashed{argon: true}
		if err := h.params(f[3]); err != nil {
			return nil, err
		}
		var err error
		if h.salt, err = decode(argonID, "salt", f[4], minSaltLen, maxSaltLen); err != nil {
			return nil, err
		}
		if h.sum, err = decode(argonID, "hash", f[5], minArgonKey, maxArgonKey); err != nil {
			return nil, err
		}
		return h, nil
	}
	return nil, malformed("unknown scheme %.24q", f[1])
}

// params parses "m=<KiB>,t=<passes>,p=<lanes>", in that order as PHC
// strings write them.
func (h *hashed) params(s string) error {
	p := strings.Split(s, ",")
	if len(p) != 3 {
		return malformed("%s parameters %.40q, want m=<KiB>,t=<passes>,p=<lanes>", argonID, s)
	}
	var v [3]uint64
	for i, name := range []string{"m", "t", "p"} {
		num, ok := strings.CutPrefix(p[i], name+"=")
		n, err := strconv.ParseUint(num, 10, 32)
		if !ok || err != nil {
			return malformed("%s parameters %.40q, want m=<KiB>,t=<passes>,p=<lanes>", argonID, s)
		}
		v[i] = n
	}
	m, t, l := v[0], v[1], v[2]
	if l < 1 || l > maxArgonLanes || t < 1 || t > maxArgonTime || m < 8*l || m > maxArgonMem {
		return malformed("%s parameters m=%d,t=%d,p=%d out of range (m from 8·p to %d KiB, t 1 to %d, p 1 to %d)",
			argonID, m, t, l, maxArgonMem, maxArgonTime, maxArgonLanes)
	}
	h.memory, h.time, h.threads = uint32(m), uint32(t), uint8(l)
	return nil
}

func decode(scheme, what, s string, minLen, maxLen int) ([]byte, error) {
	b, err := b64.DecodeString(s)
	if err != nil {
		return nil, malformed("%s %s is not unpadded base64", scheme, what)
	}
	if len(b) < minLen || len(b) > maxLen {
		if minLen == maxLen {
			return nil, malformed("%s %s is %d bytes, want %d", scheme, what, len(b), minLen)
		}
		return nil, malformed("%s %s is %d bytes, want %d to %d", scheme, what, len(b), minLen, maxLen)
	}
	return b, nil
}
