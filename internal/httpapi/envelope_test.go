package httpapi_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/internal/httpapi"
)

func TestEnvelope(t *testing.T) {
	t.Parallel()
	f := newFixture(t)

	t.Run("SuccessShape", func(t *testing.T) {
		t.Parallel()
		var triggers []map[string]any
		a := f.do(&f.admin, "GET", "/api/2.0/settings/webhook/triggers?fields=name&x=1", "").ok(t, 200, &triggers)
		if got, want := *a.Count, len(triggers); got != want || got != len(hookd.Triggers) {
			t.Errorf("got count %d, want %d (len of response) = %d", got, want, len(hookd.Triggers))
		}
		if a.Total != nil {
			t.Errorf("got total %d, want none outside the log listing", *a.Total)
		}
		if len(a.Links) != 1 {
			t.Fatalf("got %d links, want 1", len(a.Links))
		}
		if got, want := a.Links[0].Href, f.srv.URL+"/api/2.0/settings/webhook/triggers?fields=name&x=1"; got != want {
			t.Errorf("got href %q, want %q", got, want)
		}
		if got, want := a.Links[0].Action, "GET"; got != want {
			t.Errorf("got action %q, want %q", got, want)
		}
		if ct := a.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
			t.Errorf("got Content-Type %q, want application/json", ct)
		}
	})

	t.Run("ObjectCountsOne", func(t *testing.T) {
		t.Parallel()
		w := f.createWebhook(&f.admin, "count-one", "https://example.com/one", 0, "")
		a := f.do(&f.admin, "DELETE", "/api/2.0/settings/webhook/"+itoa(w.ID), "").ok(t, 200, nil)
		if *a.Count != 1 {
			t.Errorf("got count %d, want 1 for an object", *a.Count)
		}
		if got, want := a.Links[0].Action, "DELETE"; got != want {
			t.Errorf("got action %q, want %q", got, want)
		}
	})

	t.Run("EmptyListIsArray", func(t *testing.T) {
		t.Parallel()
		a := f.do(&f.user2, "GET", "/api/2.0/settings/webhook", "").ok(t, 200, nil)
		if got := string(a.Response); got != "[]" {
			t.Errorf("got response %s, want []", got)
		}
		if *a.Count != 0 {
			t.Errorf("got count %d, want 0", *a.Count)
		}
	})

	t.Run("UnknownAPIPath", func(t *testing.T) {
		t.Parallel()
		f.do(&f.admin, "GET", "/api/2.0/settings/nothing", "").fails(t, 404, "No API route")
		f.do(nil, "GET", "/api/2.0/nothing/here", "").fails(t, 404, "No API route")
	})

	t.Run("WrongMethod", func(t *testing.T) {
		t.Parallel()
		a := f.do(&f.admin, "PATCH", "/api/2.0/settings/webhook", "")
		a.fails(t, 405, "not allowed")
		allow := a.header.Get("Allow")
		for _, m := range []string{"GET", "POST", "PUT"} {
			if !strings.Contains(allow, m) {
				t.Errorf("got Allow %q, want it to list %s", allow, m)
			}
		}
		f.do(&f.admin, "GET", "/api/2.0/webhooks/events", "").fails(t, 405, "not allowed")
	})
}

func TestHealth(t *testing.T) {
	t.Parallel()

	t.Run("HealthzNeedsNoKey", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		var got struct{ Status string }
		f.do(nil, "GET", "/healthz", "").ok(t, 200, &got)
		if got.Status != "ok" {
			t.Errorf("got status %q, want ok", got.Status)
		}
	})

	t.Run("ReadyzFollowsStore", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		f.do(nil, "GET", "/readyz", "").ok(t, 200, nil)
		if err := f.store.Close(); err != nil {
			t.Fatalf("close store: %v", err)
		}
		f.do(nil, "GET", "/readyz", "").fails(t, 503, "not ready")
		f.do(nil, "GET", "/healthz", "").ok(t, 200, nil)
	})
}

func TestInternalErrorIsGeneric(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	token := f.admin.token
	if err := f.store.Close(); err != nil {
		t.Fatalf("close store: %v", err)
	}
	req, err := http.NewRequest("GET", f.srv.URL+"/api/2.0/settings/webhook", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	msg := f.send(req).fails(t, 500, "Internal error")
	if strings.Contains(strings.ToLower(msg), "sql") {
		t.Errorf("got message %q, want no database detail", msg)
	}
	logs := f.logs.String()
	if !strings.Contains(logs, "database is closed") {
		t.Errorf("got logs %q, want the detail logged", logs)
	}
	if strings.Contains(logs, token) || strings.Contains(logs, hookd.HashKey(token)) {
		t.Errorf("got logs %q, want no key and no key hash", logs)
	}
}

func TestBodyLimit(t *testing.T) {
	t.Parallel()
	f := newFixture(t, func(c *httpapi.Config) { c.MaxBodyBytes = 512 })
	big := `{"name":"big","uri":"https://example.com/big","secretKey":"s3cret-key","targetId":"` + strings.Repeat("x", 600) + `"}`
	f.do(&f.admin, "POST", "/api/2.0/settings/webhook", big).fails(t, 413, "larger than 512 bytes")

	// Without Content-Length the limit holds while reading.
	req, err := http.NewRequest("PUT", f.srv.URL+"/api/2.0/settings/webhook/retry", strings.NewReader(`{"ids":[`+strings.Repeat("1,", 400)+`1]}`))
	if err != nil {
		t.Fatal(err)
	}
	req.ContentLength = -1
	req.Header.Set("Authorization", "Bearer "+f.admin.token)
	f.send(req).fails(t, 413, "larger than")

	// The default limit is 1 MiB.
	d := newFixture(t)
	huge := `{"trigger":128,"payload":"` + strings.Repeat("y", 1<<20) + `"}`
	d.do(&d.admin, "POST", "/api/2.0/webhooks/events", huge).fails(t, 413, "larger than 1048576 bytes")
}
