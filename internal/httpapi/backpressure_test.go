package httpapi_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/internal/httpapi"
)

func TestPublishBackpressure(t *testing.T) {
	t.Parallel()
	var backlog atomic.Int64
	var countErr atomic.Value // error
	f := newFixture(t, func(c *httpapi.Config) {
		c.MaxBacklog = 10
		c.Backlog = func(context.Context) (int64, error) {
			if err, _ := countErr.Load().(error); err != nil {
				return 0, err
			}
			return backlog.Load(), nil
		}
	})
	f.createWebhook(&f.admin, "all", "https://example.com/all", 0, "")
	const event = `{"trigger":"file.created","payload":{"id":1}}`

	backlog.Store(9)
	f.do(&f.admin, "POST", "/api/2.0/webhooks/events", event).ok(t, 202, nil)

	backlog.Store(10)
	a := f.do(&f.admin, "POST", "/api/2.0/webhooks/events", event)
	a.fails(t, 503, "publishing is paused")
	if got := a.header.Get("Retry-After"); got != "5" {
		t.Errorf("got Retry-After %q, want 5", got)
	}
	_, total := f.logIDs(&f.admin, "")
	if total != 1 {
		t.Errorf("got %d deliveries, want 1: the refused publish stored nothing", total)
	}
	// The refusal comes after authentication and authorization, never instead of them.
	f.do(nil, "POST", "/api/2.0/webhooks/events", event).fails(t, 401, "Authentication required")
	f.do(&f.user, "POST", "/api/2.0/webhooks/events", event).fails(t, 403, "admin")
	// Other writes are not refused: people can still fix their webhooks and retry by hand.
	f.createWebhook(&f.admin, "more", "https://example.com/more", 0, "")

	// A backlog that cannot be counted lets publishing through, with one warning.
	countErr.Store(errors.New("stats: database is locked"))
	f.do(&f.admin, "POST", "/api/2.0/webhooks/events", event).ok(t, 202, nil)
	f.do(&f.admin, "POST", "/api/2.0/webhooks/events", event).ok(t, 202, nil)
	if got := strings.Count(f.logs.String(), "publishing without backpressure"); got != 1 {
		t.Errorf("got %d warnings about the backlog count, want 1:\n%s", got, f.logs)
	}
}

func TestPublishWithoutBackpressure(t *testing.T) {
	t.Parallel()
	var calls atomic.Int64
	backlog := func(context.Context) (int64, error) { calls.Add(1); return 1 << 40, nil }
	for name, edit := range map[string]func(*httpapi.Config){
		"NoLimit":   func(c *httpapi.Config) { c.Backlog = backlog },
		"NoBacklog": func(c *httpapi.Config) { c.MaxBacklog = 1 },
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, edit)
			f.publish(`"file.created"`, `{"id":1}`)
		})
	}
	t.Cleanup(func() {
		if n := calls.Load(); n != 0 {
			t.Errorf("got %d backlog counts without a limit, want 0", n)
		}
	})
}

func TestCachedBacklog(t *testing.T) {
	t.Parallel()
	var calls atomic.Int64
	fail := atomic.Bool{}
	count := httpapi.CachedBacklog(func(context.Context) (int64, error) {
		if fail.Load() {
			return 0, hookd.Errorf(hookd.ENOTIMPLEMENTED, "no stats")
		}
		return calls.Add(1), nil
	}, time.Hour)
	for range 3 {
		if n, err := count(context.Background()); n != 1 || err != nil {
			t.Fatalf("got %d, %v, want 1 from the first count, cached", n, err)
		}
	}
	if got := calls.Load(); got != 1 {
		t.Errorf("got %d counts within the ttl, want 1", got)
	}

	fail.Store(true)
	uncached := httpapi.CachedBacklog(func(context.Context) (int64, error) {
		if fail.Load() {
			return 0, errors.New("down")
		}
		return 7, nil
	}, time.Hour)
	if _, err := uncached(context.Background()); err == nil {
		t.Fatal("got no error, want the count's")
	}
	fail.Store(false)
	if n, err := uncached(context.Background()); n != 7 || err != nil {
		t.Errorf("got %d, %v after a failed count, want 7: errors are not cached", n, err)
	}
}
