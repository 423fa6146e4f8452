package httpapi_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/internal/httpapi"
)

// keyCounter is a store that counts the API's key lookups.
type keyCounter struct {
	hookd.Store
	lookups atomic.Int64
}

func (c *keyCounter) KeyByHash(ctx context.Context, hash string) (*hookd.Key, error) {
	c.lookups.Add(1)
	return c.Store.KeyByHash(ctx, hash)
}

// newCountingFixture starts an API whose key lookups are counted.
func newCountingFixture(t *testing.T, edit ...func(*httpapi.Config)) (*fixture, *keyCounter) {
	t.Helper()
	counter := &keyCounter{}
	f := newWrappedFixture(t, func(s hookd.Store) hookd.Store { counter.Store = s; return counter }, edit...)
	return f, counter
}

func TestKeyCache(t *testing.T) {
	t.Parallel()

	t.Run("ReadsOncePerTTL", func(t *testing.T) {
		t.Parallel()
		f, counter := newCountingFixture(t)
		for range 20 {
			f.do(&f.admin, "GET", "/api/2.0/settings/webhook/triggers", "").ok(t, 200, nil)
		}
		if n := counter.lookups.Load(); n != 1 {
			t.Errorf("got %d key lookups for 20 requests, want 1", n)
		}
		f.clock.Advance(httpapi.DefaultKeyCacheTTL)
		f.do(&f.admin, "GET", "/api/2.0/settings/webhook/triggers", "").ok(t, 200, nil)
		if n := counter.lookups.Load(); n != 2 {
			t.Errorf("got %d key lookups once the TTL passed, want 2", n)
		}
	})

	t.Run("RevokeTakesEffectWithinTTL", func(t *testing.T) {
		t.Parallel()
		f, _ := newCountingFixture(t)
		k := f.newKey(hookd.RoleAdmin, hookd.ScopeWrite, "", nil)
		f.do(&k, "GET", "/api/2.0/settings/webhook", "").ok(t, 200, nil)
		if err := f.store.KeyRevoke(f.ctx, k.key.ID); err != nil {
			t.Fatal(err)
		}
		// Revoked in the database directly (hookd key revoke): trusted until the TTL passes.
		f.do(&k, "GET", "/api/2.0/settings/webhook", "").ok(t, 200, nil)
		f.clock.Advance(httpapi.DefaultKeyCacheTTL)
		f.do(&k, "GET", "/api/2.0/settings/webhook", "").fails(t, 401, "revoked")
	})

	t.Run("ExpiryIsCheckedOnEveryRequest", func(t *testing.T) {
		t.Parallel()
		f, _ := newCountingFixture(t, func(c *httpapi.Config) { c.KeyCacheTTL = time.Hour })
		soon := f.clock.Now().Add(time.Second)
		k := f.newKey(hookd.RoleAdmin, hookd.ScopeRead, "", &soon)
		f.do(&k, "GET", "/api/2.0/settings/webhook", "").ok(t, 200, nil)
		f.clock.Advance(2 * time.Second)
		f.do(&k, "GET", "/api/2.0/settings/webhook", "").fails(t, 401, "expired")
	})

	t.Run("UnknownKeysAreNotCached", func(t *testing.T) {
		t.Parallel()
		f, counter := newCountingFixture(t)
		secret := hookd.NewKeySecret()
		unknown := caller{token: secret}
		for range 3 {
			f.do(&unknown, "GET", "/api/2.0/settings/webhook", "").fails(t, 401, "not valid")
		}
		if n := counter.lookups.Load(); n != 3 {
			t.Errorf("got %d lookups for 3 requests with an unknown key, want 3", n)
		}
		// Created on another node (here: in the database directly), it works at once.
		if _, err := f.store.KeyCreate(f.ctx, &hookd.Key{Name: "late", Hash: hookd.HashKey(secret), Hint: hookd.KeyHint(secret),
			Role: hookd.RoleAdmin, Scope: hookd.ScopeRead, UserID: hookd.NewUserID()}); err != nil {
			t.Fatal(err)
		}
		f.do(&unknown, "GET", "/api/2.0/settings/webhook", "").ok(t, 200, nil)
	})

	t.Run("NegativeTTLTurnsItOff", func(t *testing.T) {
		t.Parallel()
		f, counter := newCountingFixture(t, func(c *httpapi.Config) { c.KeyCacheTTL = -1 })
		for range 5 {
			f.do(&f.admin, "GET", "/api/2.0/settings/webhook/triggers", "").ok(t, 200, nil)
		}
		if n := counter.lookups.Load(); n != 5 {
			t.Errorf("got %d key lookups for 5 requests without a cache, want 5", n)
		}
	})
}

// BenchmarkAuthenticatedRequest measures one cheap authenticated request (the trigger list)
// with the key cache and without it: the difference is a key lookup in SQLite.
func BenchmarkAuthenticatedRequest(b *testing.B) {
	for _, bc := range []struct {
		name string
		ttl  time.Duration
	}{{"Cached", 0}, {"Uncached", -1}} {
		b.Run(bc.name, func(b *testing.B) {
			f := newFixture(b, func(c *httpapi.Config) { c.KeyCacheTTL = bc.ttl })
			for b.Loop() {
				f.do(&f.admin, "GET", "/api/2.0/settings/webhook/triggers", "")
			}
		})
	}
}
