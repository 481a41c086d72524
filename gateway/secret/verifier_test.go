package secret

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"testing"
	"testing/synctest"
)

func (v *Verifier) cacheLen() int {
	v.mu.Lock()
	defer v.mu.Unlock()
	return len(v.cache)
}

func TestNewVerifier(t *testing.T) {
	tests := []struct{ maxSlow, want int }{
		{0, max(1, runtime.GOMAXPROCS(0)-1)},
		{-3, max(1, runtime.GOMAXPROCS(0)-1)},
		{1, 1},
		{4, 4},
	}
	for _, tt := range tests {
		if got := cap(NewVerifier(tt.maxSlow).slow); got != tt.want {
			t.Errorf("NewVerifier(%d) runs %d at once, want %d", tt.maxSlow, got, tt.want)
		}
	}
}

func TestVerifierVerify(t *testing.T) {
	gen := mustGenerate(t, 24)
	fast, _ := Hash(gen)
	slow := cheapArgon("password123")
	tests := []struct {
		name, encoded, secret string
		ok                    bool
		err                   error
	}{
		{"fast", fast, gen, true, nil},
		{"fast, wrong", fast, gen + "x", false, nil},
		{"argon2id", slow, "password123", true, nil},
		{"argon2id, wrong", slow, "password124", false, nil},
		{"malformed", "$argon2id$v=19$m=64", "password123", false, ErrMalformedHash},
		{"empty", "", "", false, ErrMalformedHash},
	}
	v := NewVerifier(2)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for range 2 { // again, now that a right secret is cached
				ok, err := v.Verify(context.Background(), tt.encoded, tt.secret)
				if ok != tt.ok || !errors.Is(err, tt.err) {
					t.Fatalf("Verify = %v, %v; want %v, %v", ok, err, tt.ok, tt.err)
				}
			}
		})
	}
}

func TestVerifierCache(t *testing.T) {
	v := NewVerifier(1)
	ctx := context.Background()
	enc := cheapArgon("pw-one")
	if v.Cached(enc, "pw-one") {
		t.Fatal("Cached before any verification")
	}
	if ok, err := v.Verify(ctx, enc, "pw-two"); ok || err != nil {
		t.Fatalf("Verify(wrong) = %v, %v", ok, err)
	}
	if v.cacheLen() != 0 {
		t.Fatal("a failed verification was cached")
	}
	if ok, err := v.Verify(ctx, enc, "pw-one"); !ok || err != nil {
		t.Fatalf("Verify(right) = %v, %v", ok, err)
	}
	if !v.Cached(enc, "pw-one") {
		t.Error("right secret not cached after a successful verification")
	}
	if v.Cached(enc, "pw-two") {
		t.Error("Cached true for a wrong secret: a throttled guesser would get free checks")
	}

	// With every slot taken and the context over, only cache answers are
	// possible: both right and wrong secrets for a cached hash are answered.
	v.slow <- struct{}{}
	done, cancel := context.WithCancel(ctx)
	cancel()
	if ok, err := v.Verify(done, enc, "pw-one"); !ok || err != nil {
		t.Errorf("cached Verify(right) without a slot = %v, %v; want true", ok, err)
	}
	if ok, err := v.Verify(done, enc, "pw-two"); ok || err != nil {
		t.Errorf("cached Verify(wrong) without a slot = %v, %v; want false, nil", ok, err)
	}
	<-v.slow

	// New credentials, even the same password, have a new hash: the old
	// entry does not apply.
	rotated := cheapArgon("pw-one")
	if v.Cached(rotated, "pw-one") {
		t.Error("cache entry carried over to a new hash")
	}
	if ok, err := v.Verify(ctx, rotated, "pw-one"); !ok || err != nil {
		t.Errorf("Verify(new hash) = %v, %v", ok, err)
	}
	// Equal passwords leave different records.
	if v.sum(enc, "pw-one") == v.sum(rotated, "pw-one") {
		t.Error("cache records do not depend on the hash")
	}
	// Fast hashes are never cached: they do not need it.
	fast, _ := Hash(mustGenerate(t, 24))
	v.Verify(ctx, fast, "x")
	if n := v.cacheLen(); n != 2 {
		t.Errorf("cache holds %d entries, want 2", n)
	}
}

func TestVerifierEviction(t *testing.T) {
	v := newVerifier(1, 2)
	ctx := context.Background()
	enc := make([]string, 4)
	for i := range enc {
		enc[i] = cheapArgon(fmt.Sprint("pw", i))
		if ok, err := v.Verify(ctx, enc[i], fmt.Sprint("pw", i)); !ok || err != nil {
			t.Fatalf("Verify %d = %v, %v", i, ok, err)
		}
		if n := v.cacheLen(); n > 2 {
			t.Fatalf("cache holds %d entries, bound is 2", n)
		}
	}
	for i, want := range []bool{false, false, true, true} {
		if got := v.Cached(enc[i], fmt.Sprint("pw", i)); got != want {
			t.Errorf("Cached(hash %d) = %v, want %v (oldest evicted)", i, got, want)
		}
	}
	if n := len(v.order); n != 2 {
		t.Errorf("eviction order holds %d keys, want 2", n)
	}
}

func TestVerifierLimit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		v := NewVerifier(2)
		enc := cheapArgon("pw")
		// Take both slots, as two long verifications would.
		v.slow <- struct{}{}
		v.slow <- struct{}{}

		type result struct {
			ok  bool
			err error
		}
		waiting := make(chan result, 1)
		go func() {
			ok, err := v.Verify(context.Background(), enc, "pw")
			waiting <- result{ok, err}
		}()
		synctest.Wait()
		select {
		case r := <-waiting:
			t.Fatalf("Verify ran with every slot taken: %v, %v", r.ok, r.err)
		default:
		}

		// A caller whose context ends while waiting gives up.
		ctx, cancel := context.WithCancel(context.Background())
		cancelled := make(chan result, 1)
		go func() {
			ok, err := v.Verify(ctx, enc, "pw")
			cancelled <- result{ok, err}
		}()
		synctest.Wait()
		cancel()
		synctest.Wait()
		select {
		case r := <-cancelled:
			if r.ok || !errors.Is(r.err, context.Canceled) {
				t.Errorf("cancelled Verify = %v, %v; want false, context.Canceled", r.ok, r.err)
			}
		default:
			t.Fatal("Verify still waiting after its context was cancelled")
		}

		// A slot frees up: the first caller proceeds.
		<-v.slow
		synctest.Wait()
		select {
		case r := <-waiting:
			if !r.ok || r.err != nil {
				t.Errorf("Verify after a slot freed = %v, %v; want true", r.ok, r.err)
			}
		default:
			t.Fatal("Verify still waiting after a slot freed")
		}
		if n := len(v.slow); n != 1 {
			t.Errorf("%d slots taken after the verification, want 1 (its slot returned)", n)
		}
	})
}

func TestVerifierConcurrent(t *testing.T) {
	v := NewVerifier(2)
	gen := mustGenerate(t, 24)
	fast, _ := Hash(gen)
	slow := make([]string, 4)
	for i := range slow {
		slow[i] = cheapArgon(fmt.Sprint("pw", i))
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 50 {
				k := (g + i) % len(slow)
				right := fmt.Sprint("pw", k)
				if ok, err := v.Verify(context.Background(), slow[k], right); !ok || err != nil {
					t.Errorf("Verify(%d, right) = %v, %v", k, ok, err)
				}
				if ok, _ := v.Verify(context.Background(), slow[k], right+"!"); ok {
					t.Errorf("Verify(%d, wrong) = true", k)
				}
				if ok, _ := v.Verify(context.Background(), fast, gen); !ok {
					t.Error("Verify(fast) = false")
				}
				v.Cached(slow[k], right)
			}
		})
	}
	wg.Wait()
	if n := len(v.slow); n != 0 {
		t.Errorf("%d slots still taken", n)
	}
}

func BenchmarkVerifyCached(b *testing.B) {
	v := NewVerifier(0)
	h, _ := Hash("password123")
	ctx := context.Background()
	if ok, err := v.Verify(ctx, h, "password123"); !ok || err != nil {
		b.Fatal(ok, err)
	}
	for b.Loop() {
		if ok, _ := v.Verify(ctx, h, "password123"); !ok {
			b.Fatal("not verified")
		}
	}
}

func BenchmarkVerifierFast(b *testing.B) {
	v := NewVerifier(0)
	s := mustGenerate(b, 24)
	h, _ := Hash(s)
	ctx := context.Background()
	for b.Loop() {
		if ok, _ := v.Verify(ctx, h, s); !ok {
			b.Fatal("not verified")
		}
	}
}
