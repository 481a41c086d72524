// Package secret generates, hashes and verifies device credentials, API
// tokens and the admin password.
//
// Two storage schemes are used, chosen by [Hash] from the secret itself:
//
//   - Secrets that look randomly generated (see [Hash] for the rule) are
//     stored as "$perch-sha256$<salt>$<mac>", an HMAC-SHA256 of the secret
//     keyed by a random salt. Verifying one costs a few microseconds, which
//     matters when a thousand boards reconnect at once after a Wi-Fi outage.
//     This is safe for the same reason it is safe for API tokens everywhere:
//     a secret of 128 random bits cannot be brute-forced, however fast each
//     guess is.
//   - Everything else is stored with Argon2id in the PHC string format
//     "$argon2id$v=19$m=16384,t=1,p=1$<salt>$<hash>", so that a leaked
//     database does not give away weak passwords cheaply. [HashPassword]
//     always uses this scheme: use it for passwords a person chose, which
//     the rule cannot always tell from random strings.
//
// Salts and hashes use unpadded standard base64, as PHC strings do.
//
// Argon2id is expensive on purpose, so a gateway should verify through one
// shared [Verifier], which bounds how many Argon2id computations run at once
// and remembers secrets it has verified so a returning device costs a map
// lookup and an HMAC.
package secret

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
)

var (
	// ErrMalformedHash means an encoded hash could not be parsed: an unknown
	// scheme, a damaged field or parameters out of the accepted range.
	ErrMalformedHash = errors.New("secret: malformed hash")
	// ErrInvalid means an argument is not acceptable: a byte count out of
	// range, an empty secret or an unusable token prefix.
	ErrInvalid = errors.New("secret: invalid argument")
)

// MinBytes is the randomness, in bytes, that Perch puts in every credential
// and token meant for a machine: 128 bits, beyond brute force.
const MinBytes = 16

// maxGenerate bounds Generate so that a mistaken size cannot allocate much.
const maxGenerate = 1024

// Generate returns nbytes from crypto/rand encoded as unpadded base64url
// (A-Z, a-z, 0-9, '-' and '_'): no characters that need quoting in C, YAML
// or a shell, and four characters for every three bytes. Credentials for
// machines use at least [MinBytes]; a 16-byte secret is 22 characters.
func Generate(nbytes int) (string, error) {
	if nbytes < 1 || nbytes > maxGenerate {
		return "", fmt.Errorf("%w: generate %d random bytes: want 1 to %d", ErrInvalid, nbytes, maxGenerate)
	}
	b := make([]byte, nbytes)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("secret: read random bytes: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// Token sizes: the id names the token in lists and lets the server find its
// hash without trying every one; only the part after it is secret.
const (
	tokenIDLen     = 12 // lower-case base32 characters: 60 bits, so ids do not collide
	tokenBytes     = 32 // 256 bits of secret
	maxTokenPrefix = 32
)

// NewToken makes an API token of the form prefix + id + "_" + secret, where
// id is 12 lower-case base32 characters (a-z, 2-7) and secret is 32 random
// bytes as in [Generate]. The prefix, for example "perch_", lets secret
// scanners recognise a leaked token; it must be at most 32 characters of
// A-Z, a-z, 0-9, '_' and '-'.
//
// Store only Hash(token): a token always passes the high-entropy rule, so it
// is kept with the fast HMAC-SHA256 scheme and checking one costs a few
// microseconds. Use [TokenID] to find the id in a presented token.
func NewToken(prefix string) (token, id string, err error) {
	if len(prefix) > maxTokenPrefix || !tokenPrefixOK(prefix) {
		return "", "", fmt.Errorf("%w: token prefix %q: want at most %d characters of A-Z, a-z, 0-9, '_' and '-'", ErrInvalid, prefix, maxTokenPrefix)
	}
	id = strings.ToLower(rand.Text()[:tokenIDLen])
	sec, err := Generate(tokenBytes)
	if err != nil {
		return "", "", err
	}
	return prefix + id + "_" + sec, id, nil
}

// TokenID returns the id in a token made by [NewToken] with the same prefix,
// and false when token does not have that shape. It does not check the
// secret part.
func TokenID(prefix, token string) (id string, ok bool) {
	rest, ok := strings.CutPrefix(token, prefix)
	if !ok {
		return "", false
	}
	id, sec, ok := strings.Cut(rest, "_")
	if !ok || len(id) != tokenIDLen || sec == "" {
		return "", false
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; !('a' <= c && c <= 'z' || '2' <= c && c <= '7') {
			return "", false
		}
	}
	return id, true
}

func tokenPrefixOK(p string) bool {
	for i := 0; i < len(p); i++ {
		c := p[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}
