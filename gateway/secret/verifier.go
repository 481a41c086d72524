package secret

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"runtime"
	"sync"
)

// DefaultCacheSize is how many verified Argon2id hashes a [Verifier]
// remembers: far more than the few thousand devices a gateway serves. An
// entry costs about 100 bytes besides the encoded hash string, which it
// shares with the caller's copy (about 9 MB for a full cache), and entries
// are only made by successful verifications, so an attacker cannot fill it.
const DefaultCacheSize = 100_000

// A Verifier verifies secrets against encoded hashes like [Verify], with two
// protections for a gateway that many devices log in to at once:
//
//   - at most maxSlow Argon2id computations run at a time; other callers
//     wait their turn or give up when their context ends, so a storm of
//     logins cannot take every core and the memory with it;
//   - after a successful Argon2id verification it remembers, for that
//     encoded hash, an HMAC of the secret under a key made at random when
//     the Verifier is created, so the same device reconnecting with the same
//     password costs a map lookup and one HMAC. The cache is keyed by the
//     encoded hash, so changing a device's credentials makes its entry
//     unreachable; when full, the oldest entry is dropped.
//
// The cache lives only in memory and its key never leaves the process. A
// Verifier is safe for concurrent use; share one per gateway.
type Verifier struct {
	slow chan struct{} // semaphore: one token per running Argon2id
	key  []byte        // HMAC key for cache entries

	mu    sync.Mutex
	cache map[string][sha256.Size]byte // encoded hash → HMAC of its secret
	order []string                     // cache keys, oldest first from next, for eviction
	next  int                          // next slot of order to overwrite once full
	max   int
}

// NewVerifier returns a Verifier that runs at most maxSlow Argon2id
// computations at once; maxSlow <= 0 means max(1, GOMAXPROCS-1), leaving a
// core for the broker.
func NewVerifier(maxSlow int) *Verifier {
	return newVerifier(maxSlow, DefaultCacheSize)
}

func newVerifier(maxSlow, cacheSize int) *Verifier {
	if maxSlow <= 0 {
		maxSlow = max(1, runtime.GOMAXPROCS(0)-1)
	}
	key := make([]byte, 32)
	rand.Read(key) // never fails (crypto/rand, Go 1.24 and later)
	return &Verifier{
		slow:  make(chan struct{}, maxSlow),
		key:   key,
		cache: make(map[string][sha256.Size]byte),
		max:   cacheSize,
	}
}

// Verify reports whether secret matches encoded, like the package's
// [Verify]. Fast-scheme hashes are checked at once. For Argon2id hashes the
// cache is consulted first: a remembered secret is accepted, and any other
// secret is refused without Argon2id, since a hash that one secret is known
// to match cannot match another. Otherwise Verify waits for a free slot,
// and returns an error wrapping ctx.Err() if ctx ends first.
func (v *Verifier) Verify(ctx context.Context, encoded, secret string) (bool, error) {
	h, err := parse(encoded)
	if err != nil {
		return false, err
	}
	if !h.argon {
		return h.verify(secret), nil
	}
	sum := v.sum(encoded, secret)
	if ok, hit := v.lookup(encoded, sum); hit {
		return ok, nil
	}
	if err := ctx.Err(); err != nil {
		return false, fmt.Errorf("secret: verify: %w", err)
	}
	select {
	case v.slow <- struct{}{}:
	case <-ctx.Done():
		return false, fmt.Errorf("secret: wait for a verification slot: %w", ctx.Err())
	}
	defer func() { <-v.slow }()
	// Another caller may have verified the same hash while this one waited:
	// the same device reconnecting twice in a storm.
	if ok, hit := v.lookup(encoded, sum); hit {
		return ok, nil
	}
	if !h.verify(secret) {
		return false, nil
	}
	v.remember(encoded, sum)
	return true, nil
}

// Cached reports whether Verify would accept secret for encoded from the
// cache, without Argon2id. It is false for a wrong secret even when encoded
// is in the cache: a throttled source may log in with a remembered password
// but gets no free guesses.
func (v *Verifier) Cached(encoded, secret string) bool {
	ok, hit := v.lookup(encoded, v.sum(encoded, secret))
	return hit && ok
}

// sum is the cache's record of secret for encoded. Binding the encoded hash
// in means equal passwords on two devices leave different records.
func (v *Verifier) sum(encoded, secret string) [sha256.Size]byte {
	m := hmac.New(sha256.New, v.key)
	m.Write([]byte(encoded))
	m.Write([]byte{0}) // encoded hashes never contain NUL
	m.Write([]byte(secret))
	var out [sha256.Size]byte
	m.Sum(out[:0])
	return out
}

// lookup reports whether encoded is cached (hit) and, if so, whether sum
// matches the remembered secret (ok).
func (v *Verifier) lookup(encoded string, sum [sha256.Size]byte) (ok, hit bool) {
	v.mu.Lock()
	want, hit := v.cache[encoded]
	v.mu.Unlock()
	if !hit {
		return false, false
	}
	return subtle.ConstantTimeCompare(sum[:], want[:]) == 1, true
}

func (v *Verifier) remember(encoded string, sum [sha256.Size]byte) {
	if v.max <= 0 {
		return
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if _, ok := v.cache[encoded]; ok {
		v.cache[encoded] = sum
		return
	}
	if len(v.order) < v.max {
		v.order = append(v.order, encoded)
	} else {
		delete(v.cache, v.order[v.next])
		v.order[v.next] = encoded
		v.next = (v.next + 1) % v.max
	}
	v.cache[encoded] = sum
}
