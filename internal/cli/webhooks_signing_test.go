package cli

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/client"
)

func TestWebhooksStandardSigningFlag(t *testing.T) {
	t.Parallel()
	e := startServer(t)
	rc := newReceiver(t, "signing-secret-1", 200)
	id := createWebhook(t, e, rc, "std", "--standard-signing")
	if !storedWebhook(t, e, id).StandardSigning {
		t.Fatalf("create --standard-signing stored standardSigning false")
	}
	if r := mustRun(t, e, "webhooks", "list"); !strings.Contains(r.stdout, "docspace+standard") {
		t.Errorf("list table %q lacks the signing scheme", r.stdout)
	}
	// update keeps what it is not told to change.
	mustRun(t, e, "webhooks", "update", strconv.FormatInt(id, 10), "--name", "std-2")
	if w := storedWebhook(t, e, id); !w.StandardSigning || w.Name != "std-2" {
		t.Errorf("after update --name: name %q standardSigning %v, want std-2 and true", w.Name, w.StandardSigning)
	}
	mustRun(t, e, "webhooks", "update", strconv.FormatInt(id, 10), "--standard-signing=false")
	if storedWebhook(t, e, id).StandardSigning {
		t.Errorf("update --standard-signing=false left it on")
	}
}

func TestWebhooksRotateSecret(t *testing.T) {
	t.Parallel()
	e := startServer(t)
	rc := newReceiver(t, "rotate-old-secret", 200)
	id := createWebhook(t, e, rc, "rot")
	newSecret := hookd.NewStandardSecret()
	file := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(file, []byte(newSecret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	before := time.Now()
	r := mustRun(t, e, "webhooks", "rotate-secret", strconv.FormatInt(id, 10), "--secret-file", file, "--overlap", "2h", "-o", "json")
	if strings.Contains(r.stdout, newSecret) || strings.Contains(r.stdout, rc.secret) {
		t.Errorf("rotate-secret printed a secret")
	}
	printed := decodeJSON[[]client.Webhook](t, r)
	if len(printed) != 1 || printed[0].PreviousSecretUntil == nil {
		t.Fatalf("rotate-secret printed %+v, want the webhook with previousSecretUntil", printed)
	}
	w := storedWebhook(t, e, id)
	if w.Secret != newSecret || w.PreviousSecret != rc.secret {
		t.Errorf("stored: new secret %v, old kept as previous %v; want both", w.Secret == newSecret, w.PreviousSecret == rc.secret)
	}
	if w.PreviousSecretUntil == nil || w.PreviousSecretUntil.Before(before.Add(2*time.Hour)) || w.PreviousSecretUntil.After(time.Now().Add(2*time.Hour)) {
		t.Errorf("got previous secret until %v, want two hours after the call", w.PreviousSecretUntil)
	}
	if r := mustRun(t, e, "webhooks", "list"); !strings.Contains(r.stdout, "old secret until") {
		t.Errorf("list table %q does not show the overlap", r.stdout)
	}

	for _, tc := range []struct {
		name string
		args []string
		code int
		msg  string
	}{
		{"NoSecret", []string{"--overlap", "1h"}, ExitUsage, "a new secret"},
		{"NegativeOverlap", []string{"--secret", "another-secret-1", "--overlap", "-1h"}, ExitUsage, "negative"},
		{"BadWhsec", []string{"--secret", "whsec_bm90LWVub3VnaA=="}, ExitError, "base64"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			args := append([]string{"webhooks", "rotate-secret", strconv.FormatInt(id, 10)}, tc.args...)
			r := runCLI(t, e.URL, e.AdminKey, "", args...)
			if r.code != tc.code || !strings.Contains(r.stderr, tc.msg) {
				t.Errorf("got exit %d stderr %q, want %d and %q", r.code, r.stderr, tc.code, tc.msg)
			}
			if strings.Contains(r.stderr, "bm90LWVub3VnaA") || strings.Contains(r.stderr, "another-secret-1") {
				t.Errorf("stderr %q repeats the secret", r.stderr)
			}
		})
	}
}
