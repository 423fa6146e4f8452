// Package servertest runs a real hookd server for tests: SQLite in a temporary directory (or
// the database a test names), a free loopback port, loopback receivers allowed, and a retry
// schedule fast enough to watch.
package servertest

import (
	"context"
	"io"
	"log/slog"
	"net/netip"
	"path/filepath"
	"testing"
	"time"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/internal/server"
)

// Env is a running test server.
type Env struct {
	URL      string      // base URL, e.g. http://127.0.0.1:41234
	AdminKey string      // an admin *:write key
	Store    hookd.Store // the server's store, to check effects directly
	Server   *server.Server
}

// FastSchedule is the retry schedule test servers use unless told otherwise.
var FastSchedule = []time.Duration{50 * time.Millisecond, 100 * time.Millisecond, 200 * time.Millisecond}

// Start runs a server until the test ends. opts adjust the config before it starts.
func Start(t testing.TB, opts ...func(*server.Config)) *Env {
	t.Helper()
	cfg := server.Config{
		Addr:            "127.0.0.1:0",
		DB:              "sqlite:" + filepath.Join(t.TempDir(), "hookd.db"),
		AdminKey:        hookd.NewKeySecret(),
		AllowedNetworks: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")},
		RetrySchedule:   FastSchedule,
		AttemptTimeout:  2 * time.Second,
		PollInterval:    50 * time.Millisecond,
		ShutdownGrace:   5 * time.Second,
		Logger:          slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	for _, o := range opts {
		o(&cfg)
	}
	srv, err := server.New(context.Background(), cfg)
	if err != nil {
		t.Fatalf("start server: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("server run: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Errorf("server did not stop within 30s")
		}
	})
	return &Env{URL: srv.URL(), AdminKey: cfg.AdminKey, Store: srv.Store(), Server: srv}
}

// NewKey creates a key with a role and scope, owned by a new user, and returns it.
func (e *Env) NewKey(t testing.TB, role hookd.Role, scope hookd.Scope) string {
	t.Helper()
	secret := hookd.NewKeySecret()
	_, err := e.Store.KeyCreate(context.Background(), &hookd.Key{
		Name: "test " + string(role), Hash: hookd.HashKey(secret), Hint: hookd.KeyHint(secret),
		Role: role, Scope: scope, UserID: hookd.NewUserID(),
	})
	if err != nil {
		t.Fatalf("create key: %v", err)
	}
	return secret
}

// Eventually polls cond every 10 ms until it holds or timeout passes, then fails the test with
// msg. It is for effects that happen asynchronously in the server (deliveries, retries).
func Eventually(t testing.TB, timeout time.Duration, msg string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s: %s", timeout, msg)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
