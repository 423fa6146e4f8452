package client

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// fakeServer starts an httptest server with h and returns a client of it whose waits are
// recorded instead of slept.
func fakeServer(t testing.TB, h http.HandlerFunc, opts ...Option) (*Client, *[]time.Duration) {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	c, err := New(srv.URL, "sk-test", opts...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	var mu sync.Mutex
	waits := &[]time.Duration{}
	c.sleep = func(ctx context.Context, d time.Duration) error {
		mu.Lock()
		defer mu.Unlock()
		*waits = append(*waits, d)
		return ctx.Err()
	}
	return c, waits
}

// writeEnvelope answers in the DocSpace success envelope.
func writeEnvelope(w http.ResponseWriter, status int, response any, total int64) {
	env := map[string]any{"response": response, "count": 1, "status": 0, "statusCode": status}
	if total >= 0 {
		env["total"] = total
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(env)
}

func writeError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]any{
		"error":  map[string]any{"message": msg, "type": "ItemNotFoundException", "stack": "", "hresult": 0},
		"status": 1, "statusCode": status,
	})
}

func TestDecodeCombinedMaskAbove2to31(t *testing.T) {
	t.Parallel()
	const mask = int64(1)<<35 | 1<<31 | 1<<8 | 1<<7 // folder.downloaded, agent.created, file.uploaded, file.created
	c, _ := fakeServer(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case pathWebhook:
			io.WriteString(w, `{"response":[{"configs":{"id":5,"name":"CRM","uri":"https://crm.example/hook",
				"enabled":true,"ssl":true,"triggers":`+jsonInt(mask)+`,"targetId":"42",
				"createdBy":{"id":"0b8c0000-0000-4000-8000-000000000001","displayName":"Ann","avatar":"/a.png"},
				"createdOn":"2026-06-30T13:13:11.1234567+03:00","lastSuccessOn":"2026-06-30T10:20:00"},"status":503}],
				"count":1,"links":[{"href":"x","action":"GET"}],"status":0,"statusCode":200}`)
		case pathLog:
			io.WriteString(w, `{"response":[{"id":4711,"configName":"CRM","trigger":17179869184,
				"creationTime":"2026-06-30T10:13:11Z","requestHeaders":"{\"Accept\":[\"*/*\"]}",
				"requestPayload":"{\"event\":{\"id\":4711}}","responsePayload":"ok","status":200,
				"delivery":"2026-06-30T10:13:12.5Z"}],"count":1,"total":57,"status":0,"statusCode":200}`)
		}
	})
	ctx := t.Context()
	hooks, err := c.Webhooks(ctx)
	if err != nil {
		t.Fatalf("Webhooks: %v", err)
	}
	if len(hooks) != 1 {
		t.Fatalf("got %d webhooks, want 1", len(hooks))
	}
	w := hooks[0]
	if int64(w.Triggers) != mask {
		t.Errorf("got triggers %d, want %d", w.Triggers, mask)
	}
	wantNames := []string{"file.created", "file.uploaded", "agent.created", "folder.downloaded"}
	if diff := cmp.Diff(wantNames, w.Triggers.Names()); diff != "" {
		t.Errorf("trigger names (-want +got):\n%s", diff)
	}
	if w.LastStatus != 503 || w.CreatedBy == nil || w.CreatedBy.DisplayName != "Ann" || w.TargetID != "42" {
		t.Errorf("got status %d, createdBy %+v, targetId %q", w.LastStatus, w.CreatedBy, w.TargetID)
	}
	wantCreated := time.Date(2026, 6, 30, 10, 13, 11, 123456700, time.UTC)
	if w.CreatedOn == nil || !w.CreatedOn.Equal(wantCreated) {
		t.Errorf("got createdOn %v, want %v", w.CreatedOn, wantCreated)
	}
	if w.LastSuccessOn == nil || !w.LastSuccessOn.Equal(time.Date(2026, 6, 30, 10, 20, 0, 0, time.UTC)) {
		t.Errorf("got lastSuccessOn %v, want 10:20 UTC from the offset-less form", w.LastSuccessOn)
	}

	page, err := c.Deliveries(ctx, DeliveryFilter{})
	if err != nil {
		t.Fatalf("Deliveries: %v", err)
	}
	if page.Total != 57 || len(page.Deliveries) != 1 {
		t.Fatalf("got total %d and %d rows, want 57 and 1", page.Total, len(page.Deliveries))
	}
	d := page.Deliveries[0]
	if d.Trigger != TriggerFileDownloaded || d.Trigger.String() != "file.downloaded" {
		t.Errorf("got trigger %d (%s), want file.downloaded", d.Trigger, d.Trigger)
	}
	if d.RequestHeaders != `{"Accept":["*/*"]}` || d.Delivery == nil || d.State != "" {
		t.Errorf("got headers %q, delivery %v, state %q", d.RequestHeaders, d.Delivery, d.State)
	}
}

func jsonInt(n int64) string { b, _ := json.Marshal(n); return string(b) }

func TestTriggersBothShapes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		body string
		want []TriggerInfo
	}{
		{
			name: "V36Object",
			body: `{"*":0,"user.created":1,"form.stopped":1073741824,"agent.updated":4294967296}`,
			want: []TriggerInfo{
				{"*", 0, true}, {"user.created", 1, true},
				{"form.stopped", 1 << 30, true}, {"agent.updated", 1 << 32, true},
			},
		},
		{
			name: "V37Array",
			body: `[{"name":"*","id":0,"available":true},{"name":"user.created","id":1,"available":false},
				{"name":"folder.downloaded","id":34359738368,"available":true}]`,
			want: []TriggerInfo{{"*", 0, true}, {"user.created", 1, false}, {"folder.downloaded", 1 << 35, true}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, _ := fakeServer(t, func(w http.ResponseWriter, r *http.Request) {
				io.WriteString(w, `{"response":`+tt.body+`,"count":1,"status":0,"statusCode":200}`)
			})
			got, err := c.Triggers(t.Context())
			if err != nil {
				t.Fatalf("Triggers: %v", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("triggers (-want +got):\n%s", diff)
			}
		})
	}
}

func TestErrorAnswers(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		handler    http.HandlerFunc
		wantStatus int
		wantMsg    string
	}{
		{"EnvelopeError", func(w http.ResponseWriter, r *http.Request) {
			writeError(w, 404, "The record could not be found")
		}, 404, "The record could not be found"},
		{"ValidationEnvelope", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(400)
			io.WriteString(w, `{"response":{"type":"x","title":"One or more validation errors occurred.","status":400,
				"errors":{"Count":["The field Count must be between 1 and 100."]}},"status":1,"statusCode":400}`)
		}, 400, "One or more validation errors occurred. Count: The field Count must be between 1 and 100."},
		{"EmptyUnauthorized", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(401)
		}, 401, ""},
		{"ProxyHTML", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(502)
			io.WriteString(w, "<html><body>Bad Gateway</body></html>")
		}, 502, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, _ := fakeServer(t, tt.handler, WithRetries(0))
			_, err := c.Webhooks(t.Context())
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("got error %v (%T), want *Error", err, err)
			}
			if e.StatusCode != tt.wantStatus || e.Message != tt.wantMsg {
				t.Errorf("got %d %q, want %d %q", e.StatusCode, e.Message, tt.wantStatus, tt.wantMsg)
			}
			if StatusCode(err) != tt.wantStatus {
				t.Errorf("got StatusCode %d, want %d", StatusCode(err), tt.wantStatus)
			}
		})
	}
}

func TestUnreachableIsNotAnError(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	c, err := New(url, "sk-x")
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Webhooks(t.Context())
	if err == nil || StatusCode(err) != 0 {
		t.Fatalf("got %v (status %d), want a transport error", err, StatusCode(err))
	}
	if strings.Contains(err.Error(), "sk-x") {
		t.Errorf("error %q shows the key", err)
	}
}

func TestRetries(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		call      func(context.Context, *Client) error
		answers   []int // status of each try; the last one is final
		retryHdr  string
		wantTries int
		wantErr   int // 0 = success
		wantWaits []time.Duration
	}{
		{
			name:      "GetHonoursRetryAfter",
			call:      func(ctx context.Context, c *Client) error { _, err := c.Webhooks(ctx); return err },
			answers:   []int{429, 429, 200},
			retryHdr:  "7",
			wantTries: 3, wantWaits: []time.Duration{7 * time.Second, 7 * time.Second},
		},
		{
			name:      "GetBacksOffOn5xx",
			call:      func(ctx context.Context, c *Client) error { _, err := c.Triggers(ctx); return err },
			answers:   []int{503, 500, 200},
			wantTries: 3,
		},
		{
			name:      "GetGivesUpAfterMaxRetries",
			call:      func(ctx context.Context, c *Client) error { _, err := c.Webhooks(ctx); return err },
			answers:   []int{503, 503, 503, 503},
			wantTries: 3, wantErr: 503,
		},
		{
			name:      "RetryPutRepeatsOn429",
			call:      func(ctx context.Context, c *Client) error { _, err := c.RetryBatch(ctx, []int64{1}); return err },
			answers:   []int{429, 200},
			retryHdr:  "2",
			wantTries: 2, wantWaits: []time.Duration{2 * time.Second},
		},
		{
			name:      "RetryPutNotRepeatedOn5xx",
			call:      func(ctx context.Context, c *Client) error { _, err := c.Retry(ctx, 1); return err },
			answers:   []int{503, 200},
			wantTries: 1, wantErr: 503,
		},
		{
			name: "CreateNotRepeated",
			call: func(ctx context.Context, c *Client) error {
				_, err := c.CreateWebhook(ctx, WebhookParams{Name: "a", URI: "http://x"})
				return err
			},
			answers:   []int{429, 200},
			retryHdr:  "1",
			wantTries: 1, wantErr: 429,
		},
		{
			name:      "RetryAfterTooLongGivesUp",
			call:      func(ctx context.Context, c *Client) error { _, err := c.Webhooks(ctx); return err },
			answers:   []int{429, 200},
			retryHdr:  "3600",
			wantTries: 1, wantErr: 429,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var mu sync.Mutex
			tries := 0
			c, waits := fakeServer(t, func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				status := tt.answers[min(tries, len(tt.answers)-1)]
				tries++
				mu.Unlock()
				if status != 200 {
					if tt.retryHdr != "" {
						w.Header().Set("Retry-After", tt.retryHdr)
					}
					writeError(w, status, "busy")
					return
				}
				writeEnvelope(w, 200, []any{}, -1)
			}, WithRetries(2))
			err := tt.call(t.Context(), c)
			if got := StatusCode(err); got != tt.wantErr || (tt.wantErr == 0 && err != nil) {
				t.Errorf("got error %v, want status %d", err, tt.wantErr)
			}
			if tries != tt.wantTries {
				t.Errorf("got %d tries, want %d", tries, tt.wantTries)
			}
			if tt.wantWaits != nil {
				if diff := cmp.Diff(tt.wantWaits, *waits); diff != "" {
					t.Errorf("waits (-want +got):\n%s", diff)
				}
			} else if len(*waits) != tt.wantTries-1 {
				t.Errorf("got %d waits, want %d", len(*waits), tt.wantTries-1)
			}
			for _, w := range *waits {
				if w <= 0 || w > 10*time.Second {
					t.Errorf("got wait %v, want a backoff in (0, 10s]", w)
				}
			}
		})
	}
}

func TestRequestShape(t *testing.T) {
	t.Parallel()
	type seen struct {
		method, path, query, auth string
		body                      map[string]any
	}
	var got []seen
	var mu sync.Mutex
	c, _ := fakeServer(t, func(w http.ResponseWriter, r *http.Request) {
		var body map[string]any
		json.NewDecoder(r.Body).Decode(&body)
		mu.Lock()
		got = append(got, seen{r.Method, r.URL.Path, r.URL.RawQuery, r.Header.Get("Authorization"), body})
		mu.Unlock()
		switch {
		case r.Method == http.MethodGet && r.URL.Path == pathWebhook:
			io.WriteString(w, `{"response":[{"configs":{"id":3,"name":"n","uri":"http://u","enabled":true,"ssl":false,"triggers":0},"status":0}],"status":0,"statusCode":200}`)
		case r.URL.Path == pathLog:
			writeEnvelope(w, 200, []any{}, 0)
		case r.URL.Path == pathEvents:
			writeEnvelope(w, 202, map[string]any{"eventId": 9, "trigger": "file.created", "deliveries": []any{map[string]any{"id": 11, "configId": 3}}}, -1)
		default:
			writeEnvelope(w, 200, map[string]any{"id": 3}, -1)
		}
	})
	ctx := t.Context()
	if _, err := c.SetWebhookEnabled(ctx, 3, false); err != nil {
		t.Fatalf("SetWebhookEnabled: %v", err)
	}
	res, err := c.Publish(ctx, PublishParams{Trigger: TriggerFileCreated, Payload: json.RawMessage(`{"id":1}`), TargetID: "1"})
	if err != nil {
		t.Fatalf("Publish: %v", err)
	}
	if res.EventID != 9 || res.Trigger != TriggerFileCreated || len(res.Deliveries) != 1 || res.Deliveries[0].ConfigID != 3 {
		t.Errorf("got publish result %+v", res)
	}
	from := time.Date(2026, 7, 1, 12, 0, 0, 0, time.FixedZone("X", 3600))
	if _, err := c.Deliveries(ctx, DeliveryFilter{DeliveryFrom: from, ConfigID: 3, GroupStatus: GroupStatus4xx | GroupStatus5xx, Trigger: TriggerFileCreated, Count: 50}); err != nil {
		t.Fatalf("Deliveries: %v", err)
	}
	if _, err := c.Deliveries(ctx, DeliveryFilter{GroupStatus: GroupStatusFailed | GroupStatus5xx}); err != nil {
		t.Fatalf("Deliveries: %v", err)
	}
	want := []seen{
		{"GET", pathWebhook, "", "Bearer sk-test", nil},
		{"PUT", pathWebhookEnable, "", "Bearer sk-test", map[string]any{"id": 3.0, "name": "n", "uri": "http://u", "enabled": false}},
		{"POST", pathEvents, "", "Bearer sk-test", map[string]any{"trigger": "file.created", "payload": map[string]any{"id": 1.0}, "targetId": "1"}},
		{"GET", pathLog, "configId=3&count=50&deliveryFrom=2026-07-01T11%3A00%3A00Z&groupStatus=24&trigger=128", "Bearer sk-test", nil},
		{"GET", pathLog, "groupStatus=Status5xx%2CFailed", "Bearer sk-test", nil},
	}
	if diff := cmp.Diff(want, got, cmp.AllowUnexported(seen{})); diff != "" {
		t.Errorf("requests (-want +got):\n%s", diff)
	}
}

func TestNewRejectsBadURL(t *testing.T) {
	t.Parallel()
	for _, u := range []string{"", "localhost:8080", "ftp://x", "http://"} {
		if _, err := New(u, "k"); err == nil {
			t.Errorf("New(%q): got nil error, want one", u)
		}
	}
}
