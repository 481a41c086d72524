package registry_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/perch-gw/perch/gateway/acl"
	"github.com/perch-gw/perch/gateway/db"
	"github.com/perch-gw/perch/gateway/registry"
	"github.com/perch-gw/perch/gateway/secret"
)

// clock is an injected Now that only moves when told to.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *clock {
	return &clock{now: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)}
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
	reg   *registry.Registry
	clock *clock
	ver   *secret.Verifier
}

// newEnv opens a fresh database and registry. cfg may set OnChange; DB, Now
// and Verifier are filled in.
func newEnv(t *testing.T, cfg registry.Config) *env {
	t.Helper()
	e := &env{path: filepath.Join(t.TempDir(), "perch.db"), clock: newClock(), ver: secret.NewVerifier(2)}
	e.open(t, cfg)
	return e
}

func (e *env) open(t *testing.T, cfg registry.Config) {
	t.Helper()
	d, err := db.Open(e.path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	cfg.DB, cfg.Now, cfg.Verifier = d, e.clock.Now, e.ver
	r, err := registry.New(cfg)
	if err != nil {
		t.Fatalf("registry.New: %v", err)
	}
	e.db, e.reg = d, r
}

// reopen closes the database and loads a new Registry from it.
func (e *env) reopen(t *testing.T, cfg registry.Config) {
	t.Helper()
	if err := e.db.Close(); err != nil {
		t.Fatal(err)
	}
	e.open(t, cfg)
}

func (e *env) create(t *testing.T, in registry.NewDevice) (registry.Device, string) {
	t.Helper()
	d, creds, err := e.reg.Create(in)
	if err != nil {
		t.Fatalf("Create(%q): %v", in.ID, err)
	}
	return d, creds
}

func ptr[T any](v T) *T { return &v }

func isArgon2id(hash string) bool { return strings.HasPrefix(hash, "$argon2id$") }

func wantFieldError(t *testing.T, err error, field string) {
	t.Helper()
	var fe *registry.FieldError
	if !errors.As(err, &fe) {
		t.Fatalf("error %v (%T) is not a *FieldError", err, err)
	}
	if fe.Field != field {
		t.Errorf("FieldError.Field = %q (%v), want %q", fe.Field, fe, field)
	}
	if !errors.Is(err, registry.ErrInvalid) {
		t.Errorf("errors.Is(%v, ErrInvalid) = false", err)
	}
	if fe.Reason == "" || !strings.HasPrefix(err.Error(), field+": ") {
		t.Errorf("error message %q, want %q and a reason", err, field+": ...")
	}
}

func TestNewNeedsDB(t *testing.T) {
	if _, err := registry.New(registry.Config{}); err == nil {
		t.Fatal("New without a database succeeded")
	}
}

func TestCreateGeneratedCredentials(t *testing.T) {
	e := newEnv(t, registry.Config{})
	ctx := context.Background()

	// Generated credentials fail the fast scheme's entropy rule about 0.06%
	// of the time (then they get Argon2id, which is correct but slow); try
	// a few devices so that the test does not flake.
	var (
		d     registry.Device
		creds string
	)
	for i := range 3 {
		d, creds = e.create(t, registry.NewDevice{ID: fmt.Sprintf("sensor-%d", i)})
		if secret.IsFast(d.CredentialsHash) {
			break
		}
		t.Logf("generated credentials %q got %s", creds, d.CredentialsHash[:10])
	}
	if !secret.IsFast(d.CredentialsHash) {
		t.Fatalf("three generated credentials in a row got a slow hash: %s", d.CredentialsHash)
	}
	if len(creds) < 32 {
		t.Errorf("generated credentials %q are %d characters, want at least 32", creds, len(creds))
	}
	if d.CredentialsHash == creds || strings.Contains(d.CredentialsHash, creds) {
		t.Errorf("hash %q contains the plain credentials", d.CredentialsHash)
	}

	now := e.clock.Now()
	want := registry.Device{
		ID: d.ID, Type: registry.TypeMQTT, Name: d.ID, Enabled: true, ACL: acl.DefaultRules(),
		Created: now, Updated: now, CredentialsHash: d.CredentialsHash,
	}
	if !equalDevice(d, want) {
		t.Errorf("Create returned\n%+v\nwant\n%+v", d, want)
	}
	got, err := e.reg.Get(d.ID)
	if err != nil || !equalDevice(got, d) {
		t.Errorf("Get = %+v, %v; want %+v", got, err, d)
	}

	if a, err := e.reg.Authenticate(ctx, d.ID, creds, false); err != nil || a.ID != d.ID {
		t.Errorf("Authenticate(right) = %v, %v", a.ID, err)
	}
	// A fast hash is cheap, so a throttled source may still try it.
	if _, err := e.reg.Authenticate(ctx, d.ID, creds, true); err != nil {
		t.Errorf("Authenticate(right, cheapOnly) = %v", err)
	}

	_, other := e.create(t, registry.NewDevice{ID: "other"})
	if other == creds {
		t.Error("two devices got the same generated credentials")
	}
}

func TestCreateFields(t *testing.T) {
	e := newEnv(t, registry.Config{})
	rules := acl.Rules{Publish: []string{"devices/%c/up"}, Subscribe: []string{"devices/%c/down/#"}}
	d, _ := e.create(t, registry.NewDevice{
		ID: "kitchen_1", Name: "Kitchen", Description: "on the fridge", Enabled: ptr(false), ACL: &rules,
	})
	if d.Name != "Kitchen" || d.Description != "on the fridge" || d.Enabled || !slices.Equal(d.ACL.Publish, rules.Publish) || !slices.Equal(d.ACL.Subscribe, rules.Subscribe) {
		t.Errorf("Create kept %+v", d)
	}

	// Nil lists are stored as empty lists, which grant nothing.
	d, _ = e.create(t, registry.NewDevice{ID: "mute", ACL: &acl.Rules{}})
	if d.ACL.Publish == nil || d.ACL.Subscribe == nil || len(d.ACL.Publish)+len(d.ACL.Subscribe) != 0 {
		t.Errorf("empty rules became %#v", d.ACL)
	}
}

func TestCreateChosenCredentials(t *testing.T) {
	e := newEnv(t, registry.Config{})
	ctx := context.Background()
	const pw = "hunter2-pw"
	d, creds := e.create(t, registry.NewDevice{ID: "typed", Credentials: pw})
	if creds != pw {
		t.Errorf("Create returned credentials %q, want the chosen %q", creds, pw)
	}
	if !isArgon2id(d.CredentialsHash) || strings.Contains(d.CredentialsHash, pw) {
		t.Fatalf("chosen credentials stored as %q, want an Argon2id hash", d.CredentialsHash)
	}

	// Not verified yet: a throttled source may not make the gateway run
	// Argon2id. A cancelled context proves that no slow verification was
	// started (it would fail with the context's error, not bad credentials).
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	_, err := e.reg.Authenticate(cancelled, d.ID, pw, true)
	if !errors.Is(err, registry.ErrBadCredentials) || errors.Is(err, context.Canceled) {
		t.Errorf("Authenticate(cheapOnly, unverified Argon2id) = %v, want ErrBadCredentials without a verification", err)
	}
	if e.ver.Cached(d.CredentialsHash, pw) {
		t.Error("a refused throttled login filled the verifier cache")
	}

	if _, err := e.reg.Authenticate(ctx, d.ID, pw, false); err != nil {
		t.Fatalf("Authenticate(right) = %v", err)
	}
	if !e.ver.Cached(d.CredentialsHash, pw) {
		t.Error("a successful Argon2id verification was not cached")
	}
	// Now the answer is in the cache: a throttled source with the right
	// password gets in, without a slot (cancelled context), and a wrong
	// password still gets nothing for free.
	if _, err := e.reg.Authenticate(cancelled, d.ID, pw, true); err != nil {
		t.Errorf("Authenticate(cheapOnly, cached) = %v, want ok", err)
	}
	if _, err := e.reg.Authenticate(cancelled, d.ID, "hunter3-pw", true); !errors.Is(err, registry.ErrBadCredentials) {
		t.Errorf("Authenticate(cheapOnly, wrong password) = %v, want ErrBadCredentials", err)
	}
}

// Credentials a person typed must get Argon2id whatever they look like:
// package secret documents that Hash is only for secrets Perch generated
// and HashPassword for chosen ones, because a long password of mixed
// character classes looks random to Hash's rule and would be stored with
// the fast scheme, open to offline guessing if the database leaks.
func TestChosenCredentialsAlwaysArgon2id(t *testing.T) {
	e := newEnv(t, registry.Config{})
	const pw = "Greenhouse-Temp-Sensor-#3"
	d, _ := e.create(t, registry.NewDevice{ID: "typed-long", Credentials: pw})
	if !isArgon2id(d.CredentialsHash) {
		t.Errorf("Create with chosen credentials %q stored %.22s…, want an Argon2id hash", pw, d.CredentialsHash)
	}

	const pw2 = "Greenhouse-Temp-Sensor-#4"
	if _, err := e.reg.SetCredentials(d.ID, pw2); err != nil {
		t.Fatal(err)
	}
	d, _ = e.reg.Get(d.ID)
	if !isArgon2id(d.CredentialsHash) {
		t.Errorf("SetCredentials with chosen credentials %q stored %.22s…, want an Argon2id hash", pw2, d.CredentialsHash)
	}
}

func TestCredentialsLength(t *testing.T) {
	e := newEnv(t, registry.Config{})
	dev, _ := e.create(t, registry.NewDevice{ID: "dev"})
	tests := []struct {
		name  string
		creds string
	}{
		{"one", "x"},
		{"seven", "1234567"},
		{"257", strings.Repeat("a", 257)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := e.reg.Create(registry.NewDevice{ID: "short-" + tt.name, Credentials: tt.creds})
			wantFieldError(t, err, "credentials")
			if _, err := e.reg.Get("short-" + tt.name); !errors.Is(err, registry.ErrNotFound) {
				t.Errorf("device created despite the error: %v", err)
			}
			_, err = e.reg.SetCredentials(dev.ID, tt.creds)
			wantFieldError(t, err, "credentials")
		})
	}
	if got, _ := e.reg.Get(dev.ID); got.CredentialsHash != dev.CredentialsHash {
		t.Error("refused SetCredentials changed the hash")
	}
}

func TestInvalidIDs(t *testing.T) {
	e := newEnv(t, registry.Config{})
	tests := []struct{ name, id string }{
		{"empty", ""},
		{"65 chars", strings.Repeat("a", 65)},
		{"space", "my device"},
		{"slash", "a/b"},
		{"plus", "a+"},
		{"hash", "a#"},
		{"dot", "dev.1"},
		{"unicode", "gerät"},
		{"nul", "a\x00b"},
		{"newline", "a\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if registry.ValidID(tt.id) {
				t.Errorf("ValidID(%q) = true", tt.id)
			}
			_, _, err := e.reg.Create(registry.NewDevice{ID: tt.id})
			wantFieldError(t, err, "id")
		})
	}
	if n := e.reg.Len(); n != 0 {
		t.Errorf("%d devices after refused creates", n)
	}
	for _, id := range []string{"a", "A-Z_0-9", strings.Repeat("z", 64)} {
		if !registry.ValidID(id) {
			t.Errorf("ValidID(%q) = false", id)
		}
	}
}

func TestCreateInvalidFields(t *testing.T) {
	e := newEnv(t, registry.Config{})
	many := make([]string, 65)
	for i := range many {
		many[i] = fmt.Sprintf("t/%d", i)
	}
	tests := []struct {
		name  string
		in    registry.NewDevice
		field string
	}{
		{"long name", registry.NewDevice{Name: strings.Repeat("n", 129)}, "name"},
		{"long description", registry.NewDevice{Description: strings.Repeat("d", 1025)}, "description"},
		{"bad filter", registry.NewDevice{ACL: &acl.Rules{Publish: []string{"a/#/b"}}}, "acl"},
		{"dollar publish", registry.NewDevice{ACL: &acl.Rules{Publish: []string{"$SYS/x"}}}, "acl"},
		{"empty filter", registry.NewDevice{ACL: &acl.Rules{Subscribe: []string{""}}}, "acl"},
		{"too many rules", registry.NewDevice{ACL: &acl.Rules{Subscribe: many}}, "acl"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.in.ID = "dev"
			_, _, err := e.reg.Create(tt.in)
			wantFieldError(t, err, tt.field)
		})
	}
	if n := e.reg.Len(); n != 0 {
		t.Errorf("%d devices after refused creates", n)
	}
}

func TestCreateDuplicate(t *testing.T) {
	e := newEnv(t, registry.Config{})
	first, _ := e.create(t, registry.NewDevice{ID: "dup", Name: "first"})
	_, creds, err := e.reg.Create(registry.NewDevice{ID: "dup", Name: "second"})
	if !errors.Is(err, registry.ErrExists) || !strings.Contains(err.Error(), `"dup"`) {
		t.Fatalf("second Create = %v, want ErrExists naming the id", err)
	}
	if creds != "" {
		t.Errorf("failed Create returned credentials %q", creds)
	}
	if got, _ := e.reg.Get("dup"); !equalDevice(got, first) {
		t.Errorf("duplicate Create changed the device to %+v", got)
	}
}

func TestUpdatePatch(t *testing.T) {
	e := newEnv(t, registry.Config{})
	orig, creds := e.create(t, registry.NewDevice{ID: "dev", Name: "Dev", Description: "desc"})
	e.clock.Add(time.Minute)

	// An empty patch changes nothing but the update time.
	d, err := e.reg.Update("dev", registry.Patch{})
	if err != nil {
		t.Fatal(err)
	}
	want := orig
	want.Updated = e.clock.Now()
	if !equalDevice(d, want) {
		t.Errorf("empty patch: %+v, want %+v", d, want)
	}

	rules := acl.Rules{Publish: []string{"x/%c"}, Subscribe: nil}
	steps := []struct {
		name  string
		patch registry.Patch
		apply func(*registry.Device)
	}{
		{"name", registry.Patch{Name: ptr("Renamed")}, func(d *registry.Device) { d.Name = "Renamed" }},
		{"description", registry.Patch{Description: ptr("")}, func(d *registry.Device) { d.Description = "" }},
		{"disable", registry.Patch{Enabled: ptr(false)}, func(d *registry.Device) { d.Enabled = false }},
		{"acl", registry.Patch{ACL: &rules}, func(d *registry.Device) {
			d.ACL = acl.Rules{Publish: []string{"x/%c"}, Subscribe: []string{}}
		}},
		{"enable and rename", registry.Patch{Enabled: ptr(true), Name: ptr("Again")}, func(d *registry.Device) {
			d.Enabled, d.Name = true, "Again"
		}},
	}
	for _, s := range steps {
		e.clock.Add(time.Second)
		apply := s.apply
		apply(&want)
		want.Updated = e.clock.Now()
		d, err := e.reg.Update("dev", s.patch)
		if err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		if !equalDevice(d, want) {
			t.Errorf("%s: Update returned\n%+v\nwant\n%+v", s.name, d, want)
		}
		if got, _ := e.reg.Get("dev"); !equalDevice(got, want) {
			t.Errorf("%s: Get after Update\n%+v\nwant\n%+v", s.name, got, want)
		}
	}
	if got, _ := e.reg.Get("dev"); got.Created != orig.Created || got.CredentialsHash != orig.CredentialsHash {
		t.Error("Update changed the creation time or the credentials")
	}
	if _, err := e.reg.Authenticate(context.Background(), "dev", creds, false); err != nil {
		t.Errorf("credentials no longer work after Update: %v", err)
	}

	t.Run("invalid", func(t *testing.T) {
		before, _ := e.reg.Get("dev")
		for _, p := range []registry.Patch{
			{ACL: &acl.Rules{Subscribe: []string{"a/#/b"}}},
			{ACL: &acl.Rules{Publish: []string{"$share/x"}}},
			{Name: ptr("ok"), ACL: &acl.Rules{Publish: []string{"bad+"}}},
		} {
			_, err := e.reg.Update("dev", p)
			wantFieldError(t, err, "acl")
		}
		_, err := e.reg.Update("dev", registry.Patch{Name: ptr(strings.Repeat("n", 129))})
		wantFieldError(t, err, "name")
		if after, _ := e.reg.Get("dev"); !equalDevice(after, before) {
			t.Errorf("refused Update changed the device:\n%+v\nwas\n%+v", after, before)
		}
	})

	t.Run("unknown", func(t *testing.T) {
		if _, err := e.reg.Update("ghost", registry.Patch{Name: ptr("x")}); !errors.Is(err, registry.ErrNotFound) {
			t.Errorf("Update(unknown) = %v, want ErrNotFound", err)
		}
	})
}

func TestSetCredentials(t *testing.T) {
	e := newEnv(t, registry.Config{})
	ctx := context.Background()
	d, old := e.create(t, registry.NewDevice{ID: "dev"})
	e.clock.Add(time.Hour)

	fresh, err := e.reg.SetCredentials("dev", "")
	if err != nil {
		t.Fatal(err)
	}
	if fresh == old || len(fresh) < 32 {
		t.Errorf("new generated credentials %q (old %q)", fresh, old)
	}
	if _, err := e.reg.Authenticate(ctx, "dev", old, false); !errors.Is(err, registry.ErrBadCredentials) {
		t.Errorf("old credentials after SetCredentials: %v, want ErrBadCredentials", err)
	}
	if _, err := e.reg.Authenticate(ctx, "dev", fresh, false); err != nil {
		t.Errorf("new credentials: %v", err)
	}
	got, _ := e.reg.Get("dev")
	if got.CredentialsHash == d.CredentialsHash || !got.Updated.Equal(e.clock.Now()) {
		t.Errorf("after SetCredentials: hash changed %v, updated %v", got.CredentialsHash != d.CredentialsHash, got.Updated)
	}

	if _, err := e.reg.SetCredentials("ghost", ""); !errors.Is(err, registry.ErrNotFound) {
		t.Errorf("SetCredentials(unknown) = %v, want ErrNotFound", err)
	}
}

func TestDelete(t *testing.T) {
	e := newEnv(t, registry.Config{})
	_, creds := e.create(t, registry.NewDevice{ID: "gone"})
	e.create(t, registry.NewDevice{ID: "kept"})
	if err := e.reg.Seen("gone", e.clock.Now()); err != nil {
		t.Fatal(err)
	}
	if err := e.reg.Delete("gone"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if _, err := e.reg.Get("gone"); !errors.Is(err, registry.ErrNotFound) {
		t.Errorf("Get after Delete = %v, want ErrNotFound", err)
	}
	if _, err := e.reg.Authenticate(context.Background(), "gone", creds, false); !errors.Is(err, registry.ErrNotFound) {
		t.Errorf("Authenticate after Delete = %v, want ErrNotFound", err)
	}
	if err := e.reg.Delete("gone"); !errors.Is(err, registry.ErrNotFound) {
		t.Errorf("second Delete = %v, want ErrNotFound", err)
	}
	if ids := deviceIDs(e.reg.List()); !slices.Equal(ids, []string{"kept"}) {
		t.Errorf("List after Delete = %v", ids)
	}

	// Gone from the database too, with its last-seen record: a new device
	// with the same id starts afresh.
	e.reopen(t, registry.Config{})
	if _, err := e.reg.Get("gone"); !errors.Is(err, registry.ErrNotFound) {
		t.Errorf("deleted device back after reopen: %v", err)
	}
	d, _ := e.create(t, registry.NewDevice{ID: "gone"})
	e.reopen(t, registry.Config{})
	if got, _ := e.reg.Get(d.ID); !got.LastSeen.IsZero() {
		t.Errorf("re-created device inherited LastSeen %v", got.LastSeen)
	}
}

// A device disconnecting (Seen) while an admin deletes it must not leave a
// last-seen record behind: Seen's write is batched and may commit after
// the Delete, and a device later created with the same id would inherit
// the old device's LastSeen at the next start. Many rounds, since the
// interleaving is up to the scheduler (it happens in nearly every round).
func TestDeleteRacingSeen(t *testing.T) {
	e := newEnv(t, registry.Config{})
	const rounds = 20
	for i := range rounds {
		id := fmt.Sprintf("dev-%02d", i)
		e.create(t, registry.NewDevice{ID: id})
		var wg sync.WaitGroup
		wg.Go(func() {
			if err := e.reg.Seen(id, e.clock.Now()); err != nil {
				t.Errorf("Seen: %v", err)
			}
		})
		if err := e.reg.Delete(id); err != nil {
			t.Fatal(err)
		}
		wg.Wait()
		e.create(t, registry.NewDevice{ID: id}) // a new device, never seen
	}
	e.reopen(t, registry.Config{})
	var inherited []string
	for _, d := range e.reg.List() {
		if !d.LastSeen.IsZero() {
			inherited = append(inherited, d.ID)
		}
	}
	if len(inherited) > 0 {
		t.Errorf("after a restart, %d of %d re-created devices show the deleted device's LastSeen: %v", len(inherited), rounds, inherited)
	}
}

func TestAuthenticate(t *testing.T) {
	e := newEnv(t, registry.Config{})
	_, on := e.create(t, registry.NewDevice{ID: "on"})
	_, off := e.create(t, registry.NewDevice{ID: "off", Enabled: ptr(false)})
	tests := []struct {
		name      string
		id, pw    string
		cheapOnly bool
		want      error // nil for success
	}{
		{"right", "on", on, false, nil},
		{"right cheap", "on", on, true, nil},
		{"wrong", "on", off, false, registry.ErrBadCredentials},
		{"empty", "on", "", false, registry.ErrBadCredentials},
		{"prefix", "on", on[:len(on)-1], false, registry.ErrBadCredentials},
		{"wrong cheap", "on", "nope", true, registry.ErrBadCredentials},
		{"unknown", "ghost", on, false, registry.ErrNotFound},
		{"unknown empty id", "", on, false, registry.ErrNotFound},
		{"disabled right", "off", off, false, registry.ErrDisabled},
		{"disabled wrong", "off", on, false, registry.ErrBadCredentials},
		{"disabled wrong cheap", "off", "nope", true, registry.ErrBadCredentials},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := e.reg.Authenticate(context.Background(), tt.id, tt.pw, tt.cheapOnly)
			if tt.want == nil {
				if err != nil || d.ID != tt.id {
					t.Fatalf("Authenticate = %q, %v; want ok", d.ID, err)
				}
				return
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("Authenticate = %v, want %v", err, tt.want)
			}
			for _, other := range []error{registry.ErrBadCredentials, registry.ErrNotFound, registry.ErrDisabled} {
				if other != tt.want && errors.Is(err, other) {
					t.Errorf("Authenticate error %v is also %v", err, other)
				}
			}
			if tt.pw != "" && strings.Contains(err.Error(), tt.pw) {
				t.Errorf("error %q quotes the password", err)
			}
		})
	}
}

func TestPersistence(t *testing.T) {
	e := newEnv(t, registry.Config{})
	ctx := context.Background()
	_, c1 := e.create(t, registry.NewDevice{ID: "a", Description: "first"})
	e.clock.Add(time.Minute)
	_, c2 := e.create(t, registry.NewDevice{ID: "b", Enabled: ptr(false)})
	e.clock.Add(time.Minute)
	if _, err := e.reg.Update("a", registry.Patch{Name: ptr("Alpha"), ACL: &acl.Rules{Publish: []string{"a/%c"}}}); err != nil {
		t.Fatal(err)
	}
	seen := e.clock.Now().Add(30 * time.Second).In(time.FixedZone("CET", 3600))
	if err := e.reg.Seen("a", seen); err != nil {
		t.Fatal(err)
	}
	// Seen of an unknown device is ignored.
	if err := e.reg.Seen("ghost", seen); err != nil {
		t.Errorf("Seen(unknown) = %v", err)
	}
	a, _ := e.reg.Get("a")
	if !a.LastSeen.Equal(seen) || a.LastSeen.Location() != time.UTC {
		t.Errorf("LastSeen = %v, want %v in UTC", a.LastSeen, seen)
	}
	// A later update keeps LastSeen.
	e.clock.Add(time.Minute)
	if _, err := e.reg.Update("a", registry.Patch{Description: ptr("second")}); err != nil {
		t.Fatal(err)
	}
	before := e.reg.List()
	if before[0].LastSeen.IsZero() {
		t.Error("Update dropped LastSeen")
	}

	e.reopen(t, registry.Config{})
	after := e.reg.List()
	if len(after) != len(before) {
		t.Fatalf("after reopen %d devices, want %d", len(after), len(before))
	}
	for i := range before {
		if !equalDevice(after[i], before[i]) {
			t.Errorf("after reopen\n%+v\nwant\n%+v", after[i], before[i])
		}
	}
	if _, err := e.reg.Get("ghost"); err == nil {
		t.Error("Seen of an unknown device created it")
	}
	if _, err := e.reg.Authenticate(ctx, "a", c1, false); err != nil {
		t.Errorf("credentials of a after reopen: %v", err)
	}
	if _, err := e.reg.Authenticate(ctx, "b", c2, false); !errors.Is(err, registry.ErrDisabled) {
		t.Errorf("b after reopen: %v, want ErrDisabled", err)
	}
}

func TestListSorted(t *testing.T) {
	e := newEnv(t, registry.Config{})
	for _, id := range []string{"m", "b", "z", "A", "a-1"} {
		e.create(t, registry.NewDevice{ID: id})
	}
	want := []string{"A", "a-1", "b", "m", "z"}
	if got := deviceIDs(e.reg.List()); !slices.Equal(got, want) {
		t.Errorf("List = %v, want %v", got, want)
	}
	if e.reg.Len() != len(want) {
		t.Errorf("Len = %d", e.reg.Len())
	}
}

func TestOnChange(t *testing.T) {
	var (
		mu      sync.Mutex
		changes []registry.Change
		reg     *registry.Registry
	)
	e := newEnv(t, registry.Config{OnChange: func(c registry.Change) {
		// Observers may read the registry from the callback; the change
		// is already visible.
		d, err := reg.Get(c.Device.ID)
		if c.Kind == "deleted" {
			if err == nil {
				t.Errorf("deleted device still visible in OnChange")
			}
		} else if err != nil || d.CredentialsHash != c.Device.CredentialsHash {
			t.Errorf("%s change not visible in OnChange: %v", c.Kind, err)
		}
		mu.Lock()
		changes = append(changes, c)
		mu.Unlock()
	}})
	reg = e.reg

	d, _ := e.create(t, registry.NewDevice{ID: "dev"})
	if _, err := e.reg.Update("dev", registry.Patch{Name: ptr("Dev")}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.reg.SetCredentials("dev", ""); err != nil {
		t.Fatal(err)
	}
	// Refused and no-op calls notify nothing.
	e.reg.Create(registry.NewDevice{ID: "dev"})
	e.reg.Update("dev", registry.Patch{ACL: &acl.Rules{Publish: []string{"#/x"}}})
	e.reg.Update("ghost", registry.Patch{})
	e.reg.Delete("ghost")
	if err := e.reg.Seen("dev", e.clock.Now()); err != nil {
		t.Fatal(err)
	}
	if err := e.reg.Delete("dev"); err != nil {
		t.Fatal(err)
	}

	mu.Lock()
	defer mu.Unlock()
	var kinds []string
	for _, c := range changes {
		kinds = append(kinds, c.Kind+":"+c.Device.ID)
	}
	want := []string{"created:dev", "updated:dev", "credentials:dev", "deleted:dev"}
	if !slices.Equal(kinds, want) {
		t.Fatalf("changes %v, want %v", kinds, want)
	}
	if changes[0].Device.CredentialsHash != d.CredentialsHash {
		t.Error("created change has the wrong hash")
	}
	if changes[1].Device.Name != "Dev" {
		t.Errorf("updated change has name %q", changes[1].Device.Name)
	}
	if changes[2].Device.CredentialsHash == d.CredentialsHash {
		t.Error("credentials change carries the old hash")
	}
	if changes[3].Device.Name != "Dev" || changes[3].Device.CredentialsHash != changes[2].Device.CredentialsHash {
		t.Errorf("deleted change does not carry the last state: %+v", changes[3].Device)
	}
}

func TestConcurrentCreateDistinct(t *testing.T) {
	e := newEnv(t, registry.Config{})
	const n = 16
	creds := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			_, creds[i], errs[i] = e.reg.Create(registry.NewDevice{ID: fmt.Sprintf("dev-%02d", i)})
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("Create dev-%02d: %v", i, err)
		}
	}
	if e.reg.Len() != n {
		t.Fatalf("Len = %d, want %d", e.reg.Len(), n)
	}
	e.reopen(t, registry.Config{})
	if e.reg.Len() != n {
		t.Fatalf("after reopen Len = %d, want %d", e.reg.Len(), n)
	}
	for i := range n {
		if _, err := e.reg.Authenticate(context.Background(), fmt.Sprintf("dev-%02d", i), creds[i], false); err != nil {
			t.Errorf("dev-%02d: %v", i, err)
		}
	}
}

func TestConcurrentCreateSameID(t *testing.T) {
	var mu sync.Mutex
	created := 0
	e := newEnv(t, registry.Config{OnChange: func(c registry.Change) {
		mu.Lock()
		created++
		mu.Unlock()
	}})
	const n = 16
	creds := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			_, creds[i], errs[i] = e.reg.Create(registry.NewDevice{ID: "same"})
		})
	}
	wg.Wait()
	winner := -1
	for i, err := range errs {
		switch {
		case err == nil:
			if winner >= 0 {
				t.Errorf("Create succeeded twice (%d and %d)", winner, i)
			}
			winner = i
		case !errors.Is(err, registry.ErrExists):
			t.Errorf("Create %d: %v, want ErrExists", i, err)
		}
	}
	if winner < 0 {
		t.Fatal("no Create succeeded")
	}
	if _, err := e.reg.Authenticate(context.Background(), "same", creds[winner], false); err != nil {
		t.Errorf("the winner's credentials do not work: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if created != 1 {
		t.Errorf("%d change notifications, want 1", created)
	}
}

// Mixed readers and writers, for the race detector.
func TestConcurrentMixed(t *testing.T) {
	e := newEnv(t, registry.Config{})
	ctx := context.Background()
	_, creds := e.create(t, registry.NewDevice{ID: "hot"})
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Go(func() {
			for j := range 5 {
				name := fmt.Sprintf("n%d-%d", i, j)
				if _, err := e.reg.Update("hot", registry.Patch{Name: &name}); err != nil {
					t.Error(err)
				}
				if err := e.reg.Seen("hot", e.clock.Now()); err != nil {
					t.Error(err)
				}
			}
		})
		wg.Go(func() {
			for range 20 {
				if _, err := e.reg.Authenticate(ctx, "hot", creds, false); err != nil {
					t.Error(err)
				}
				e.reg.List()
				e.reg.Get("hot")
			}
		})
	}
	wg.Wait()
}

func deviceIDs(ds []registry.Device) []string {
	ids := make([]string, len(ds))
	for i, d := range ds {
		ids[i] = d.ID
	}
	return ids
}

func equalDevice(a, b registry.Device) bool {
	return a.ID == b.ID && a.Type == b.Type && a.Name == b.Name && a.Description == b.Description &&
		a.Enabled == b.Enabled && slices.Equal(a.ACL.Publish, b.ACL.Publish) &&
		slices.Equal(a.ACL.Subscribe, b.ACL.Subscribe) && a.Created.Equal(b.Created) &&
		a.Updated.Equal(b.Updated) && a.LastSeen.Equal(b.LastSeen) && a.CredentialsHash == b.CredentialsHash
}
