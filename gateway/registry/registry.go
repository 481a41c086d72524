// Package registry holds the gateway's devices: their identity, hashed
// credentials, access rules and enabled state, persisted in the gateway's
// database and mirrored in memory so that an MQTT login costs a map lookup
// and one password verification.
package registry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/perch-gw/perch/gateway/acl"
	"github.com/perch-gw/perch/gateway/db"
	"github.com/perch-gw/perch/gateway/secret"
)

const (
	bucket     = "devices"
	seenBucket = "devices_seen" // apart from devices so a write of one never overwrites the other
)

// TypeMQTT is the only device type today: a board that talks MQTT.
const TypeMQTT = "mqtt"

var (
	// ErrNotFound means no device has the given id.
	ErrNotFound = errors.New("device not found")
	// ErrExists means a device with the given id already exists.
	ErrExists = errors.New("device already exists")
	// ErrInvalid means a device field is not acceptable; it is wrapped in a *FieldError.
	ErrInvalid = errors.New("invalid device")
	// ErrBadCredentials means the password does not match the device's credentials.
	ErrBadCredentials = errors.New("bad credentials")
	// ErrDisabled means the device exists but is disabled.
	ErrDisabled = errors.New("device disabled")
)

// FieldError says which field of a device was not acceptable and why.
type FieldError struct {
	Field  string
	Reason string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Reason }

// Unwrap makes errors.Is(err, ErrInvalid) true.
func (e *FieldError) Unwrap() error { return ErrInvalid }

var idPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// ValidID reports whether id is a valid device id: 1 to 64 of [A-Za-z0-9_-].
func ValidID(id string) bool { return idPattern.MatchString(id) }

// Device is a registered device. Credentials are never stored, only their hash.
type Device struct {
	ID          string    `json:"id"`
	Type        string    `json:"type"`
	Name        string    `json:"name"`
	Description string    `json:"description"`
	Enabled     bool      `json:"enabled"`
	ACL         acl.Rules `json:"acl"`
	Created     time.Time `json:"created"`
	Updated     time.Time `json:"updated"`
	// LastSeen is when the device last disconnected, kept across restarts
	// (stored apart from the device record).
	LastSeen time.Time `json:"-"`
	// CredentialsHash is the salted hash of the credentials (see package secret).
	CredentialsHash string `json:"credentials_hash"`
}

// Change tells observers (the broker) what happened to a device.
type Change struct {
	Device Device
	// Kind is one of "created", "updated", "credentials", "deleted".
	Kind string
}

// Config configures a Registry. The zero value works except for DB.
type Config struct {
	DB       *db.DB
	Verifier *secret.Verifier // shared verifier (cache + concurrency limit); a new one when nil
	Logger   *slog.Logger
	Now      func() time.Time
	// OnChange is called after every committed change, in commit order,
	// while the registry's write lock is held: it may read the registry
	// but must not change it.
	OnChange func(Change)
}

// Registry is the device registry. It is safe for concurrent use.
type Registry struct {
	cfg Config
	mu  sync.RWMutex
	dev map[string]*Device // immutable values: replaced, never mutated
	// writeMu serialises read-modify-write sequences across db and cache.
	writeMu sync.Mutex
}

// New loads every device from the database into memory.
func New(cfg Config) (*Registry, error) {
	if cfg.DB == nil {
		return nil, errors.New("registry: no database")
	}
	if cfg.Verifier == nil {
		cfg.Verifier = secret.NewVerifier(0)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	r := &Registry{cfg: cfg, dev: make(map[string]*Device)}
	err := cfg.DB.View(func(tx db.Tx) error {
		return tx.ForEach(bucket, func(key string, _ []byte) error {
			var d Device
			if err := tx.Get(bucket, key, &d); err != nil {
				return err
			}
			r.dev[d.ID] = &d
			return nil
		})
	})
	if err == nil {
		err = cfg.DB.View(func(tx db.Tx) error {
			return tx.ForEach(seenBucket, func(key string, _ []byte) error {
				var t time.Time
				if err := tx.Get(seenBucket, key, &t); err != nil {
					return err
				}
				if d, ok := r.dev[key]; ok {
					d.LastSeen = t
				}
				return nil
			})
		})
	}
	if err != nil {
		return nil, fmt.Errorf("registry: load devices: %w", err)
	}
	return r, nil
}

// Len returns the number of devices.
func (r *Registry) Len() int {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return len(r.dev)
}

// Get returns the device with the given id.
func (r *Registry) Get(id string) (Device, error) {
	r.mu.RLock()
	d, ok := r.dev[id]
	r.mu.RUnlock()
	if !ok {
		return Device{}, fmt.Errorf("%w: %q", ErrNotFound, id)
	}
	return *d, nil
}

// List returns every device, sorted by id.
func (r *Registry) List() []Device {
	r.mu.RLock()
	out := make([]Device, 0, len(r.dev))
	for _, d := range r.dev {
		out = append(out, *d)
	}
	r.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// NewDevice describes a device to create. Credentials are generated when empty.
type NewDevice struct {
	ID          string
	Name        string
	Description string
	Enabled     *bool // default true
	ACL         *acl.Rules
	Credentials string
}

// MinCredentialsLen is the shortest password a user may choose for a device.
const MinCredentialsLen = 8

// Create registers a device and returns it with its plain credentials, which
// are not kept and cannot be shown again.
func (r *Registry) Create(in NewDevice) (Device, string, error) {
	if !ValidID(in.ID) {
		return Device{}, "", &FieldError{"id", fmt.Sprintf("%q must be 1 to 64 characters of A-Z, a-z, 0-9, '_' and '-'", in.ID)}
	}
	now := r.cfg.Now().UTC()
	d := Device{
		ID:          in.ID,
		Type:        TypeMQTT,
		Name:        in.Name,
		Description: in.Description,
		Enabled:     in.Enabled == nil || *in.Enabled,
		ACL:         acl.DefaultRules(),
		Created:     now,
		Updated:     now,
	}
	if d.Name == "" {
		d.Name = d.ID
	}
	if in.ACL != nil {
		d.ACL = *in.ACL
	}
	if err := validate(&d); err != nil {
		return Device{}, "", err
	}
	creds, hash, err := newCredentials(in.Credentials)
	if err != nil {
		return Device{}, "", err
	}
	d.CredentialsHash = hash

	r.writeMu.Lock()
	defer r.writeMu.Unlock()
	if _, err := r.Get(d.ID); err == nil {
		return Device{}, "", fmt.Errorf("%w: %q", ErrExists, d.ID)
	}
	if err := r.store(d); err != nil {
		return Device{}, "", err
	}
	r.notify(Change{Device: d, Kind: "created"})
	return d, creds, nil
}

// Patch changes some fields of a device; nil fields are left alone.
type Patch struct {
	Name        *string
	Description *string
	Enabled     *bool
	ACL         *acl.Rules
}

// Update applies p to the device with the given id.
func (r *Registry) Update(id string, p Patch) (Device, error) {
	r.writeMu.Lock()
	defer r.writeMu.Unlock()
	d, err := r.Get(id)
	if err != nil {
		return Device{}, err
	}
	if p.Name != nil {
		d.Name = *p.Name
	}
	if p.Description != nil {
		d.Description = *p.Description
	}
	if p.Enabled != nil {
		d.Enabled = *p.Enabled
	}
	if p.ACL != nil {
		d.ACL = *p.ACL
	}
	if err := validate(&d); err != nil {
		return Device{}, err
	}
	d.Updated = r.cfg.Now().UTC()
	if err := r.store(d); err != nil {
		return Device{}, err
	}
	r.notify(Change{Device: d, Kind: "updated"})
	return d, nil
}

// SetCredentials replaces a device's credentials (generated when creds is
// empty) and returns the new plain credentials. Live sessions of the device
// are cut off by the observer of the change.
func (r *Registry) SetCredentials(id, creds string) (string, error) {
	plain, hash, err := newCredentials(creds)
	if err != nil {
		return "", err
	}
	r.writeMu.Lock()
	defer r.writeMu.Unlock()
	d, err := r.Get(id)
	if err != nil {
		return "", err
	}
	d.CredentialsHash = hash
	d.Updated = r.cfg.Now().UTC()
	if err := r.store(d); err != nil {
		return "", err
	}
	r.notify(Change{Device: d, Kind: "credentials"})
	return plain, nil
}

// SetCredentialsHash replaces a device's credentials with an already
// hashed secret (as declared in a config file); hash must be one that
// package secret produced.
func (r *Registry) SetCredentialsHash(id, hash string) error {
	r.writeMu.Lock()
	defer r.writeMu.Unlock()
	d, err := r.Get(id)
	if err != nil {
		return err
	}
	if d.CredentialsHash == hash {
		return nil
	}
	if _, err := secret.Verify(hash, ""); err != nil {
		return &FieldError{Field: "credentials_hash", Reason: "is not a hash perch made: " + err.Error()}
	}
	d.CredentialsHash = hash
	d.Updated = r.cfg.Now().UTC()
	if err := r.store(d); err != nil {
		return err
	}
	r.notify(Change{Device: d, Kind: "credentials"})
	return nil
}

// Delete removes a device.
func (r *Registry) Delete(id string) error {
	r.writeMu.Lock()
	defer r.writeMu.Unlock()
	d, err := r.Get(id)
	if err != nil {
		return err
	}
	err = r.cfg.DB.Update(func(tx db.Tx) error {
		if err := tx.Delete(seenBucket, id); err != nil && !errors.Is(err, db.ErrNotFound) {
			return err
		}
		return tx.Delete(bucket, id)
	})
	if err != nil && !errors.Is(err, db.ErrNotFound) {
		return fmt.Errorf("registry: delete %q: %w", id, err)
	}
	r.mu.Lock()
	delete(r.dev, id)
	r.mu.Unlock()
	r.notify(Change{Device: d, Kind: "deleted"})
	return nil
}

// Seen records when a device was last connected. Concurrent calls are
// coalesced into one commit, so a burst of disconnects costs one fsync.
func (r *Registry) Seen(id string, at time.Time) error {
	r.mu.RLock()
	_, ok := r.dev[id]
	r.mu.RUnlock()
	if !ok {
		return nil
	}
	at = at.UTC()
	err := r.cfg.DB.Batch(func(tx db.Tx) error {
		// Write transactions are serial: if a Delete committed since the
		// check above, the device record is gone and nothing is written.
		var raw json.RawMessage
		if err := tx.Get(bucket, id, &raw); errors.Is(err, db.ErrNotFound) {
			return nil
		} else if err != nil {
			return err
		}
		return tx.Put(seenBucket, id, at)
	})
	if err != nil {
		return fmt.Errorf("registry: record last seen of %q: %w", id, err)
	}
	r.mu.Lock()
	if cur, ok := r.dev[id]; ok {
		cp := *cur
		cp.LastSeen = at
		r.dev[id] = &cp
	}
	r.mu.Unlock()
	return nil
}

// Authenticate checks a device's password. cheapOnly refuses, with
// ErrBadCredentials, any verification that would need the slow hash: the
// broker passes it for sources that are being throttled.
func (r *Registry) Authenticate(ctx context.Context, id, password string, cheapOnly bool) (Device, error) {
	r.mu.RLock()
	p, ok := r.dev[id]
	r.mu.RUnlock()
	if !ok {
		return Device{}, fmt.Errorf("%w: %q", ErrNotFound, id)
	}
	d := *p
	if cheapOnly && !secret.IsFast(d.CredentialsHash) && !r.cfg.Verifier.Cached(d.CredentialsHash, password) {
		return Device{}, fmt.Errorf("%w: %q (throttled)", ErrBadCredentials, id)
	}
	ok, err := r.cfg.Verifier.Verify(ctx, d.CredentialsHash, password)
	if err != nil {
		return Device{}, fmt.Errorf("registry: verify %q: %w", id, err)
	}
	if !ok {
		return Device{}, fmt.Errorf("%w: %q", ErrBadCredentials, id)
	}
	if !d.Enabled {
		return d, fmt.Errorf("%w: %q", ErrDisabled, id)
	}
	return d, nil
}

func (r *Registry) store(d Device) error {
	if err := r.cfg.DB.Update(func(tx db.Tx) error { return tx.Put(bucket, d.ID, d) }); err != nil {
		return fmt.Errorf("registry: save %q: %w", d.ID, err)
	}
	r.mu.Lock()
	if cur, ok := r.dev[d.ID]; ok {
		d.LastSeen = cur.LastSeen
	}
	r.dev[d.ID] = &d
	r.mu.Unlock()
	return nil
}

func (r *Registry) notify(c Change) {
	if r.cfg.OnChange != nil {
		r.cfg.OnChange(c)
	}
}

const (
	maxName        = 128
	maxDescription = 1024
	maxRules       = 64
)

func validate(d *Device) error {
	if len(d.Name) > maxName {
		return &FieldError{"name", fmt.Sprintf("longer than %d bytes", maxName)}
	}
	if len(d.Description) > maxDescription {
		return &FieldError{"description", fmt.Sprintf("longer than %d bytes", maxDescription)}
	}
	if len(d.ACL.Publish) > maxRules || len(d.ACL.Subscribe) > maxRules {
		return &FieldError{"acl", fmt.Sprintf("more than %d rules in a list", maxRules)}
	}
	if d.ACL.Publish == nil {
		d.ACL.Publish = []string{}
	}
	if d.ACL.Subscribe == nil {
		d.ACL.Subscribe = []string{}
	}
	if err := d.ACL.Validate(); err != nil {
		return &FieldError{"acl", strings.TrimPrefix(err.Error(), "acl: ")}
	}
	return nil
}

func newCredentials(creds string) (plain, hash string, err error) {
	if creds == "" {
		if creds, err = secret.Generate(credentialBytes); err != nil {
			return "", "", fmt.Errorf("registry: generate credentials: %w", err)
		}
		hash, err = secret.Hash(creds)
	} else if len(creds) < MinCredentialsLen || len(creds) > 256 {
		return "", "", &FieldError{"credentials", fmt.Sprintf("must be %d to 256 characters", MinCredentialsLen)}
	} else {
		// A person chose it: it may be weak however long it looks, so it
		// always gets the slow hash.
		hash, err = secret.HashPassword(creds)
	}
	if err != nil {
		return "", "", fmt.Errorf("registry: hash credentials: %w", err)
	}
	return creds, hash, nil
}

// credentialBytes of randomness in generated credentials: 192 bits, well
// past the 128 that makes the fast hash scheme safe.
const credentialBytes = 24
