package storetest

import (
	"testing"
	"time"

	"github.com/hookd/hookd"
)

var schemaTests = []test{
	{"MigrateTwiceIsNoOp", func(t *testing.T, h *harness) {
		w := h.webhook(t)
		if err := h.s.Migrate(h.ctx); err != nil {
			t.Fatalf("second Migrate: %v", err)
		}
		if err := h.s.Ping(h.ctx); err != nil {
			t.Fatalf("Ping after second Migrate: %v", err)
		}
		diff(t, "webhook after second Migrate", h.getWebhook(t, w.ID), w)
	}},
	{"PingAnswersOnMigratedStore", func(t *testing.T, h *harness) {
		if err := h.s.Ping(h.ctx); err != nil {
			t.Fatalf("Ping: %v", err)
		}
	}},
}

func newKey(name string) *hookd.Key {
	secret := hookd.NewKeySecret()
	return &hookd.Key{
		Name:   name,
		Hash:   hookd.HashKey(secret),
		Hint:   hookd.KeyHint(secret),
		Role:   hookd.RoleUser,
		Scope:  hookd.ScopeRead,
		UserID: hookd.NewUserID(),
	}
}

var keyTests = []test{
	{"KeyCreateSetsIDAndCreatedOn", func(t *testing.T, h *harness) {
		k := newKey("ci")
		k.ExpiresOn = ptr(T0.Add(24 * time.Hour))
		got, err := h.s.KeyCreate(h.ctx, k)
		if err != nil {
			t.Fatalf("KeyCreate: %v", err)
		}
		if got.ID <= 0 {
			t.Errorf("got ID %d, want > 0", got.ID)
		}
		want := *k
		want.ID, want.CreatedOn = got.ID, T0
		diff(t, "created key", got, &want)
	}},
	{"KeyByHashReturnsStoredKey", func(t *testing.T, h *harness) {
		k1, err := h.s.KeyCreate(h.ctx, newKey("one"))
		if err != nil {
			t.Fatalf("KeyCreate: %v", err)
		}
		k2, err := h.s.KeyCreate(h.ctx, newKey("two"))
		if err != nil {
			t.Fatalf("KeyCreate: %v", err)
		}
		for _, k := range []*hookd.Key{k1, k2} {
			got, err := h.s.KeyByHash(h.ctx, k.Hash)
			if err != nil {
				t.Fatalf("KeyByHash(%s): %v", k.Name, err)
			}
			diff(t, "key by hash", got, k)
		}
	}},
	{"KeyByHashMissingIsNotFound", func(t *testing.T, h *harness) {
		_, err := h.s.KeyByHash(h.ctx, hookd.HashKey("sk-nope"))
		wantCode(t, err, hookd.ENOTFOUND)
	}},
	{"KeyCreateDuplicateHashIsConflict", func(t *testing.T, h *harness) {
		k := newKey("one")
		if _, err := h.s.KeyCreate(h.ctx, k); err != nil {
			t.Fatalf("KeyCreate: %v", err)
		}
		_, err := h.s.KeyCreate(h.ctx, k)
		wantCode(t, err, hookd.ECONFLICT)
	}},
	{"KeyListOldestFirst", func(t *testing.T, h *harness) {
		var want []*hookd.Key
		for _, name := range []string{"c", "a", "b"} {
			k, err := h.s.KeyCreate(h.ctx, newKey(name))
			if err != nil {
				t.Fatalf("KeyCreate: %v", err)
			}
			want = append(want, k)
			h.clock.Advance(time.Second)
		}
		got, err := h.s.KeyList(h.ctx)
		if err != nil {
			t.Fatalf("KeyList: %v", err)
		}
		diff(t, "keys", got, want)
	}},
	{"KeyListEmpty", func(t *testing.T, h *harness) {
		got, err := h.s.KeyList(h.ctx)
		if err != nil {
			t.Fatalf("KeyList: %v", err)
		}
		if len(got) != 0 {
			t.Fatalf("got %d keys, want 0", len(got))
		}
	}},
	{"KeyRevokeKeepsFirstRevocation", func(t *testing.T, h *harness) {
		k, err := h.s.KeyCreate(h.ctx, newKey("one"))
		if err != nil {
			t.Fatalf("KeyCreate: %v", err)
		}
		other, err := h.s.KeyCreate(h.ctx, newKey("two"))
		if err != nil {
			t.Fatalf("KeyCreate: %v", err)
		}
		revokedAt := h.clock.Advance(time.Minute)
		if err := h.s.KeyRevoke(h.ctx, k.ID); err != nil {
			t.Fatalf("KeyRevoke: %v", err)
		}
		h.clock.Advance(time.Minute)
		if err := h.s.KeyRevoke(h.ctx, k.ID); err != nil {
			t.Fatalf("second KeyRevoke: %v", err)
		}
		got, err := h.s.KeyByHash(h.ctx, k.Hash)
		if err != nil {
			t.Fatalf("KeyByHash: %v", err)
		}
		want := *k
		want.RevokedOn = &revokedAt
		diff(t, "revoked key", got, &want)
		if got.Valid(h.clock.Now()) {
			t.Errorf("got revoked key Valid, want not valid")
		}
		gotOther, err := h.s.KeyByHash(h.ctx, other.Hash)
		if err != nil {
			t.Fatalf("KeyByHash: %v", err)
		}
		diff(t, "other key", gotOther, other)
	}},
	{"KeyRevokeMissingIsNotFound", func(t *testing.T, h *harness) {
		wantCode(t, h.s.KeyRevoke(h.ctx, 4242), hookd.ENOTFOUND)
	}},
}
