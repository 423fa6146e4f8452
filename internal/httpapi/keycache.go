package httpapi

import (
	"context"
	"sync"
	"time"

	"github.com/hookd/hookd"
)

// DefaultKeyCacheTTL is how long a key read from the store is trusted when Config.KeyCacheTTL
// is zero.
const DefaultKeyCacheTTL = 5 * time.Second

// maxCachedKeys bounds the key cache: far more keys than an install uses at once.
const maxCachedKeys = 4096

// keyCache answers KeyByHash from memory for a short time, so that a busy publisher does not
// read its key from the database on every request (8 % of the CPU of a publish).
//
// Only keys found are cached, revoked and expired ones included (hookd.Authenticate judges
// them on every request, expiry against the current time): an unknown key is looked up every
// time, so a key created on another node works at once, and strangers sending random keys
// cannot fill the cache. The price is that a key revoked in the database (`hookd key revoke`,
// which writes to the database directly, or another node) still authenticates on this node
// for up to the TTL.
type keyCache struct {
	keys  hookd.KeyLookup
	ttl   time.Duration
	max   int
	clock hookd.Clock

	mu      sync.Mutex
	entries map[string]cachedKey
}

// cachedKey is a key as read from the store and when it must be read again.
type cachedKey struct {
	key   *hookd.Key
	until time.Time
}

// newKeyCache returns a cache of at most size keys read from keys, each trusted for ttl.
func newKeyCache(keys hookd.KeyLookup, ttl time.Duration, size int, clock hookd.Clock) *keyCache {
	return &keyCache{keys: keys, ttl: ttl, max: size, clock: clock, entries: make(map[string]cachedKey)}
}

// KeyByHash returns the key with this hash, from memory when it was read less than the TTL
// ago. Errors, ENOTFOUND included, are never cached.
func (c *keyCache) KeyByHash(ctx context.Context, hash string) (*hookd.Key, error) {
	now := c.clock.Now()
	c.mu.Lock()
	e, ok := c.entries[hash]
	c.mu.Unlock()
	if ok && now.Before(e.until) {
		return e.key, nil
	}
	k, err := c.keys.KeyByHash(ctx, hash)
	if err != nil {
		return nil, err
	}
	c.put(hash, k, now)
	return k, nil
}

// put stores k, read at now. A full cache first drops the expired entries, then, if none
// was, an arbitrary one: the dropped key is read again on its next use, nothing worse.
func (c *keyCache) put(hash string, k *hookd.Key, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.entries[hash]; !ok && len(c.entries) >= c.max {
		for h, e := range c.entries {
			if !now.Before(e.until) {
				delete(c.entries, h)
			}
		}
		for h := range c.entries {
			if len(c.entries) < c.max {
				break
			}
			delete(c.entries, h)
		}
	}
	c.entries[hash] = cachedKey{key: k, until: now.Add(c.ttl)}
}
