package httpapi_test

import (
	"strconv"
	"testing"
	"time"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/internal/httpapi"
)

func TestRetryRateLimit(t *testing.T) {
	t.Parallel()
	f := newFixture(t, func(c *httpapi.Config) { c.RetryRateLimit = httpapi.DocSpaceRetryLimit })
	f.createWebhook(&f.admin, "all", "https://example.com/all", 0, "")
	own := f.createWebhook(&f.user, "mine", "https://example.com/mine", 128, "")
	p := f.publish(`"file.created"`, `{"id":1}`)
	var adminDelivery, userDelivery int64
	for _, d := range p.Deliveries {
		if d.ConfigID == own.ID {
			userDelivery = d.ID
		} else {
			adminDelivery = d.ID
		}
	}
	one := "/api/2.0/settings/webhook/" + itoa(adminDelivery) + "/retry"
	start := f.clock.Now()

	for i := range 5 {
		a := f.do(&f.admin, "PUT", one, "").ok(t, 200, nil)
		checkRateHeaders(t, a, 5, 4-i, start.Add(15*time.Minute))
		f.clock.Advance(time.Minute)
	}
	a := f.do(&f.admin, "PUT", one, "")
	a.fails(t, 429, "Too many retries: at most 5 per 15m0s")
	checkRateHeaders(t, a, 5, 0, start.Add(15*time.Minute))
	if got, want := a.header.Get("Retry-After"), strconv.Itoa(10*60); got != want {
		t.Errorf("got Retry-After %q, want %q: the first retry leaves the window in 10 min", got, want)
	}

	// The limit is per user and path: another delivery, the batch route and another user
	// each have their own window.
	f.do(&f.admin, "PUT", "/api/2.0/settings/webhook/"+itoa(userDelivery)+"/retry", "").ok(t, 200, nil)
	f.do(&f.admin, "PUT", "/api/2.0/settings/webhook/retry", `{"ids":[`+itoa(adminDelivery)+`]}`).ok(t, 200, nil)
	f.do(&f.user, "PUT", "/api/2.0/settings/webhook/"+itoa(userDelivery)+"/retry", "").ok(t, 200, nil)
	// Other routes are not limited and carry no rate headers.
	if a := f.do(&f.admin, "GET", "/api/2.0/settings/webhooks/log", "").ok(t, 200, nil); a.header.Get("X-RateLimit-Limit") != "" {
		t.Errorf("got rate headers on the log listing: %v", a.header)
	}

	// Sliding: once the first retry is 15 min old, one more fits.
	f.clock.Advance(10 * time.Minute)
	a = f.do(&f.admin, "PUT", one, "").ok(t, 200, nil)
	checkRateHeaders(t, a, 5, 0, start.Add(time.Minute+15*time.Minute))
	f.do(&f.admin, "PUT", one, "").fails(t, 429, "Too many retries")

	// Refused retries created nothing: 5 + 1 retries of the first delivery, 1 batch retry.
	rows, _, err := f.store.DeliveryList(f.ctx, hookd.DeliveryFilter{})
	if err != nil {
		t.Fatal(err)
	}
	retries := 0
	for _, d := range rows {
		if d.RetryOf == adminDelivery {
			retries++
		}
	}
	if retries != 7 {
		t.Errorf("got %d retries of delivery %d, want 7", retries, adminDelivery)
	}
}

// checkRateHeaders checks the X-RateLimit-* headers of an answer.
func checkRateHeaders(t *testing.T, a *answer, limit, remaining int, reset time.Time) {
	t.Helper()
	for name, want := range map[string]string{
		"X-RateLimit-Limit":     strconv.Itoa(limit),
		"X-RateLimit-Remaining": strconv.Itoa(remaining),
		"X-RateLimit-Reset":     strconv.FormatInt(reset.Unix(), 10),
	} {
		if got := a.header.Get(name); got != want {
			t.Errorf("got %s %q, want %q", name, got, want)
		}
	}
}

func TestRetryRateLimitOffByDefault(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.createWebhook(&f.admin, "all", "https://example.com/all", 0, "")
	p := f.publish(`"file.created"`, `{"id":1}`)
	path := "/api/2.0/settings/webhook/" + itoa(p.Deliveries[0].ID) + "/retry"
	for range 20 {
		if a := f.do(&f.admin, "PUT", path, "").ok(t, 200, nil); a.header.Get("X-RateLimit-Limit") != "" {
			t.Fatalf("got rate headers without a limit: %v", a.header)
		}
	}
}

func TestParseRateLimit(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in      string
		want    httpapi.RateLimit
		wantErr bool
	}{
		{"", httpapi.RateLimit{}, false},
		{"off", httpapi.RateLimit{}, false},
		{"0", httpapi.RateLimit{}, false},
		{"5/15m", httpapi.DocSpaceRetryLimit, false},
		{" 100 / 1m ", httpapi.RateLimit{Requests: 100, Window: time.Minute}, false},
		{"5", httpapi.RateLimit{}, true},
		{"0/1m", httpapi.RateLimit{}, true},
		{"-1/1m", httpapi.RateLimit{}, true},
		{"5/0s", httpapi.RateLimit{}, true},
		{"5/soon", httpapi.RateLimit{}, true},
	}
	for _, tt := range tests {
		got, err := httpapi.ParseRateLimit(tt.in)
		if got != tt.want || (err != nil) != tt.wantErr {
			t.Errorf("ParseRateLimit(%q): got %+v, %v, want %+v and error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
		if err == nil {
			if again, err := httpapi.ParseRateLimit(got.String()); err != nil || again != got {
				t.Errorf("ParseRateLimit(%q) of %+v: got %+v, %v, want it back", got.String(), got, again, err)
			}
		}
	}
}
