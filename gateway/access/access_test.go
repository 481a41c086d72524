package access_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/perch-gw/perch/gateway/access"
	"github.com/perch-gw/perch/gateway/db"
	"github.com/perch-gw/perch/gateway/secret"
)

const account = "admin"

// clock is an injected Now that only moves when told to.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

type env struct {
	path  string
	db    *db.DB
	a     *access.Access
	clock *clock
	ttl   time.Duration
}

func newEnv(t testing.TB) *env {
	t.Helper()
	e := &env{
		path:  filepath.Join(t.TempDir(), "perch.db"),
		clock: &clock{now: time.Date(2025, 6, 1, 8, 0, 0, 0, time.UTC)},
		ttl:   time.Hour,
	}
	e.open(t)
	return e
}

func (e *env) open(t testing.TB) {
	t.Helper()
	d, err := db.Open(e.path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	a, err := access.New(access.Config{
		DB: d, Account: account, Verifier: secret.NewVerifier(2), SessionTTL: e.ttl, Now: e.clock.Now,
	})
	if err != nil {
		t.Fatalf("access.New: %v", err)
	}
	e.db, e.a = d, a
}

func (e *env) reopen(t testing.TB) {
	t.Helper()
	if err := e.db.Close(); err != nil {
		t.Fatal(err)
	}
	e.open(t)
}

// adminHash reads the stored admin password hash. The bucket and key are
// the package's storage layout.
func (e *env) adminHash(t *testing.T) string {
	t.Helper()
	var h string
	if err := e.db.View(func(tx db.Tx) error { return tx.Get("access", "admin_password", &h) }); err != nil {
		t.Fatalf("read admin password hash: %v", err)
	}
	return h
}

func (e *env) login(t *testing.T, pw string) (tok, csrf string) {
	t.Helper()
	tok, csrf, _, err := e.a.Login(context.Background(), account, pw)
	if err != nil {
		t.Fatalf("Login: %v", err)
	}
	return tok, csrf
}

func TestNewNeedsDB(t *testing.T) {
	if _, err := access.New(access.Config{}); err == nil {
		t.Fatal("New without a database succeeded")
	}
}

func TestEnsureAdmin(t *testing.T) {
	e := newEnv(t)
	pw, err := e.a.EnsureAdmin()
	if err != nil {
		t.Fatal(err)
	}
	if len(pw) < 16 {
		t.Errorf("generated admin password %q is short", pw)
	}
	h := e.adminHash(t)
	if !strings.HasPrefix(h, "$argon2id$") || strings.Contains(h, pw) {
		t.Errorf("admin password stored as %q, want an Argon2id hash", h)
	}
	if again, err := e.a.EnsureAdmin(); err != nil || again != "" {
		t.Errorf("second EnsureAdmin = %q, %v; want \"\"", again, err)
	}
	if e.adminHash(t) != h {
		t.Error("second EnsureAdmin replaced the password")
	}
	e.reopen(t)
	if again, err := e.a.EnsureAdmin(); err != nil || again != "" {
		t.Errorf("EnsureAdmin after reopen = %q, %v; want \"\"", again, err)
	}
	e.login(t, pw)
}

func TestLoginBeforeAdminPassword(t *testing.T) {
	e := newEnv(t)
	tok, _, _, err := e.a.Login(context.Background(), account, "anything-at-all")
	if err == nil || tok != "" {
		t.Errorf("Login with no admin password = %q, %v; want an error", tok, err)
	}
}

func TestLogin(t *testing.T) {
	e := newEnv(t)
	const pw = "correct horse battery"
	if got, err := e.a.SetAdminPassword(pw); err != nil || got != pw {
		t.Fatalf("SetAdminPassword = %q, %v", got, err)
	}
	// The right password first: its verification is then cached, and
	// every wrong one below is refused without another Argon2id.
	tests := []struct {
		name, account, pw string
		ok                bool
	}{
		{"right", account, pw, true},
		{"wrong password", account, "correct horse battery!", false},
		{"empty password", account, "", false},
		{"wrong account", "root", pw, false},
		{"empty account", "", pw, false},
		{"account case", "Admin", pw, false},
		{"both wrong", "root", "hunter2", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := e.clock.Now()
			tok, csrf, expires, err := e.a.Login(context.Background(), tt.account, tt.pw)
			if !tt.ok {
				if !errors.Is(err, access.ErrDenied) || tok != "" || csrf != "" {
					t.Fatalf("Login = %q, %q, %v; want ErrDenied", tok, csrf, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(tok) < 32 || len(csrf) < 16 || tok == csrf {
				t.Errorf("session token %q, csrf %q", tok, csrf)
			}
			if !expires.Equal(start.Add(e.ttl)) {
				t.Errorf("expires %v, want %v", expires, start.Add(e.ttl))
			}
			p, gotCSRF, err := e.a.Session(tok)
			if err != nil {
				t.Fatalf("Session: %v", err)
			}
			if p != (access.Principal{Kind: "session", Name: account}) || gotCSRF != csrf {
				t.Errorf("Session = %+v, %q; want session principal and %q", p, gotCSRF, csrf)
			}
		})
	}

	t.Run("distinct sessions", func(t *testing.T) {
		t1, c1 := e.login(t, pw)
		t2, c2 := e.login(t, pw)
		if t1 == t2 || c1 == c2 {
			t.Error("two logins got the same tokens")
		}
		for _, tok := range []string{t1, t2} {
			if _, _, err := e.a.Session(tok); err != nil {
				t.Errorf("Session: %v", err)
			}
		}
	})

	t.Run("bogus session tokens", func(t *testing.T) {
		tok, csrf := e.login(t, pw)
		for _, s := range []string{"", csrf, tok + "x", tok[1:], strings.ToUpper(tok), pw} {
			if _, _, err := e.a.Session(s); !errors.Is(err, access.ErrDenied) {
				t.Errorf("Session(%q) = %v, want ErrDenied", s, err)
			}
		}
	})
}

func TestSessionExpiry(t *testing.T) {
	e := newEnv(t)
	const pw = "expiry-test-password"
	if _, err := e.a.SetAdminPassword(pw); err != nil {
		t.Fatal(err)
	}
	tok, _ := e.login(t, pw)
	e.clock.Add(e.ttl - time.Second)
	if _, _, err := e.a.Session(tok); err != nil {
		t.Fatalf("Session a second before expiry: %v", err)
	}
	// A later login does not extend an earlier session.
	later, _ := e.login(t, pw)
	e.clock.Add(2 * time.Second)
	if _, _, err := e.a.Session(tok); !errors.Is(err, access.ErrDenied) {
		t.Errorf("Session after expiry = %v, want ErrDenied", err)
	}
	if _, _, err := e.a.Session(later); err != nil {
		t.Errorf("later session expired with the first: %v", err)
	}
	e.clock.Add(e.ttl)
	if _, _, err := e.a.Session(later); !errors.Is(err, access.ErrDenied) {
		t.Errorf("Session after expiry = %v, want ErrDenied", err)
	}
	// A clock going back does not revive a pruned session: logging in
	// again prunes expired ones.
	e.login(t, pw)
	e.clock.Add(-3 * e.ttl)
	if _, _, err := e.a.Session(tok); !errors.Is(err, access.ErrDenied) {
		t.Errorf("pruned session revived: %v", err)
	}
}

func TestSessionLimit(t *testing.T) {
	e := newEnv(t)
	const pw = "many-sessions-password"
	if _, err := e.a.SetAdminPassword(pw); err != nil {
		t.Fatal(err)
	}
	// The first Login runs Argon2id; the rest are answered from the cache.
	const limit = 1000
	for i := range limit {
		if _, _, _, err := e.a.Login(context.Background(), account, pw); err != nil {
			t.Fatalf("Login %d: %v", i, err)
		}
	}
	if _, _, _, err := e.a.Login(context.Background(), account, pw); !errors.Is(err, access.ErrDenied) {
		t.Errorf("Login past the session limit = %v, want ErrDenied", err)
	}
	// Expired sessions make room.
	e.clock.Add(e.ttl + time.Second)
	e.login(t, pw)
}

func TestLogout(t *testing.T) {
	e := newEnv(t)
	const pw = "logout-test-password"
	if _, err := e.a.SetAdminPassword(pw); err != nil {
		t.Fatal(err)
	}
	t1, _ := e.login(t, pw)
	t2, _ := e.login(t, pw)
	e.a.Logout(t1)
	if _, _, err := e.a.Session(t1); !errors.Is(err, access.ErrDenied) {
		t.Errorf("Session after Logout = %v, want ErrDenied", err)
	}
	if _, _, err := e.a.Session(t2); err != nil {
		t.Errorf("Logout ended another session: %v", err)
	}
	e.a.Logout(t1)          // twice
	e.a.Logout("")          // unknown
	e.a.Logout("not-a-tok") // unknown
}

func TestSetAdminPassword(t *testing.T) {
	e := newEnv(t)
	first, err := e.a.EnsureAdmin()
	if err != nil {
		t.Fatal(err)
	}
	tok, _ := e.login(t, first)

	t.Run("too short or long", func(t *testing.T) {
		before := e.adminHash(t)
		for _, pw := range []string{"x", "123456789", strings.Repeat("p", 257)} {
			if got, err := e.a.SetAdminPassword(pw); !errors.Is(err, access.ErrInvalid) || got != "" {
				t.Errorf("SetAdminPassword(%d chars) = %q, %v; want ErrInvalid", len(pw), got, err)
			}
		}
		if e.adminHash(t) != before {
			t.Error("a refused password replaced the admin password")
		}
		if _, _, err := e.a.Session(tok); err != nil {
			t.Errorf("a refused password ended the session: %v", err)
		}
	})

	// A long password of mixed classes looks random to secret.Hash's rule;
	// a password a person chose must still get Argon2id.
	const chosen = "Greenhouse-Temp-Sensor-#3"
	if got, err := e.a.SetAdminPassword(chosen); err != nil || got != chosen {
		t.Fatalf("SetAdminPassword = %q, %v", got, err)
	}
	if h := e.adminHash(t); !strings.HasPrefix(h, "$argon2id$") {
		t.Errorf("chosen admin password stored as %.22s…, want Argon2id", h)
	}
	if _, _, err := e.a.Session(tok); !errors.Is(err, access.ErrDenied) {
		t.Errorf("session survived a password change: %v", err)
	}
	if _, _, _, err := e.a.Login(context.Background(), account, first); !errors.Is(err, access.ErrDenied) {
		t.Errorf("Login with the old password = %v, want ErrDenied", err)
	}
	e.login(t, chosen)

	t.Run("generated", func(t *testing.T) {
		pw, err := e.a.SetAdminPassword("")
		if err != nil {
			t.Fatal(err)
		}
		if len(pw) < 16 || pw == chosen {
			t.Errorf("generated password %q", pw)
		}
		e.reopen(t)
		e.login(t, pw)
	})
}

var tokenPattern = regexp.MustCompile(`^perch_([a-z2-7]{12})_[A-Za-z0-9_-]{43}$`)

func TestCreateToken(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	tok, plain, err := e.a.CreateToken("ci", false)
	if err != nil {
		t.Fatal(err)
	}
	m := tokenPattern.FindStringSubmatch(plain)
	if m == nil {
		t.Fatalf("token %q does not match %v", plain, tokenPattern)
	}
	if tok.ID != m[1] || tok.Name != "ci" || tok.ReadOnly || !tok.Created.Equal(e.clock.Now()) {
		t.Errorf("Token = %+v (token %q)", tok, plain)
	}
	secretPart := plain[len("perch_")+len(tok.ID)+1:]
	if strings.Contains(tok.Hash, plain) || strings.Contains(tok.Hash, secretPart) {
		t.Errorf("stored hash %q contains the token", tok.Hash)
	}
	if ok, err := secret.Verify(tok.Hash, plain); !ok || err != nil {
		t.Errorf("stored hash does not verify the token: %v, %v", ok, err)
	}

	ro, roPlain, err := e.a.CreateToken("dashboard.read-only_1", true)
	if err != nil {
		t.Fatal(err)
	}
	if ro.ID == tok.ID || roPlain == plain {
		t.Error("two tokens share an id or a value")
	}

	if p, err := e.a.CheckToken(ctx, plain); err != nil || p != (access.Principal{Kind: "token", Name: "ci"}) {
		t.Errorf("CheckToken = %+v, %v", p, err)
	}
	if p, err := e.a.CheckToken(ctx, roPlain); err != nil || p != (access.Principal{Kind: "token", Name: "dashboard.read-only_1", ReadOnly: true}) {
		t.Errorf("CheckToken(read-only) = %+v, %v", p, err)
	}

	got := e.a.Tokens()
	if len(got) != 2 || got[0].Name != "ci" || got[1].Name != "dashboard.read-only_1" {
		t.Errorf("Tokens = %+v", got)
	}
	for _, st := range got {
		if strings.Contains(st.Hash, plain) || strings.Contains(st.Hash, roPlain) {
			t.Errorf("listed hash %q contains a token", st.Hash)
		}
	}
}

func TestCheckTokenRefuses(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	tok, plain, err := e.a.CreateToken("ci", false)
	if err != nil {
		t.Fatal(err)
	}
	other, otherPlain, err := e.a.CreateToken("other", false)
	if err != nil {
		t.Fatal(err)
	}
	secretPart := plain[len("perch_")+len(tok.ID)+1:]
	flip := func(s string, i int) string {
		b := []byte(s)
		if b[i] == 'A' {
			b[i] = 'B'
		} else {
			b[i] = 'A'
		}
		return string(b)
	}
	tests := []struct{ name, token string }{
		{"empty", ""},
		{"prefix only", "perch_"},
		{"no secret", "perch_" + tok.ID},
		{"empty secret", "perch_" + tok.ID + "_"},
		{"empty id", "perch__" + secretPart},
		{"secret only", secretPart},
		{"last char", flip(plain, len(plain)-1)},
		{"first secret char", flip(plain, len("perch_")+len(tok.ID)+1)},
		{"truncated", plain[:len(plain)-1]},
		{"extended", plain + "A"},
		{"unknown id", "perch_aaaaaaaaaaaa_" + secretPart},
		{"other token's secret", "perch_" + tok.ID + "_" + otherPlain[len("perch_")+len(other.ID)+1:]},
		{"other prefix", "ghp_" + tok.ID + "_" + secretPart},
		{"upper-case prefix", "PERCH_" + plain[len("perch_"):]},
		{"upper-case id", "perch_" + strings.ToUpper(tok.ID) + "_" + secretPart},
		{"bearer", "Bearer " + plain},
		{"leading space", " " + plain},
		{"trailing newline", plain + "\n"},
		{"nul", plain + "\x00"},
		{"hash as token", tok.Hash},
		{"id as token", tok.ID},
		{"long", "perch_" + tok.ID + "_" + strings.Repeat("x", 1<<16)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := e.a.CheckToken(ctx, tt.token)
			if !errors.Is(err, access.ErrDenied) || p != (access.Principal{}) {
				t.Errorf("CheckToken = %+v, %v; want ErrDenied", p, err)
			}
		})
	}
	// The real tokens still work.
	for _, pl := range []string{plain, otherPlain} {
		if _, err := e.a.CheckToken(ctx, pl); err != nil {
			t.Errorf("CheckToken(real) = %v", err)
		}
	}
}

func TestCreateTokenNames(t *testing.T) {
	e := newEnv(t)
	if _, _, err := e.a.CreateToken("ci", false); err != nil {
		t.Fatal(err)
	}
	tests := []struct{ name, token string }{
		{"duplicate", "ci"},
		{"empty", ""},
		{"65 chars", strings.Repeat("t", 65)},
		{"space", "my token"},
		{"slash", "a/b"},
		{"colon", "a:b"},
		{"unicode", "jeton-é"},
		{"newline", "ci\n"},
		{"nul", "ci\x00"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok, plain, err := e.a.CreateToken(tt.token, false)
			if !errors.Is(err, access.ErrInvalid) || plain != "" || tok != (access.Token{}) {
				t.Errorf("CreateToken(%q) = %+v, %q, %v; want ErrInvalid", tt.token, tok, plain, err)
			}
		})
	}
	if n := len(e.a.Tokens()); n != 1 {
		t.Errorf("%d tokens after refused creates, want 1", n)
	}
	for _, name := range []string{"a", "A.b-c_9", strings.Repeat("t", 64)} {
		if _, _, err := e.a.CreateToken(name, true); err != nil {
			t.Errorf("CreateToken(%q) = %v", name, err)
		}
	}
}

// Two requests creating a token with the same name at once must not both
// succeed: names are how people refer to tokens (DeleteToken by name).
func TestCreateTokenSameNameConcurrently(t *testing.T) {
	e := newEnv(t)
	const n = 16
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			_, _, errs[i] = e.a.CreateToken("deploy", false)
		})
	}
	close(start)
	wg.Wait()
	ok := 0
	for i, err := range errs {
		switch {
		case err == nil:
			ok++
		case !errors.Is(err, access.ErrInvalid):
			t.Errorf("CreateToken %d: %v", i, err)
		}
	}
	named := 0
	for _, tok := range e.a.Tokens() {
		if tok.Name == "deploy" {
			named++
		}
	}
	if ok != 1 || named != 1 {
		t.Errorf("%d concurrent CreateToken calls with one name: %d succeeded, %d tokens so named; want 1 and 1", n, ok, named)
	}
}

func TestDeleteToken(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	a, aPlain, _ := e.a.CreateToken("a", false)
	_, bPlain, _ := e.a.CreateToken("b", false)
	_, cPlain, _ := e.a.CreateToken("c", true)

	if err := e.a.DeleteToken(a.ID); err != nil {
		t.Fatalf("DeleteToken(id) = %v", err)
	}
	if err := e.a.DeleteToken("b"); err != nil {
		t.Fatalf("DeleteToken(name) = %v", err)
	}
	for _, gone := range []string{a.ID, "a", "b", "", "nope"} {
		if err := e.a.DeleteToken(gone); !errors.Is(err, access.ErrNotFound) {
			t.Errorf("DeleteToken(%q) = %v, want ErrNotFound", gone, err)
		}
	}
	for _, pl := range []string{aPlain, bPlain} {
		if _, err := e.a.CheckToken(ctx, pl); !errors.Is(err, access.ErrDenied) {
			t.Errorf("deleted token still accepted: %v", err)
		}
	}
	if _, err := e.a.CheckToken(ctx, cPlain); err != nil {
		t.Errorf("remaining token refused: %v", err)
	}

	e.reopen(t)
	if names := tokenNames(e.a.Tokens()); !slices.Equal(names, []string{"c"}) {
		t.Errorf("after reopen tokens %v, want [c]", names)
	}
	for _, pl := range []string{aPlain, bPlain} {
		if _, err := e.a.CheckToken(ctx, pl); !errors.Is(err, access.ErrDenied) {
			t.Errorf("deleted token accepted after reopen: %v", err)
		}
	}
}

// A token may be named like another token's id (names are 1 to 64 of
// [A-Za-z0-9_.-], ids 12 of [a-z2-7]). DeleteToken with that string must
// then always delete the same token, not whichever map iteration finds
// last. Tried many times, since map order is random.
func TestDeleteTokenIDNameClash(t *testing.T) {
	e := newEnv(t)
	for i := range 20 {
		a, _, err := e.a.CreateToken(fmt.Sprintf("first-%d", i), false)
		if err != nil {
			t.Fatal(err)
		}
		b, _, err := e.a.CreateToken(a.ID, false) // named like a's id
		if err != nil {
			t.Fatal(err)
		}
		if err := e.a.DeleteToken(a.ID); err != nil {
			t.Fatal(err)
		}
		left := e.a.Tokens()
		if len(left) != 1 {
			t.Fatalf("%d tokens left, want 1", len(left))
		}
		switch left[0].ID {
		case b.ID:
			// The id won, as it should: ids are unique and what lists show.
		case a.ID:
			t.Fatalf("round %d: DeleteToken(%q) deleted the token named %q instead of the token with that id", i, a.ID, a.ID)
		}
		if err := e.a.DeleteToken(left[0].ID); err != nil {
			t.Fatal(err)
		}
	}
}

func TestTokensPersist(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	plains := map[string]string{}
	for _, name := range []string{"zeta", "alpha", "mid"} {
		_, plain, err := e.a.CreateToken(name, name == "mid")
		if err != nil {
			t.Fatal(err)
		}
		plains[name] = plain
	}
	before := e.a.Tokens()
	if names := tokenNames(before); !slices.Equal(names, []string{"alpha", "mid", "zeta"}) {
		t.Errorf("Tokens not sorted by name: %v", names)
	}
	e.reopen(t)
	after := e.a.Tokens()
	if len(after) != len(before) {
		t.Fatalf("after reopen %d tokens, want %d", len(after), len(before))
	}
	for i := range before {
		b, a := before[i], after[i]
		if a.ID != b.ID || a.Name != b.Name || a.ReadOnly != b.ReadOnly || !a.Created.Equal(b.Created) || a.Hash != b.Hash {
			t.Errorf("after reopen %+v, want %+v", a, b)
		}
	}
	for name, plain := range plains {
		p, err := e.a.CheckToken(ctx, plain)
		if err != nil || p.Name != name || p.ReadOnly != (name == "mid") {
			t.Errorf("CheckToken(%s) after reopen = %+v, %v", name, p, err)
		}
	}
	// Names stay unique across a restart.
	if _, _, err := e.a.CreateToken("alpha", false); !errors.Is(err, access.ErrInvalid) {
		t.Errorf("duplicate name after reopen: %v, want ErrInvalid", err)
	}
}

// For the race detector.
func TestConcurrentAccess(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	const pw = "concurrent-password"
	if _, err := e.a.SetAdminPassword(pw); err != nil {
		t.Fatal(err)
	}
	e.login(t, pw) // puts the verification in the cache
	_, plain, err := e.a.CreateToken("shared", false)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Go(func() {
			for range 10 {
				tok, _, _, err := e.a.Login(ctx, account, pw)
				if err != nil {
					t.Error(err)
					return
				}
				if _, _, err := e.a.Session(tok); err != nil {
					t.Error(err)
				}
				e.a.Logout(tok)
			}
		})
		wg.Go(func() {
			name := fmt.Sprintf("tmp-%d", i)
			for range 5 {
				if _, _, err := e.a.CreateToken(name, false); err != nil {
					t.Error(err)
				}
				if _, err := e.a.CheckToken(ctx, plain); err != nil {
					t.Error(err)
				}
				e.a.Tokens()
				if err := e.a.DeleteToken(name); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
}

func tokenNames(ts []access.Token) []string {
	names := make([]string, len(ts))
	for i, t := range ts {
		names[i] = t.Name
	}
	return names
}
