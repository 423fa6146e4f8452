package hookd_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/hookd/hookd"
)

// keyMap is a KeyLookup over a map, for the pure rules of Authenticate.
type keyMap map[string]*hookd.Key

func (m keyMap) KeyByHash(_ context.Context, hash string) (*hookd.Key, error) {
	if k, ok := m[hash]; ok {
		return k, nil
	}
	if hash == hookd.HashKey("sk-broken") {
		return nil, errors.New("database is down")
	}
	return nil, hookd.ErrNotFound
}

func TestAuthenticate(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	past, future := now.Add(-time.Hour), now.Add(time.Hour)
	keys := keyMap{
		hookd.HashKey("sk-good"):    {ID: 1, ExpiresOn: &future},
		hookd.HashKey("sk-revoked"): {ID: 2, RevokedOn: &past},
		hookd.HashKey("sk-expired"): {ID: 3, ExpiresOn: &past},
	}
	cases := []struct {
		secret   string
		wantID   int64
		wantCode string
		wantMsg  string
	}{
		{"sk-good", 1, "", ""},
		{"sk-unknown", 0, hookd.EUNAUTHORIZED, "The API key is not valid."},
		{"sk-revoked", 0, hookd.EUNAUTHORIZED, "The API key has been revoked."},
		{"sk-expired", 0, hookd.EUNAUTHORIZED, "The API key has expired."},
		{"sk-broken", 0, hookd.EINTERNAL, "Internal error."},
	}
	for _, tc := range cases {
		k, err := hookd.Authenticate(context.Background(), keys, tc.secret, now)
		if tc.wantCode == "" {
			if err != nil || k.ID != tc.wantID {
				t.Errorf("%s: got key %v, err %v; want key %d", tc.secret, k, err, tc.wantID)
			}
			continue
		}
		if hookd.ErrorCode(err) != tc.wantCode || hookd.ErrorMessage(err) != tc.wantMsg {
			t.Errorf("%s: got %v (code %s); want %s %q", tc.secret, err, hookd.ErrorCode(err), tc.wantCode, tc.wantMsg)
		}
	}
}
