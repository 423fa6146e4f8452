package cli

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/client"
	"github.com/hookd/hookd/internal/servertest"
)

func storedWebhook(t *testing.T, e *servertest.Env, id int64) *hookd.Webhook {
	t.Helper()
	w, err := e.Store.WebhookGet(context.Background(), id)
	if err != nil {
		t.Fatalf("get webhook %d: %v", id, err)
	}
	return w
}

func TestWebhooksLifecycle(t *testing.T) {
	t.Parallel()
	e := startServer(t)
	rc := newReceiver(t, "first-secret-1", 200)
	secretFile := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(secretFile, []byte("file-secret-22\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	const mask = "file.created,agent.created,folder.downloaded"
	hooks := decodeJSON[[]client.Webhook](t, mustRun(t, e, "webhooks", "create", "--name", "crm", "--uri", rc.URL,
		"--secret-file", secretFile, "--ssl=false", "--triggers", mask, "--target-id", "42", "-o", "json"))
	id := hooks[0].ID
	want := client.TriggerFileCreated | client.TriggerAgentCreated | client.TriggerFolderDownloaded
	if hooks[0].Triggers != want || !hooks[0].Enabled {
		t.Errorf("create printed triggers %d enabled %v, want %d and true", hooks[0].Triggers, hooks[0].Enabled, want)
	}
	w := storedWebhook(t, e, id)
	if w.Name != "crm" || w.URI != rc.URL || w.Secret != "file-secret-22" || int64(w.Triggers) != int64(want) || w.TargetID != "42" || w.SSL {
		t.Errorf("stored %+v, want the flags' values", w)
	}

	t.Run("ListShowsMaskAbove2to31", func(t *testing.T) {
		r := mustRun(t, e, "webhooks", "list")
		for _, s := range []string{"crm", rc.URL, "file.created,agent.created,folder.downloaded", "not sent"} {
			if !strings.Contains(r.stdout, s) {
				t.Errorf("list table %q lacks %q", r.stdout, s)
			}
		}
	})

	// update changes only the fields given: the secret, the enabled flag and the mask stay.
	mustRun(t, e, "webhooks", "update", strconv.FormatInt(id, 10), "--name", "crm-2")
	w = storedWebhook(t, e, id)
	if w.Name != "crm-2" || w.URI != rc.URL || w.Secret != "file-secret-22" || !w.Enabled || int64(w.Triggers) != int64(want) || w.TargetID != "42" {
		t.Errorf("after update: %+v, want only the name changed", w)
	}
	mustRun(t, e, "webhooks", "update", strconv.FormatInt(id, 10), "--triggers", "*", "--secret", "second-secret-3")
	if w = storedWebhook(t, e, id); w.Triggers != hookd.TriggerAll || w.Secret != "second-secret-3" || w.Name != "crm-2" {
		t.Errorf("after update: triggers %d secret changed %v name %q", w.Triggers, w.Secret == "second-secret-3", w.Name)
	}

	mustRun(t, e, "webhooks", "disable", strconv.FormatInt(id, 10))
	if storedWebhook(t, e, id).Enabled {
		t.Errorf("disable left the webhook enabled")
	}
	// A disabled webhook gets no deliveries.
	res := decodeJSON[client.PublishResult](t, mustRun(t, e, "publish", "--trigger", "file.created", "--payload", `{"id":42}`, "--target-id", "42", "-o", "json"))
	if len(res.Deliveries) != 0 {
		t.Errorf("publish to a disabled webhook made %d deliveries, want 0", len(res.Deliveries))
	}
	mustRun(t, e, "webhooks", "enable", strconv.FormatInt(id, 10))
	if !storedWebhook(t, e, id).Enabled {
		t.Errorf("enable left the webhook disabled")
	}

	// delete of several ids, one unknown: the known one goes, the exit says partial.
	other := createWebhook(t, e, rc, "other")
	r := runCLI(t, e.URL, e.AdminKey, "", "webhooks", "delete", strconv.FormatInt(other, 10), "9999")
	if r.code != ExitPartial || !strings.Contains(r.stderr, "webhook 9999 was not found") {
		t.Errorf("got exit %d stderr %q, want %d and the unknown id named", r.code, r.stderr, ExitPartial)
	}
	if _, err := e.Store.WebhookGet(context.Background(), other); hookd.ErrorCode(err) != hookd.ENOTFOUND {
		t.Errorf("got %v getting the deleted webhook, want not found", err)
	}
	mustRun(t, e, "webhooks", "delete", strconv.FormatInt(id, 10))
	list := decodeJSON[[]client.Webhook](t, mustRun(t, e, "webhooks", "-o", "json"))
	if len(list) != 0 {
		t.Errorf("got %d webhooks after deleting all, want 0", len(list))
	}
}

func TestWebhooksUserSeesOwnOnly(t *testing.T) {
	t.Parallel()
	e := startServer(t)
	rc := newReceiver(t, "user-secret-1", 200)
	createWebhook(t, e, rc, "admin's")
	userKey := e.NewKey(t, hookd.RoleUser, hookd.ScopeWrite)
	r := runCLI(t, e.URL, userKey, "", "webhooks", "create", "--name", "mine", "--uri", rc.URL, "--secret", rc.secret, "--ssl=false", "--triggers", "file.created")
	if r.code != ExitOK {
		t.Fatalf("user create: exit %d %q", r.code, r.stderr)
	}
	r = runCLI(t, e.URL, userKey, "", "webhooks", "-o", "json")
	list := decodeJSON[[]client.Webhook](t, r)
	if len(list) != 1 || list[0].Name != "mine" {
		t.Errorf("user sees %+v, want only its own webhook", list)
	}
}
