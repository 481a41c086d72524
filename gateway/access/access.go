// Package access decides who may use the admin API: the admin password (for
// console logins), API tokens (for scripts and the remote CLI) and the
// console's login sessions.
package access

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/perch-gw/perch/gateway/db"
	"github.com/perch-gw/perch/gateway/secret"
)

const (
	metaBucket  = "access"
	tokenBucket = "tokens"
	adminKey    = "admin_password"
	tokenPrefix = "perch_"
	minPassword = 10
	maxSessions = 1000
)

var (
	// ErrDenied means the presented credentials are not valid.
	ErrDenied = errors.New("access denied")
	// ErrNotFound means no token has the given id.
	ErrNotFound = errors.New("token not found")
	// ErrInvalid means an argument is not acceptable.
	ErrInvalid = errors.New("invalid")
)

// Principal is who made a request.
type Principal struct {
	// Kind is "token", "session" or "socket" (the local control socket).
	Kind     string
	Name     string
	ReadOnly bool
}

// Token is a stored API token; the token itself is shown once, at creation.
type Token struct {
	ID       string    `json:"id"`
	Name     string    `json:"name"`
	ReadOnly bool      `json:"read_only"`
	Created  time.Time `json:"created"`
	Hash     string    `json:"hash"`
}

// Config configures Access. DB is required; the rest has defaults.
type Config struct {
	DB         *db.DB
	Account    string
	Verifier   *secret.Verifier
	SessionTTL time.Duration
	Now        func() time.Time
	Logger     *slog.Logger
}

type session struct {
	csrf    string
	expires time.Time
}

// Access holds the admin credentials. It is safe for concurrent use.
type Access struct {
	cfg Config

	writeMu  sync.Mutex // serialises token changes
	mu       sync.Mutex
	tokens   map[string]Token    // by id
	sessions map[string]*session // by SHA-256 of the session token
}

// New loads the tokens from the database.
func New(cfg Config) (*Access, error) {
	if cfg.DB == nil {
		return nil, errors.New("access: no database")
	}
	if cfg.Verifier == nil {
		cfg.Verifier = secret.NewVerifier(0)
	}
	if cfg.SessionTTL <= 0 {
		cfg.SessionTTL = 12 * time.Hour
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	a := &Access{cfg: cfg, tokens: make(map[string]Token), sessions: make(map[string]*session)}
	err := cfg.DB.View(func(tx db.Tx) error {
		return tx.ForEach(tokenBucket, func(key string, _ []byte) error {
			var t Token
			if err := tx.Get(tokenBucket, key, &t); err != nil {
				return err
			}
			a.tokens[t.ID] = t
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("access: load tokens: %w", err)
	}
	return a, nil
}

// EnsureAdmin makes an admin password on first start. It returns the new
// password, which is not kept anywhere, or "" when one already existed.
func (a *Access) EnsureAdmin() (string, error) {
	var created string
	err := a.cfg.DB.Update(func(tx db.Tx) error {
		var hash string
		if err := tx.Get(metaBucket, adminKey, &hash); err == nil {
			return nil
		} else if !errors.Is(err, db.ErrNotFound) {
			return err
		}
		pw, err := secret.Generate(12)
		if err != nil {
			return err
		}
		if hash, err = secret.HashPassword(pw); err != nil {
			return err
		}
		created = pw
		return tx.Put(metaBucket, adminKey, hash)
	})
	if err != nil {
		return "", fmt.Errorf("access: admin password: %w", err)
	}
	return created, nil
}

// SetAdminPassword replaces the admin password (generated when pw is empty)
// and ends every console session. It returns the password.
func (a *Access) SetAdminPassword(pw string) (string, error) {
	if pw == "" {
		var err error
		if pw, err = secret.Generate(12); err != nil {
			return "", fmt.Errorf("access: generate password: %w", err)
		}
	} else if len(pw) < minPassword || len(pw) > 256 {
		return "", fmt.Errorf("%w: password must be %d to 256 characters", ErrInvalid, minPassword)
	}
	hash, err := secret.HashPassword(pw)
	if err != nil {
		return "", fmt.Errorf("access: hash password: %w", err)
	}
	if err := a.cfg.DB.Update(func(tx db.Tx) error { return tx.Put(metaBucket, adminKey, hash) }); err != nil {
		return "", fmt.Errorf("access: save admin password: %w", err)
	}
	a.mu.Lock()
	clear(a.sessions)
	a.mu.Unlock()
	return pw, nil
}

// Login checks the account id and admin password and opens a console
// session. It returns the session token (for a cookie) and a CSRF token
// that state-changing requests must echo in a header.
func (a *Access) Login(ctx context.Context, account, password string) (sessionToken, csrf string, expires time.Time, err error) {
	var hash string
	if err := a.cfg.DB.View(func(tx db.Tx) error { return tx.Get(metaBucket, adminKey, &hash) }); err != nil {
		return "", "", time.Time{}, fmt.Errorf("access: read admin password: %w", err)
	}
	accountOK := subtle.ConstantTimeCompare([]byte(account), []byte(a.cfg.Account)) == 1
	ok, err := a.cfg.Verifier.Verify(ctx, hash, password)
	if err != nil {
		return "", "", time.Time{}, fmt.Errorf("access: verify: %w", err)
	}
	if !ok || !accountOK {
		return "", "", time.Time{}, ErrDenied
	}
	if sessionToken, err = secret.Generate(32); err != nil {
		return "", "", time.Time{}, err
	}
	if csrf, err = secret.Generate(16); err != nil {
		return "", "", time.Time{}, err
	}
	now := a.cfg.Now()
	expires = now.Add(a.cfg.SessionTTL)
	a.mu.Lock()
	defer a.mu.Unlock()
	a.pruneLocked(now)
	if len(a.sessions) >= maxSessions {
		return "", "", time.Time{}, fmt.Errorf("%w: too many open sessions", ErrDenied)
	}
	a.sessions[digest(sessionToken)] = &session{csrf: csrf, expires: expires}
	return sessionToken, csrf, expires, nil
}

func (a *Access) pruneLocked(now time.Time) {
	for k, s := range a.sessions {
		if now.After(s.expires) {
			delete(a.sessions, k)
		}
	}
}

// Session checks a console session token and returns its CSRF token.
func (a *Access) Session(token string) (p Principal, csrf string, err error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	s, ok := a.sessions[digest(token)]
	if !ok || a.cfg.Now().After(s.expires) {
		return Principal{}, "", ErrDenied
	}
	return Principal{Kind: "session", Name: a.cfg.Account}, s.csrf, nil
}

// Logout ends a console session.
func (a *Access) Logout(token string) {
	a.mu.Lock()
	delete(a.sessions, digest(token))
	a.mu.Unlock()
}

var namePattern = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,64}$`)

// CreateToken makes an API token and returns it with its secret value,
// which is shown once and never stored.
func (a *Access) CreateToken(name string, readOnly bool) (Token, string, error) {
	if !namePattern.MatchString(name) {
		return Token{}, "", fmt.Errorf("%w: token name %q must be 1 to 64 characters of A-Z, a-z, 0-9, '_', '.' and '-'", ErrInvalid, name)
	}
	// writeMu makes check-name-then-insert atomic across callers.
	a.writeMu.Lock()
	defer a.writeMu.Unlock()
	a.mu.Lock()
	for _, t := range a.tokens {
		if t.Name == name {
			a.mu.Unlock()
			return Token{}, "", fmt.Errorf("%w: a token named %q exists", ErrInvalid, name)
		}
	}
	a.mu.Unlock()
	// The id is public (it names the token in lists and lets CheckToken
	// find the hash); only the part after it is secret.
	id := strings.ToLower(rand.Text()[:12])
	sec, err := secret.Generate(32)
	if err != nil {
		return Token{}, "", err
	}
	plain := tokenPrefix + id + "_" + sec
	hash, err := secret.Hash(plain)
	if err != nil {
		return Token{}, "", err
	}
	t := Token{ID: id, Name: name, ReadOnly: readOnly, Created: a.cfg.Now().UTC(), Hash: hash}
	if err := a.cfg.DB.Update(func(tx db.Tx) error { return tx.Put(tokenBucket, id, t) }); err != nil {
		return Token{}, "", fmt.Errorf("access: save token: %w", err)
	}
	a.mu.Lock()
	a.tokens[id] = t
	a.mu.Unlock()
	return t, plain, nil
}

// Tokens lists the API tokens by name.
func (a *Access) Tokens() []Token {
	a.mu.Lock()
	out := make([]Token, 0, len(a.tokens))
	for _, t := range a.tokens {
		out = append(out, t)
	}
	a.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// DeleteToken revokes a token, by id or else by name.
func (a *Access) DeleteToken(idOrName string) error {
	a.writeMu.Lock()
	defer a.writeMu.Unlock()
	a.mu.Lock()
	id := ""
	if _, ok := a.tokens[idOrName]; ok {
		id = idOrName
	} else {
		for _, t := range a.tokens {
			if t.Name == idOrName {
				id = t.ID
			}
		}
	}
	a.mu.Unlock()
	if id == "" {
		return fmt.Errorf("%w: %q", ErrNotFound, idOrName)
	}
	if err := a.cfg.DB.Update(func(tx db.Tx) error { return tx.Delete(tokenBucket, id) }); err != nil && !errors.Is(err, db.ErrNotFound) {
		return fmt.Errorf("access: delete token: %w", err)
	}
	a.mu.Lock()
	delete(a.tokens, id)
	a.mu.Unlock()
	return nil
}

// CheckToken checks a bearer token. Tokens carry their id, so this is one
// map lookup and one fast hash.
func (a *Access) CheckToken(ctx context.Context, plain string) (Principal, error) {
	rest, ok := strings.CutPrefix(plain, tokenPrefix)
	if !ok {
		return Principal{}, ErrDenied
	}
	id, _, ok := strings.Cut(rest, "_")
	if !ok {
		return Principal{}, ErrDenied
	}
	a.mu.Lock()
	t, ok := a.tokens[id]
	a.mu.Unlock()
	if !ok {
		return Principal{}, ErrDenied
	}
	good, err := a.cfg.Verifier.Verify(ctx, t.Hash, plain)
	if err != nil || !good {
		return Principal{}, ErrDenied
	}
	return Principal{Kind: "token", Name: t.Name, ReadOnly: t.ReadOnly}, nil
}

func digest(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}
