package httpapi_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"testing"
	"time"

	"github.com/hookd/hookd"
)

// The callers of the authorization matrix. "user-own" is a user's write key on that user's
// webhook and delivery, "user-other" the same key on another user's; every other caller acts
// on the first user's.
var matrixCallers = []string{"anonymous", "revoked", "expired", "admin-read", "user-read", "user-own", "user-other", "admin"}

// cell is what one request of the matrix works on: a webhook with one delivery, made afresh.
type cell struct {
	n          int
	webhookID  int64
	deliveryID int64
	replayID   int64 // a replay job of the webhook's owner over the webhook
}

// matrixRoute is one route of the matrix: the request it makes and the status each caller gets.
type matrixRoute struct {
	pattern string
	request func(c cell) (method, path, body string)
	want    map[string]int // by caller; a missing caller means the default of the row's group
}

// Expected answers, by kind of route.
var (
	apiRead = map[string]int{"admin-read": 200, "user-read": 200, "user-own": 200, "user-other": 200, "admin": 200}
	// apiWriteOwned: writes on a webhook or delivery: its owner and admins only.
	apiWriteOwned = map[string]int{"admin-read": 403, "user-read": 403, "user-own": 200, "user-other": 403, "admin": 200}
	// apiReadOwned: reads of something a user owns (a replay job): its owner's keys and admins.
	apiReadOwned = map[string]int{"admin-read": 200, "user-read": 200, "user-own": 200, "user-other": 403, "admin": 200}
	public       = map[string]int{"anonymous": 200, "revoked": 200, "expired": 200, "admin-read": 200, "user-read": 200, "user-own": 200, "user-other": 200, "admin": 200}
)

func matrixRoutes() []matrixRoute {
	return []matrixRoute{
		{"GET /api/2.0/settings/webhook", get("/api/2.0/settings/webhook"), apiRead},
		{"POST /api/2.0/settings/webhook", func(c cell) (string, string, string) {
			return "POST", "/api/2.0/settings/webhook", fmt.Sprintf(`{"name":"new-%d","uri":"https://example.com/new","secretKey":"s3cret-key","targetId":"new-%[1]d"}`, c.n)
		}, map[string]int{"admin-read": 403, "user-read": 403, "user-own": 200, "user-other": 200, "admin": 200}},
		{"PUT /api/2.0/settings/webhook", func(c cell) (string, string, string) {
			return "PUT", "/api/2.0/settings/webhook", fmt.Sprintf(`{"id":%d,"name":"renamed-%d","uri":"https://example.com/renamed","enabled":true,"targetId":"cell-%[2]d"}`, c.webhookID, c.n)
		}, apiWriteOwned},
		{"PUT /api/2.0/settings/webhook/enable", func(c cell) (string, string, string) {
			return "PUT", "/api/2.0/settings/webhook/enable", fmt.Sprintf(`{"id":%d,"enabled":false}`, c.webhookID)
		}, apiWriteOwned},
		{"DELETE /api/2.0/settings/webhook/{id}", func(c cell) (string, string, string) {
			return "DELETE", "/api/2.0/settings/webhook/" + itoa(c.webhookID), ""
		}, apiWriteOwned},
		{"GET /api/2.0/settings/webhooks/log", get("/api/2.0/settings/webhooks/log"), apiRead},
		{"PUT /api/2.0/settings/webhook/{id}/retry", func(c cell) (string, string, string) {
			return "PUT", "/api/2.0/settings/webhook/" + itoa(c.deliveryID) + "/retry", ""
		}, apiWriteOwned},
		// Another user's ids are skipped silently, as DocSpace does: checked below.
		{"PUT /api/2.0/settings/webhook/retry", func(c cell) (string, string, string) {
			return "PUT", "/api/2.0/settings/webhook/retry", fmt.Sprintf(`{"ids":[%d]}`, c.deliveryID)
		}, map[string]int{"admin-read": 403, "user-read": 403, "user-own": 200, "user-other": 200, "admin": 200}},
		{"GET /api/2.0/settings/webhook/triggers", get("/api/2.0/settings/webhook/triggers"), apiRead},
		{"POST /api/2.0/webhooks/events", func(c cell) (string, string, string) {
			return "POST", "/api/2.0/webhooks/events", fmt.Sprintf(`{"trigger":"file.created","payload":{"id":1},"targetId":"cell-%d"}`, c.n)
		}, map[string]int{"admin-read": 403, "user-read": 403, "user-own": 403, "user-other": 403, "admin": 202}},
		{"POST /api/2.0/webhooks/events/batch", func(c cell) (string, string, string) {
			return "POST", "/api/2.0/webhooks/events/batch", fmt.Sprintf(`{"events":[{"trigger":"file.created","payload":{"id":1},"targetId":"cell-%d"}]}`, c.n)
		}, map[string]int{"admin-read": 403, "user-read": 403, "user-own": 403, "user-other": 403, "admin": 202}},
		{"GET /api/2.0/webhooks/deliveries/{id}/attempts", func(c cell) (string, string, string) {
			return "GET", "/api/2.0/webhooks/deliveries/" + itoa(c.deliveryID) + "/attempts", ""
		}, map[string]int{"admin-read": 200, "user-read": 200, "user-own": 200, "user-other": 403, "admin": 200}},
		{"PUT /api/2.0/webhooks/{id}/secret", func(c cell) (string, string, string) {
			return "PUT", "/api/2.0/webhooks/" + itoa(c.webhookID) + "/secret", `{"secretKey":"n3w-secret-key","overlap":"1h"}`
		}, apiWriteOwned},
		{"POST /api/2.0/webhooks/{id}/pause", func(c cell) (string, string, string) {
			return "POST", "/api/2.0/webhooks/" + itoa(c.webhookID) + "/pause", ""
		}, apiWriteOwned},
		{"POST /api/2.0/webhooks/{id}/resume", func(c cell) (string, string, string) {
			return "POST", "/api/2.0/webhooks/" + itoa(c.webhookID) + "/resume", ""
		}, apiWriteOwned},
		// Another user's deliveries are left out of a replay, as of the log: checked below.
		{"POST /api/2.0/webhooks/replays", func(c cell) (string, string, string) {
			return "POST", "/api/2.0/webhooks/replays", fmt.Sprintf(`{"configId":%d}`, c.webhookID)
		}, map[string]int{"admin-read": 403, "user-read": 403, "user-own": 202, "user-other": 202, "admin": 202}},
		{"GET /api/2.0/webhooks/replays", get("/api/2.0/webhooks/replays"), apiRead},
		{"GET /api/2.0/webhooks/replays/{id}", func(c cell) (string, string, string) {
			return "GET", "/api/2.0/webhooks/replays/" + itoa(c.replayID), ""
		}, apiReadOwned},
		{"GET /api/2.0/webhooks/replays/{id}/items", func(c cell) (string, string, string) {
			return "GET", "/api/2.0/webhooks/replays/" + itoa(c.replayID) + "/items", ""
		}, apiReadOwned},
		{"POST /api/2.0/webhooks/replays/{id}/cancel", func(c cell) (string, string, string) {
			return "POST", "/api/2.0/webhooks/replays/" + itoa(c.replayID) + "/cancel", ""
		}, apiWriteOwned},
		{"DELETE /api/2.0/webhooks/replays/{id}", func(c cell) (string, string, string) {
			return "DELETE", "/api/2.0/webhooks/replays/" + itoa(c.replayID), ""
		}, apiWriteOwned},
		{"GET /healthz", get("/healthz"), public},
		{"GET /readyz", get("/readyz"), public},
		{"GET /api/2.0/openapi.json", get("/api/2.0/openapi.json"), public},
	}
}

func get(path string) func(cell) (string, string, string) {
	return func(cell) (string, string, string) { return "GET", path, "" }
}

// TestAuthorizationMatrix runs every route as every kind of caller, each on a webhook and
// delivery of its own making, and checks the status: anonymous, revoked and expired keys get
// 401 on every /api route, read keys 403 on writes, users 403 on other users' webhooks and
// deliveries, admins everything.
func TestAuthorizationMatrix(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	revoked := f.newKey(hookd.RoleAdmin, hookd.ScopeWrite, "", nil)
	if err := f.store.KeyRevoke(f.ctx, revoked.key.ID); err != nil {
		t.Fatal(err)
	}
	past := f.clock.Now().Add(-time.Minute)
	expired := f.newKey(hookd.RoleAdmin, hookd.ScopeWrite, "", &past)
	keys := map[string]*caller{
		"anonymous": nil, "revoked": &revoked, "expired": &expired, "admin-read": &f.adminRead,
		"user-read": &f.userRead, "user-own": &f.user, "user-other": &f.user, "admin": &f.admin,
	}

	routes := matrixRoutes()
	covered := map[string]bool{}
	n := 0
	for _, rt := range routes {
		covered[rt.pattern] = true
		for _, who := range matrixCallers {
			n++
			owner := f.user.key.UserID
			if who == "user-other" {
				owner = f.user2.key.UserID
			}
			c := f.newCell(n, owner)
			method, path, body := rt.request(c)
			want, ok := rt.want[who]
			if !ok {
				want = http.StatusUnauthorized // every /api route needs a valid key
			}
			a := f.do(keys[who], method, path, body)
			if a.status != want {
				t.Errorf("%s as %s: got %d, want %d; body: %.200s", rt.pattern, who, a.status, want, a.raw)
				continue
			}
			if want >= 400 {
				a.fails(t, want, "")
			}
			if rt.pattern == "PUT /api/2.0/settings/webhook/retry" && who == "user-other" {
				var rows []json.RawMessage
				a.ok(t, 200, &rows)
				if len(rows) != 0 {
					t.Errorf("batch retry of another user's delivery: got %d new rows, want it skipped", len(rows))
				}
			}
			if rt.pattern == "POST /api/2.0/webhooks/replays" && who == "user-other" {
				var job struct{ Total int64 }
				a.ok(t, 202, &job)
				if job.Total != 0 {
					t.Errorf("replay of another user's webhook: got %d items, want it left out", job.Total)
				}
			}
			f.checkUntouched(t, rt.pattern, who, want, c)
		}
	}

	var missing []string
	for _, p := range registeredRoutes(t) {
		if !covered[p] {
			missing = append(missing, p)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("routes without a row in the authorization matrix: %v", missing)
	}
}

// newCell stores a webhook of owner with one delivery, both reachable by the cell's number.
// Every webhook of the matrix has a target id, so that each event reaches one webhook only.
func (f *fixture) newCell(n int, owner string) cell {
	f.t.Helper()
	target := fmt.Sprintf("cell-%d", n)
	w, err := f.store.WebhookCreate(f.ctx, &hookd.Webhook{
		Name: target, URI: "https://example.com/" + target, Secret: "s3cret-key", Enabled: true,
		TargetID: target, CreatedBy: owner,
	})
	if err != nil {
		f.t.Fatalf("create webhook: %v", err)
	}
	_, ds, err := f.store.EventPublish(f.ctx, &hookd.EventPublishParams{
		Trigger: 1 << 7, Payload: []byte(`{"id":1}`), TargetID: target, UserID: owner,
	})
	if err != nil || len(ds) != 1 {
		f.t.Fatalf("publish: got %d deliveries, %v, want 1", len(ds), err)
	}
	job, _, err := f.store.ReplayCreate(f.ctx, &hookd.ReplayParams{
		Filter: hookd.DeliveryFilter{WebhookID: &w.ID}, Rate: 1, Window: 1, CreatedBy: owner})
	if err != nil {
		f.t.Fatalf("create replay: %v", err)
	}
	return cell{n: n, webhookID: w.ID, deliveryID: ds[0].ID, replayID: job.ID}
}

// checkUntouched checks that a refused request changed nothing of the cell.
func (f *fixture) checkUntouched(t *testing.T, pattern, who string, status int, c cell) {
	t.Helper()
	if status < 400 {
		return
	}
	w, err := f.store.WebhookGet(f.ctx, c.webhookID)
	if err != nil {
		t.Errorf("%s as %s: the refused request removed webhook %d: %v", pattern, who, c.webhookID, err)
		return
	}
	if !w.Enabled || w.Name != fmt.Sprintf("cell-%d", c.n) {
		t.Errorf("%s as %s: got webhook %q enabled=%v after a refusal, want it untouched", pattern, who, w.Name, w.Enabled)
	}
	rows, _, err := f.store.DeliveryList(f.ctx, hookd.DeliveryFilter{WebhookID: &c.webhookID})
	if err != nil || len(rows) != 1 {
		t.Errorf("%s as %s: got %d deliveries of webhook %d after a refusal (%v), want 1", pattern, who, len(rows), c.webhookID, err)
	}
}
