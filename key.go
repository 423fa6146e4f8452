package hookd

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"time"
)

// Role decides what a key's owner may see: an admin everything, a user only its own webhooks.
type Role string

// The roles (spec §6).
const (
	RoleAdmin Role = "admin"
	RoleUser  Role = "user"
)

// Scope decides which methods a key may call.
type Scope string

// The scopes (spec §6): write keys may call every route, read keys only GET routes.
const (
	ScopeWrite Scope = "*:write"
	ScopeRead  Scope = "*:read"
)

// KeyPrefix starts every hookd API key, as DocSpace's personal access tokens.
const KeyPrefix = "sk-"

// Key is an API key. The secret itself is never stored: only its SHA-256 hash.
type Key struct {
	ID        int64
	Name      string
	Hash      string // hex SHA-256 of the whole key
	Hint      string // the first characters of the key, to tell keys apart in lists
	Role      Role
	Scope     Scope
	UserID    string // uuid of the owning user: webhooks and retries are recorded under it
	CreatedOn time.Time
	ExpiresOn *time.Time
	RevokedOn *time.Time
}

// Valid reports whether the key may authenticate at time now.
func (k *Key) Valid(now time.Time) bool {
	return k.RevokedOn == nil && (k.ExpiresOn == nil || now.Before(*k.ExpiresOn))
}

// NewKeySecret returns a fresh random API key: "sk-" and 48 hex characters (192 bits).
func NewKeySecret() string {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		panic("hookd: crypto/rand failed: " + err.Error()) // cannot happen on supported platforms
	}
	return KeyPrefix + hex.EncodeToString(b)
}

// HashKey returns the stored form of an API key. Keys carry 192 random bits, so a plain
// SHA-256 is enough: there is nothing to brute-force that a slow hash would protect.
func HashKey(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// KeyHint returns the part of a key that is safe to show: its first 7 characters.
func KeyHint(secret string) string {
	if len(secret) > 7 {
		return secret[:7]
	}
	return strings.Repeat("*", len(secret))
}

// NewUserID returns a random RFC 4122 version 4 UUID for a new key owner.
func NewUserID() string {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		panic("hookd: crypto/rand failed: " + err.Error())
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// KeyLookup is the part of Store that Authenticate needs.
type KeyLookup interface {
	KeyByHash(ctx context.Context, hash string) (*Key, error)
}

// Authenticate returns the key whose secret was presented, or an EUNAUTHORIZED error saying
// why it cannot be used (unknown, revoked, expired). The API and the web UI share it, so a key
// is accepted or refused the same way everywhere.
func Authenticate(ctx context.Context, keys KeyLookup, secret string, now time.Time) (*Key, error) {
	k, err := keys.KeyByHash(ctx, HashKey(secret))
	switch {
	case ErrorCode(err) == ENOTFOUND:
		return nil, Errorf(EUNAUTHORIZED, "The API key is not valid.")
	case err != nil:
		return nil, err
	case k.RevokedOn != nil:
		return nil, Errorf(EUNAUTHORIZED, "The API key has been revoked.")
	case !k.Valid(now):
		return nil, Errorf(EUNAUTHORIZED, "The API key has expired.")
	}
	return k, nil
}
