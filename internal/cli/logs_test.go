package cli

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hookd/hookd/client"
)

func TestLogsFilters(t *testing.T) {
	t.Parallel()
	e := startServer(t)
	ok := newReceiver(t, "ok-secret-1", 200)
	bad := newReceiver(t, "bad-secret-1", 502)
	okID := createWebhook(t, e, ok, "ok")
	badID := createWebhook(t, e, bad, "bad")
	cl := newClient(t, e)
	publishN(t, cl, 3) // file.created × 2 webhooks
	if _, err := cl.Publish(context.Background(), client.PublishParams{Trigger: client.TriggerFolderDownloaded, Payload: json.RawMessage(`{"id":9}`)}); err != nil {
		t.Fatal(err)
	}
	settled(t, e)

	tests := []struct {
		name string
		args []string
		want int
		each func(*client.Delivery) bool
	}{
		{"All", nil, 8, nil},
		{"Failed", []string{"--status", "failed"}, 4, func(d *client.Delivery) bool { return d.Status == 502 }},
		{"StatusRepeatable", []string{"--status", "2xx", "--status", "5xx"}, 8, nil},
		{"StatusList", []string{"--status", "4xx,3xx"}, 0, nil},
		{"Webhook", []string{"--webhook", strconv.FormatInt(okID, 10)}, 4, func(d *client.Delivery) bool { return d.ConfigID == okID }},
		{"HookURI", []string{"--hook-uri", bad.URL}, 4, func(d *client.Delivery) bool { return d.ConfigID == badID }},
		{"TriggerAbove2to31", []string{"--trigger", "folder.downloaded"}, 2, func(d *client.Delivery) bool { return d.Trigger == client.TriggerFolderDownloaded }},
		{"Since", []string{"--since", "1h"}, 8, nil},
		{"From", []string{"--from", time.Now().Add(time.Hour).Format(time.RFC3339)}, 0, nil},
		{"To", []string{"--to", time.Now().Add(time.Hour).Format("2006-01-02 15:04")}, 8, nil},
		{"CountAndStart", []string{"--count", "3", "--start-index", "6"}, 2, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			page := decodeJSON[logPage](t, mustRun(t, e, append([]string{"logs", "-o", "json"}, tt.args...)...))
			if len(page.Deliveries) != tt.want {
				t.Errorf("got %d rows, want %d", len(page.Deliveries), tt.want)
			}
			for _, d := range page.Deliveries {
				if tt.each != nil && !tt.each(d) {
					t.Errorf("row %+v does not match the filter", d)
				}
			}
		})
	}

	t.Run("OneDeliveryByID", func(t *testing.T) {
		t.Parallel()
		all := decodeJSON[logPage](t, mustRun(t, e, "logs", "-o", "json"))
		id := all.Deliveries[3].ID
		one := decodeJSON[logPage](t, mustRun(t, e, "logs", "--id", strconv.FormatInt(id, 10), "-o", "json"))
		if len(one.Deliveries) != 1 || one.Deliveries[0].ID != id {
			t.Errorf("got %+v, want delivery %d", one.Deliveries, id)
		}
		r := runCLI(t, e.URL, e.AdminKey, "", "logs", "--id", "999999")
		if r.code != ExitNotFound || !strings.Contains(r.stderr, "delivery 999999 was not found") {
			t.Errorf("got exit %d %q, want not found", r.code, r.stderr)
		}
	})
	t.Run("Attempts", func(t *testing.T) {
		t.Parallel()
		failed := decodeJSON[logPage](t, mustRun(t, e, "logs", "--status", "failed", "--count", "1", "-o", "json"))
		id := strconv.FormatInt(failed.Deliveries[0].ID, 10)
		attempts := decodeJSON[[]client.Attempt](t, mustRun(t, e, "logs", "attempts", id, "-o", "json"))
		if len(attempts) != 2 || attempts[0].Number != 1 || attempts[1].Status != 502 || !strings.Contains(attempts[0].RequestHeaders, "sha256=") {
			t.Errorf("got attempts %+v, want two 502 answers with signed requests", attempts)
		}
		table := mustRun(t, e, "logs", "attempts", id).stdout
		if strings.Count(table, "\n") != 3 || strings.Count(table, "  502  ") != 2 {
			t.Errorf("attempts table %q, want two 502 rows", table)
		}
	})
}

func TestLogsTableAndAll(t *testing.T) {
	t.Parallel()
	e := startServer(t)
	rc := newReceiver(t, "many-secret", 200)
	createWebhook(t, e, rc, "many")
	ids := publishN(t, newClient(t, e), 150)
	settled(t, e)

	r := mustRun(t, e, "logs")
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != 101 || !strings.HasPrefix(lines[0], "ID ") {
		t.Errorf("got %d table lines, want a header and 100 rows", len(lines))
	}
	if !strings.Contains(r.stderr, "showing 1-100 of 150") {
		t.Errorf("got stderr %q, want a paging hint", r.stderr)
	}
	// Tables show local times, JSON RFC 3339.
	d, err := e.Store.DeliveryGet(context.Background(), ids[len(ids)-1])
	if err != nil {
		t.Fatal(err)
	}
	if local := d.CreatedOn.Local().Format("2006-01-02 15:04:05"); !strings.Contains(lines[1], local) {
		t.Errorf("first row %q lacks the local creation time %s", lines[1], local)
	}
	var raw struct {
		Deliveries []map[string]any `json:"deliveries"`
	}
	if err := json.Unmarshal([]byte(mustRun(t, e, "logs", "--count", "1", "-o", "json").stdout), &raw); err != nil {
		t.Fatal(err)
	}
	if s, _ := raw.Deliveries[0]["creationTime"].(string); !strings.HasSuffix(s, "Z") {
		t.Errorf("got creationTime %q in JSON, want RFC 3339 UTC", s)
	} else if _, err := time.Parse(time.RFC3339, s); err != nil {
		t.Errorf("creationTime %q: %v", s, err)
	}

	all := decodeJSON[logPage](t, mustRun(t, e, "logs", "--all", "--count", "40", "-o", "json"))
	if len(all.Deliveries) != 150 || all.Total != 150 {
		t.Fatalf("--all: got %d rows, total %d, want 150", len(all.Deliveries), all.Total)
	}
	for i, d := range all.Deliveries {
		if want := ids[len(ids)-1-i]; d.ID != want {
			t.Fatalf("--all row %d: got id %d, want %d (newest first, each once)", i, d.ID, want)
		}
	}
}
