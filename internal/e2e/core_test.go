package e2e

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hookd/hookd/internal/server"
	"github.com/hookd/hookd/internal/servertest"
)

const secretA, secretB = "secret-of-a-123", "secret-of-b-456"

// TestCore is the end-to-end proof of the core: publish, deliver with a DocSpace signature,
// retry automatically through a 500, a hang past the timeout and a closed connection, list the
// log every way of spec §1.6, and retry by hand, singly and in a batch.
func TestCore(t *testing.T) {
	forEachBackend(t, testCore)
}

func testCore(t *testing.T, db string) {
	env := servertest.Start(t, func(c *server.Config) {
		c.DB = db
		c.AttemptTimeout = 300 * time.Millisecond
	})
	api := &apiClient{t: t, url: env.URL, key: env.AdminKey}

	good := newReceiver(t, nil)
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	flaky := newReceiver(t, func(n int, w http.ResponseWriter, r *http.Request) {
		switch n {
		case 1:
			http.Error(w, "boom", http.StatusInternalServerError)
		case 2:
			select { // hang past the attempt timeout
			case <-release:
			case <-time.After(5 * time.Second):
			}
		case 3:
			conn, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				conn.Close()
			}
		default:
			w.Header().Set("X-Receiver", "flaky")
			fmt.Fprint(w, `{"ok":true}`)
		}
	})

	everything := newReceiver(t, nil)

	var a, b, c webhookDTO
	api.ok(200, "POST", "/api/2.0/settings/webhook", map[string]any{
		"name": "A", "uri": good.URL, "secretKey": secretA, "enabled": true, "triggers": 128 | 256,
	}, &a)
	api.ok(200, "POST", "/api/2.0/settings/webhook", map[string]any{
		"Name": "B", "URI": flaky.URL, "SecretKey": secretB, "Enabled": true, "SSL": false, "Triggers": 128, // keys in any case
	}, &b)
	api.ok(200, "POST", "/api/2.0/settings/webhook", map[string]any{
		"name": "C", "uri": everything.URL, "secretKey": "secret-of-c-789", "enabled": true,
	}, &c)
	if a.Triggers != 384 || !a.Enabled || b.Triggers != 128 || b.Name != "B" || c.Triggers != 0 {
		t.Fatalf("created webhooks: got %+v, %+v and %+v", a, b, c)
	}

	// Publish: file.created reaches A, B and C; room.created (4194304) only C (mask 0 = all).
	type pubDelivery struct{ ID, ConfigID int64 }
	var pub1 struct {
		EventID    int64         `json:"eventId"`
		Deliveries []pubDelivery `json:"deliveries"`
	}
	api.ok(202, "POST", "/api/2.0/webhooks/events", map[string]any{
		"trigger": "file.created", "payload": map[string]any{"id": 42, "title": "Report.docx"},
	}, &pub1)
	if len(pub1.Deliveries) != 3 {
		t.Fatalf("publish file.created: got %d deliveries, want 3", len(pub1.Deliveries))
	}
	var pub2 struct {
		Deliveries []pubDelivery `json:"deliveries"`
	}
	api.ok(202, "POST", "/api/2.0/webhooks/events", map[string]any{"trigger": 4194304, "payload": map[string]any{"id": 7}}, &pub2)
	if len(pub2.Deliveries) != 1 || pub2.Deliveries[0].ConfigID != c.ID {
		t.Fatalf("publish room.created: got %+v, want one delivery to webhook %d", pub2.Deliveries, c.ID)
	}

	servertest.Eventually(t, 10*time.Second, "receivers get their deliveries, flaky one 4 attempts", func() bool {
		return len(good.Hits()) == 1 && len(flaky.Hits()) >= 4 && len(everything.Hits()) == 2
	})

	// The body and signature, checked by independent code.
	h := good.Hits()[0]
	if err := verifySignature(secretA, h.Body, h.Signature); err != nil {
		t.Fatalf("good receiver: %v", err)
	}
	var body struct {
		Event struct {
			ID        int64  `json:"id"`
			CreateOn  string `json:"createOn"`
			Trigger   string `json:"trigger"`
			TriggerID int64  `json:"triggerId"`
		} `json:"event"`
		Payload json.RawMessage `json:"payload"`
		Webhook struct {
			ID       int64    `json:"id"`
			Name     string   `json:"name"`
			URL      string   `json:"url"`
			Triggers []string `json:"triggers"`
		} `json:"webhook"`
	}
	if err := json.Unmarshal(h.Body, &body); err != nil {
		t.Fatalf("body is not JSON: %v", err)
	}
	var aDelivery pubDelivery
	for _, d := range pub1.Deliveries {
		if d.ConfigID == a.ID {
			aDelivery = d
		}
	}
	if body.Event.ID != aDelivery.ID || body.Event.Trigger != "file.created" || body.Event.TriggerID != 128 ||
		body.Webhook.ID != a.ID || body.Webhook.Name != "A" || body.Webhook.URL != good.URL ||
		!slices.Equal(body.Webhook.Triggers, []string{"file.created", "file.uploaded"}) ||
		string(body.Payload) != `{"id":42,"title":"Report.docx"}` {
		t.Errorf("body: got %s", h.Body)
	}
	if _, err := time.Parse(time.RFC3339, body.Event.CreateOn); err != nil || !strings.HasSuffix(body.Event.CreateOn, "Z") {
		t.Errorf("event.createOn %q is not RFC 3339 UTC", body.Event.CreateOn)
	}
	if got := h.Header.Get("Content-Type"); !strings.HasPrefix(got, "application/json") {
		t.Errorf("Content-Type: got %q, want application/json", got)
	}
	for i, fh := range flaky.Hits() {
		if err := verifySignature(secretB, fh.Body, fh.Signature); err != nil {
			t.Errorf("flaky receiver hit %d: %v", i+1, err)
		}
	}

	// Automatic retries are visible in the attempt history of the flaky delivery.
	var flakyLogs []logDTO
	api.ok(200, "GET", fmt.Sprintf("/api/2.0/settings/webhooks/log?configId=%d", b.ID), nil, &flakyLogs)
	if len(flakyLogs) != 1 {
		t.Fatalf("log of B for file.created: got %d rows, want 1", len(flakyLogs))
	}
	servertest.Eventually(t, 10*time.Second, "flaky delivery delivered", func() bool {
		var rows []logDTO
		api.ok(200, "GET", fmt.Sprintf("/api/2.0/settings/webhooks/log?eventId=%d", flakyLogs[0].ID), nil, &rows)
		return len(rows) == 1 && rows[0].State == "delivered"
	})
	var attempts []struct {
		Number int    `json:"number"`
		Status int    `json:"status"`
		Error  string `json:"error"`
	}
	api.ok(200, "GET", fmt.Sprintf("/api/2.0/webhooks/deliveries/%d/attempts", flakyLogs[0].ID), nil, &attempts)
	var statuses []int
	for _, at := range attempts {
		statuses = append(statuses, at.Status)
	}
	if len(attempts) != 4 || !slices.Equal(statuses, []int{500, 0, 0, 200}) {
		t.Fatalf("attempts of the flaky delivery: got statuses %v, want [500 0 0 200] (%+v)", statuses, attempts)
	}
	if attempts[1].Error == "" || attempts[2].Error == "" {
		t.Errorf("attempts without an answer must say why: %+v", attempts)
	}

	testLogFilters(t, api, a, b, c, good.URL)
	testManualRetry(t, api, a, good)
}

// testLogFilters checks every filter of spec §1.6 and the total beside the page.
func testLogFilters(t *testing.T, api *apiClient, a, b, c webhookDTO, goodURL string) {
	// A fresh webhook that never answers: its delivery ends failed with status 0.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	deadURL := "http://" + ln.Addr().String()
	ln.Close() // nothing listens there now: connection refused
	var dead webhookDTO
	api.ok(200, "POST", "/api/2.0/settings/webhook", map[string]any{"name": "dead", "uri": deadURL, "secretKey": "dead-secret-1", "enabled": true, "triggers": 512}, &dead)
	api.ok(202, "POST", "/api/2.0/webhooks/events", map[string]any{"trigger": "file.updated", "payload": map[string]any{"id": 1}}, nil)
	// Rows: file.created to A, B, C; room.created to C; file.updated to dead and C.
	var all []logDTO
	var env envelope
	servertest.Eventually(t, 10*time.Second, "all 6 deliveries settle (delivered, or failed for dead)", func() bool {
		env = api.ok(200, "GET", "/api/2.0/settings/webhooks/log", nil, &all)
		for _, r := range all {
			if r.State != "delivered" && r.State != "failed" {
				return false
			}
		}
		return len(all) == 6
	})
	if env.Total == nil || *env.Total != 6 {
		t.Fatalf("unfiltered log: got total %v, want 6", env.Total)
	}
	for i := 1; i < len(all); i++ {
		if all[i-1].ID <= all[i].ID {
			t.Fatalf("log not newest first: %d before %d", all[i-1].ID, all[i].ID)
		}
	}
	if len(env.Links) != 1 || env.Links[0].Action != "GET" || !strings.HasSuffix(env.Links[0].Href, "/api/2.0/settings/webhooks/log") {
		t.Errorf("links: got %+v", env.Links)
	}
	if env.Count == nil || *env.Count != 6 {
		t.Errorf("count: got %v, want 6", env.Count)
	}
	byConfig := map[int64][]logDTO{}
	for _, r := range all {
		byConfig[r.ConfigID] = append(byConfig[r.ConfigID], r)
	}
	deadRow := byConfig[dead.ID][0]
	if deadRow.Status != 0 || deadRow.Delivery == nil || deadRow.ResponsePayload == "" {
		t.Errorf("failed delivery without answer: got status %d, delivery %v, responsePayload %q; want 0, a time, the error", deadRow.Status, deadRow.Delivery, deadRow.ResponsePayload)
	}
	aRow := byConfig[a.ID][0]
	if aRow.ConfigName != "A" || aRow.Trigger != 128 || aRow.Status != 200 || aRow.Delivery == nil || aRow.RequestHeaders == "" || !strings.Contains(aRow.RequestPayload, `"Report.docx"`) {
		t.Errorf("delivered row: got %+v", aRow)
	}

	now := time.Now().UTC()
	q := func(v url.Values) string { return "/api/2.0/settings/webhooks/log?" + v.Encode() }
	cases := []struct {
		name  string
		query url.Values
		want  int
	}{
		{"ConfigID", url.Values{"configId": {fmt.Sprint(c.ID)}}, 3},
		{"ConfigIDCaseInsensitiveName", url.Values{"CONFIGID": {fmt.Sprint(b.ID)}}, 1},
		{"EventID", url.Values{"eventId": {fmt.Sprint(aRow.ID)}}, 1},
		{"HookURI", url.Values{"hookUri": {goodURL}}, 1},
		{"TriggerNumber", url.Values{"trigger": {"128"}}, 3},
		{"TriggerName", url.Values{"trigger": {"room.created"}}, 1},
		{"TriggerAllIsNoFilter", url.Values{"trigger": {"0"}}, 6},
		{"GroupStatus2xxNumber", url.Values{"groupStatus": {"2"}}, 5},
		{"GroupStatusNotSentName", url.Values{"groupStatus": {"notsent"}}, 1},
		{"GroupStatusList", url.Values{"groupStatus": {"NotSent,Status2xx"}}, 6},
		{"GroupStatus5xx", url.Values{"groupStatus": {"16"}}, 0},
		{"GroupStatusFailed", url.Values{"groupStatus": {"Failed"}}, 1},
		{"GroupStatusNoneIsNoFilter", url.Values{"groupStatus": {"0"}}, 6},
		{"DeliveryFromPast", url.Values{"deliveryFrom": {now.Add(-time.Hour).Format(time.RFC3339)}}, 6},
		{"DeliveryFromFuture", url.Values{"deliveryFrom": {now.Add(time.Hour).Format(time.RFC3339)}}, 0},
		{"DeliveryToNaiveLocalForm", url.Values{"deliveryTo": {now.Add(time.Hour).Format("2006-01-02T15:04:05")}}, 6},
		{"DeliveryToPast", url.Values{"deliveryTo": {now.Add(-time.Hour).Format(time.RFC3339)}}, 0},
		{"Combined", url.Values{"configId": {fmt.Sprint(b.ID)}, "trigger": {"128"}, "groupStatus": {"Status2xx"}}, 1},
		{"CombinedNoMatch", url.Values{"configId": {fmt.Sprint(a.ID)}, "trigger": {"room.created"}}, 0},
	}
	for _, tc := range cases {
		t.Run("Filter"+tc.name, func(t *testing.T) {
			var rows []logDTO
			env := api.ok(200, "GET", q(tc.query), nil, &rows)
			if len(rows) != tc.want || env.Total == nil || *env.Total != int64(tc.want) {
				t.Errorf("%s: got %d rows, total %v; want %d", tc.query.Encode(), len(rows), env.Total, tc.want)
			}
		})
	}

	t.Run("Paging", func(t *testing.T) {
		var page []logDTO
		env := api.ok(200, "GET", q(url.Values{"count": {"3"}, "startIndex": {"4"}}), nil, &page)
		if len(page) != 2 || *env.Total != 6 || page[0].ID != all[4].ID {
			t.Fatalf("count=3&startIndex=4: got %d rows, total %d; want 2 rows from id %d, total 6", len(page), *env.Total, all[4].ID)
		}
	})

	t.Run("UserIDOfAnotherUserFindsNothing", func(t *testing.T) {
		var rows []logDTO
		env := api.ok(200, "GET", q(url.Values{"userId": {"11111111-2222-4333-8444-555555555555"}}), nil, &rows)
		if len(rows) != 0 || *env.Total != 0 {
			t.Errorf("userId of nobody: got %d rows, total %d; want 0", len(rows), *env.Total)
		}
	})
}

// testManualRetry retries one delivery and then a batch, and checks the new rows are delivered.
func testManualRetry(t *testing.T, api *apiClient, a webhookDTO, good *receiver) {
	var rows []logDTO
	api.ok(200, "GET", fmt.Sprintf("/api/2.0/settings/webhooks/log?configId=%d", a.ID), nil, &rows)
	orig := rows[0]
	before := len(good.Hits())

	var single logDTO
	api.ok(200, "PUT", fmt.Sprintf("/api/2.0/settings/webhook/%d/retry", orig.ID), nil, &single)
	if single.ID <= orig.ID || single.Status != 0 || single.RetryOf != orig.ID || single.Trigger != orig.Trigger {
		t.Fatalf("single retry: got %+v, want a new row retrying %d", single, orig.ID)
	}
	var batch []logDTO
	api.ok(200, "PUT", "/api/2.0/settings/webhook/retry", map[string]any{"Ids": []int64{orig.ID, 999999, single.ID}}, &batch)
	if len(batch) != 2 || batch[0].RetryOf != orig.ID || batch[1].RetryOf != single.ID {
		t.Fatalf("batch retry skipping an unknown id: got %+v", batch)
	}

	servertest.Eventually(t, 10*time.Second, "the 3 retries reach the receiver", func() bool {
		return len(good.Hits()) == before+3
	})
	seen := map[int64]bool{}
	for _, h := range good.Hits()[before:] {
		if err := verifySignature(secretA, h.Body, h.Signature); err != nil {
			t.Errorf("retried delivery: %v", err)
		}
		var b struct {
			Event struct{ ID int64 } `json:"event"`
		}
		json.Unmarshal(h.Body, &b)
		seen[b.Event.ID] = true
	}
	for _, id := range []int64{single.ID, batch[0].ID, batch[1].ID} {
		if !seen[id] {
			t.Errorf("receiver never got event.id %d (the new delivery's id); got %v", id, seen)
		}
	}
	var after []logDTO
	api.ok(200, "GET", fmt.Sprintf("/api/2.0/settings/webhooks/log?configId=%d&count=2", a.ID), nil, &after)
	if after[0].ID != batch[1].ID {
		t.Errorf("newest row: got %d, want the last retry %d", after[0].ID, batch[1].ID)
	}
}
