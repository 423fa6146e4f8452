package cli

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/internal/server"
)

// runLocal runs the command line in-process with an environment and returns its exit code, stdout and stderr.
func runLocal(t *testing.T, env map[string]string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := Run(context.Background(), args, func(k string) string { return env[k] }, strings.NewReader(""), &out, &errb)
	return code, out.String(), errb.String()
}

func TestKeyCreateListRevoke(t *testing.T) {
	t.Parallel()
	db := "sqlite:" + filepath.Join(t.TempDir(), "hookd.db")

	code, out, stderr := runLocal(t, nil, "key", "create", "--db", db, "--name", "ci", "--role", "user", "--scope", "*:read")
	if code != ExitOK {
		t.Fatalf("key create: exit %d, stderr %q", code, stderr)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	secret := lines[len(lines)-1]
	if !strings.HasPrefix(secret, "sk-") || len(secret) < 40 {
		t.Fatalf("last line: got %q, want the new sk- key", secret)
	}

	store, err := server.OpenStore(context.Background(), db, nil)
	if err != nil {
		t.Fatal(err)
	}
	k, err := store.KeyByHash(context.Background(), hookd.HashKey(secret))
	store.Close()
	if err != nil {
		t.Fatalf("the printed key is not stored (by hash): %v", err)
	}
	if k.Name != "ci" || k.Role != hookd.RoleUser || k.Scope != hookd.ScopeRead || k.Hash == secret {
		t.Errorf("stored key: got %+v", k)
	}

	code, out, _ = runLocal(t, map[string]string{"HOOKD_DB": db}, "key", "list")
	if code != ExitOK || !strings.Contains(out, "ci") || strings.Contains(out, secret) {
		t.Errorf("key list: exit %d, output %q; want the key listed without its secret", code, out)
	}
	code, _, stderr = runLocal(t, nil, "key", "revoke", "--db", db, "1")
	if code != ExitOK {
		t.Fatalf("key revoke: exit %d, %s", code, stderr)
	}
	code, out, _ = runLocal(t, nil, "key", "list", "--db", db)
	if code != ExitOK || !strings.Contains(out, "revoked") {
		t.Errorf("after revoke: got %q, want the key shown revoked", out)
	}
}

func TestKeyCreateRefusesBadInput(t *testing.T) {
	t.Parallel()
	db := "sqlite:" + filepath.Join(t.TempDir(), "hookd.db")
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"NoName", []string{"key", "create", "--db", db}, "--name is required"},
		{"BadRole", []string{"key", "create", "--db", db, "--name", "x", "--role", "root"}, "use admin or user"},
		{"BadScope", []string{"key", "create", "--db", db, "--name", "x", "--scope", "files:read"}, "'*:write' or '*:read'"},
		{"BadDB", []string{"key", "create", "--db", "mysql://x", "--name", "x"}, "use sqlite:PATH"},
		{"RevokeNotANumber", []string{"key", "revoke", "--db", db, "abc"}, "not a number"},
		{"RevokeUnknown", []string{"key", "revoke", "--db", db, "99"}, "no key with id 99"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := runLocal(t, nil, tc.args...)
			if code == ExitOK || !strings.Contains(stderr, tc.want) || strings.Count(strings.TrimSpace(stderr), "\n") > 0 {
				t.Errorf("%v: exit %d, stderr %q; want a failure with one line saying %q", tc.args, code, stderr, tc.want)
			}
		})
	}
}

func TestMigrateIsIdempotent(t *testing.T) {
	t.Parallel()
	db := "sqlite:" + filepath.Join(t.TempDir(), "hookd.db")
	for range 2 {
		code, out, stderr := runLocal(t, nil, "migrate", "--db", db)
		if code != ExitOK || !strings.Contains(out, "up to date") {
			t.Fatalf("migrate: exit %d, out %q, err %q", code, out, stderr)
		}
	}
}
