package httpapi

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/hookd/hookd"
)

// fakeKeys answers KeyByHash with a key of that hash, and counts the lookups.
type fakeKeys struct {
	mu      sync.Mutex
	lookups map[string]int
}

func (f *fakeKeys) KeyByHash(_ context.Context, hash string) (*hookd.Key, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lookups[hash]++
	return &hookd.Key{Hash: hash}, nil
}

// manualClock is a clock the test sets.
type manualClock struct{ now time.Time }

func (c *manualClock) Now() time.Time { return c.now }

func TestKeyCacheBounded(t *testing.T) {
	t.Parallel()
	keys := &fakeKeys{lookups: map[string]int{}}
	clock := &manualClock{now: time.Date(2026, 6, 30, 10, 0, 0, 0, time.UTC)}
	c := newKeyCache(keys, 5*time.Second, 3, clock)
	lookup := func(hash string) {
		t.Helper()
		if k, err := c.KeyByHash(context.Background(), hash); err != nil || k.Hash != hash {
			t.Fatalf("KeyByHash(%s): got %+v, %v, want the key", hash, k, err)
		}
	}

	lookup("a")
	clock.now = clock.now.Add(3 * time.Second)
	lookup("b")
	lookup("c")
	clock.now = clock.now.Add(3 * time.Second) // a has expired, b and c have not
	lookup("d")                                // full: a, expired, makes room
	if len(c.entries) != 3 {
		t.Fatalf("got %d entries, want 3 (the bound)", len(c.entries))
	}
	if _, ok := c.entries["a"]; ok {
		t.Errorf("got the expired entry kept, want it dropped first")
	}
	lookup("b")
	lookup("c")
	if keys.lookups["b"] != 1 || keys.lookups["c"] != 1 {
		t.Errorf("got lookups %v, want b and c still cached", keys.lookups)
	}

	// Nothing expired: an arbitrary entry goes, never past the bound.
	for _, h := range []string{"e", "f", "g", "h"} {
		lookup(h)
		if len(c.entries) > 3 {
			t.Fatalf("got %d entries after %s, want at most 3", len(c.entries), h)
		}
	}
	if _, ok := c.entries["h"]; !ok {
		t.Errorf("got the newest key not cached, want it kept")
	}
}
