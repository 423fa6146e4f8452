package webui

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/hookd/hookd"
)

var rowPattern = regexp.MustCompile(`<tr data-id="(\d+)"`)

// rowIDs returns the delivery ids of a history page, top to bottom.
func rowIDs(body string) []string {
	var ids []string
	for _, m := range rowPattern.FindAllStringSubmatch(body, -1) {
		ids = append(ids, m[1])
	}
	return ids
}

func TestHistory(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	b, k := e.signedIn(t, hookd.RoleAdmin, hookd.ScopeWrite)
	hook := e.webhook(t, k, "h")
	e.publish(t, 1<<7) // 1: delivered
	e.deliver(t, 200, "ok")
	e.publish(t, 1<<7) // 2: failed with 503
	e.deliver(t, 503, "busy")
	e.publish(t, 1<<7) // 3: failed with 404
	e.deliver(t, 404, "nope")
	e.publish(t, 1<<8) // 4: file.uploaded, never tried
	hist := fmt.Sprintf("/webhooks/%d/history", hook.ID)

	for _, tc := range []struct {
		name, query string
		want        []string
	}{
		{"NewestFirst", "", []string{"4", "3", "2", "1"}},
		{"Failed", "?status=failed", []string{"3", "2"}},
		{"NotSent", "?status=notsent", []string{"4"}},
		{"TwoChips", "?status=2xx&status=5xx", []string{"2", "1"}},
		{"Trigger", "?trigger=file.uploaded", []string{"4"}},
		{"EventID", "?eventId=2", []string{"2"}},
		{"DeliveryDate", "?date=2026-06-30&from=09:59&to=10:00", []string{"3", "2", "1"}},
		{"OtherDate", "?date=2026-07-01", nil},
	} {
		res := b.get(t, hist+tc.query)
		wantStatus(t, tc.name, res, http.StatusOK)
		if got := rowIDs(res.body); strings.Join(got, ",") != strings.Join(tc.want, ",") {
			t.Errorf("%s: got rows %v, want %v", tc.name, got, tc.want)
		}
	}

	res := b.get(t, "/history?status=failed&trigger=file.created")
	wantContains(t, "filters shown", res.body, `value="failed" checked`)
	wantContains(t, "filters shown", res.body, `<option value="file.created" selected>`)
	wantContains(t, "filters shown", res.body, "2 deliveries match the filters")

	bad := b.get(t, hist+"?date=yesterday")
	wantStatus(t, "bad filter", bad, http.StatusBadRequest)
	wantContains(t, "bad filter", bad.body, "The delivery date &#34;yesterday&#34; is not valid")
	wantStatus(t, "missing webhook", b.get(t, "/webhooks/99/history"), http.StatusNotFound)
}

func TestHistoryPaging(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	b, k := e.signedIn(t, hookd.RoleAdmin, hookd.ScopeRead)
	e.webhook(t, k, "many")
	for range pageSize + 5 {
		e.publish(t, 1<<7)
	}
	first := b.get(t, "/history")
	ids := rowIDs(first.body)
	if len(ids) != pageSize || ids[0] != fmt.Sprint(pageSize+5) {
		t.Fatalf("first page: got %d rows from %v, want %d from %d", len(ids), ids[:1], pageSize, pageSize+5)
	}
	next := regexp.MustCompile(`href="(/history\?[^"]+)" rel="next"`).FindStringSubmatch(first.body)
	if next == nil {
		t.Fatal("no link to the next page")
	}
	link := strings.ReplaceAll(next[1], "&amp;", "&")
	if !strings.Contains(link, "maxId=55") || !strings.Contains(link, "page=2") {
		t.Fatalf("next link %q: want page=2 pinned with maxId=55", link)
	}
	e.publish(t, 1<<7) // arrives while the user reads page 1
	second := rowIDs(b.get(t, link).body)
	if strings.Join(second, ",") != "5,4,3,2,1" {
		t.Fatalf("second page: got %v, want 5..1 (the new delivery must not shift it)", second)
	}
}

func TestRetry(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	b, k := e.signedIn(t, hookd.RoleUser, hookd.ScopeWrite)
	hook := e.webhook(t, k, "r")
	for range 3 {
		e.publish(t, 1<<7)
	}
	e.deliver(t, 500, "down")
	hist := fmt.Sprintf("/webhooks/%d/history", hook.ID)

	t.Run("Selection", func(t *testing.T) {
		before := e.woke.Load()
		res := b.submit(t, hist, "/retry", url.Values{"sel": {"1", "3"}, "return": {hist + "?trigger=file.created"}})
		wantRedirect(t, "batch retry", res, hist+"?trigger=file.created")
		if e.woke.Load() == before {
			t.Fatal("the dispatcher was not woken")
		}
		page := b.get(t, hist+"?trigger=file.created")
		wantContains(t, "after batch retry", page.body, "2 deliveries re-sent.")
		if got := rowIDs(page.body); strings.Join(got[:2], ",") != "5,4" {
			t.Fatalf("after batch retry: got rows %v, want the new 5 and 4 on top", got)
		}
		wantContains(t, "new rows", page.body, `<tr data-id="5" data-live class="new">`)
		for id, of := range map[int64]int64{4: 1, 5: 3} {
			d, err := e.store.DeliveryGet(context.Background(), id)
			if err != nil || d.RetryOf != of || d.CreatedBy != k.UserID || d.State != hookd.DeliveryStatePending {
				t.Fatalf("delivery %d: got %+v, %v; want a pending retry of %d by the key's user", id, d, err, of)
			}
		}
	})

	t.Run("RowButton", func(t *testing.T) {
		// "one" wins over the selection: it is the row's own button.
		res := b.submit(t, hist, "/retry", url.Values{"one": {"2"}, "sel": {"1", "3"}, "return": {hist}})
		wantRedirect(t, "row retry", res, hist)
		page := b.get(t, hist)
		wantContains(t, "after row retry", page.body, "1 delivery re-sent.")
		if d, err := e.store.DeliveryGet(context.Background(), 6); err != nil || d.RetryOf != 2 {
			t.Fatalf("delivery 6: got %+v, %v; want a retry of 2", d, err)
		}
	})

	t.Run("DetailsButton", func(t *testing.T) {
		res := b.submit(t, "/deliveries/2", "/deliveries/2/retry", nil)
		wantRedirect(t, "details retry", res, hist)
		wantContains(t, "after details retry", b.get(t, hist).body, `<tr data-id="7" data-live class="new">`)
	})

	t.Run("NothingSelected", func(t *testing.T) {
		wantRedirect(t, "empty retry", b.submit(t, hist, "/retry", url.Values{"return": {hist}}), hist)
		wantContains(t, "empty retry", b.get(t, hist).body, "Select at least one delivery to retry.")
	})

	t.Run("ReturnStaysLocal", func(t *testing.T) {
		res := b.submit(t, hist, "/retry", url.Values{"sel": {"1"}, "return": {"https://evil.example/"}})
		wantRedirect(t, "foreign return", res, "/history")
	})

	t.Run("BadID", func(t *testing.T) {
		wantStatus(t, "bad id", b.submit(t, hist, "/retry", url.Values{"sel": {"x"}}), http.StatusBadRequest)
		wantStatus(t, "missing delivery", b.submit(t, hist, "/deliveries/999/retry", nil), http.StatusNotFound)
	})
}

func TestLive(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	alice, ak := e.signedIn(t, hookd.RoleUser, hookd.ScopeRead)
	bob, bk := e.signedIn(t, hookd.RoleUser, hookd.ScopeRead)
	e.webhook(t, ak, "a")
	e.publish(t, 1<<7) // 1: alice's, delivered below
	e.deliver(t, 200, "ok")
	e.webhook(t, bk, "b")
	e.publish(t, 1<<7) // 2: alice's, 3: bob's; both pending

	decode := func(res response) liveAnswer {
		t.Helper()
		wantStatus(t, "live", res, http.StatusOK)
		var a liveAnswer
		if err := json.Unmarshal([]byte(res.body), &a); err != nil {
			t.Fatalf("decode %s: %v", res.body, err)
		}
		return a
	}
	got := decode(alice.get(t, "/live?ids=1,2,3,99"))
	if len(got.Rows) != 2 || got.Rows[0].ID != 1 || got.Rows[1].ID != 2 {
		t.Fatalf("alice's rows: got %+v, want 1 and 2 only", got.Rows)
	}
	if r := got.Rows[0]; r.State != hookd.DeliveryStateDelivered || r.BadgeText != "200" || r.Live || r.Delivery == "" {
		t.Fatalf("delivered row: got %+v", r)
	}
	if r := got.Rows[1]; r.State != hookd.DeliveryStatePending || r.BadgeText != "Not sent" || !r.Live {
		t.Fatalf("pending row: got %+v", r)
	}
	if got := decode(bob.get(t, "/live?ids=1,2,3")); len(got.Rows) != 1 || got.Rows[0].ID != 3 {
		t.Fatalf("bob's rows: got %+v, want 3 only", got.Rows)
	}
	if got := decode(alice.get(t, "/live?since=1")); got.Newer != 1 {
		t.Fatalf("alice's newer count: got %d, want 1 (bob's delivery is not hers)", got.Newer)
	}
	if got := decode(alice.get(t, "/live?since=0&status=2xx")); got.Newer != 1 {
		t.Fatalf("newer count with a filter: got %d, want 1", got.Newer)
	}
	anon := e.browser(t).get(t, "/live?ids=1")
	wantStatus(t, "live without session", anon, http.StatusUnauthorized)
	if ct := anon.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("live without session: got Content-Type %q, want JSON", ct)
	}
}

func TestDetails(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	b, k := e.signedIn(t, hookd.RoleAdmin, hookd.ScopeWrite)
	e.webhook(t, k, "d")
	e.publish(t, 1<<7) // 1: never tried
	page := b.get(t, "/deliveries/1")
	wantStatus(t, "pending details", page, http.StatusOK)
	wantContains(t, "pending details", page.body, "Not sent yet.")
	wantContains(t, "pending details", page.body, `data-live-reload="/live?ids=1" data-live-key="pending/0"`)
	wantContains(t, "pending details", page.body, `&#34;trigger&#34;: &#34;file.created&#34;`)

	large := `{"items":[` + strings.Repeat(`"x",`, 3000) + `"end"]}`
	e.deliver(t, 502, large)
	page = b.get(t, "/deliveries/1")
	wantContains(t, "failed details", page.body, "Payload is too large to show whole")
	wantContains(t, "failed details", page.body, `href="/deliveries/1/raw?attempt=1&amp;part=response"`)
	wantNotContains(t, "failed details", page.body, `&#34;end&#34;`) // cut
	wantContains(t, "failed details", page.body, `<th scope="row">Server</th><td>test</td>`)
	wantContains(t, "failed details", page.body, `data-attempt="1"`)
	wantContains(t, "failed details", page.body, "12 ms")
	wantNotContains(t, "failed details", page.body, "data-live-reload")

	raw := b.get(t, "/deliveries/1/raw?attempt=1&part=response")
	wantStatus(t, "raw", raw, http.StatusOK)
	if raw.body != large {
		t.Fatalf("raw response: got %d bytes, want the whole %d", len(raw.body), len(large))
	}
	if csp := raw.header.Get("Content-Security-Policy"); !strings.Contains(csp, "sandbox") {
		t.Fatalf("raw: got CSP %q, want sandbox", csp)
	}
	if ct := raw.header.Get("Content-Type"); ct != "text/plain; charset=utf-8" {
		t.Fatalf("raw: got Content-Type %q, want text/plain", ct)
	}
	wantStatus(t, "raw of a missing attempt", b.get(t, "/deliveries/1/raw?attempt=2&part=request"), http.StatusNotFound)
	wantStatus(t, "raw of an unknown part", b.get(t, "/deliveries/1/raw?attempt=1&part=secret"), http.StatusNotFound)
	wantStatus(t, "missing delivery", b.get(t, "/deliveries/42"), http.StatusNotFound)
}
