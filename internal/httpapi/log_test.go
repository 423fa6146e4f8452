package httpapi_test

import (
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hookd/hookd"
)

// logScenario is a fixture with two webhooks and six deliveries in every state the log shows.
type logScenario struct {
	*fixture
	hookA, hookB           webhookDTO // admin's (all events), user's (file.created|file.uploaded)
	a1, b1, a2, a3, b3, a4 int64      // deliveries, in id order
}

// newLogScenario publishes four events and records attempts:
//
//	a1 file.created   → A: 200 "ok" at 10:05           delivered
//	b1 file.created   → B: 500 "boom" at 10:05         retrying
//	a2 user.created   → A: no answer at 10:05          retrying
//	a3 file.uploaded  → A: 404 at 10:05, final         failed
//	b3 file.uploaded  → B: 302 at 10:10                retrying
//	a4 folder.created → A: never tried                 pending
func newLogScenario(t testing.TB) *logScenario {
	t.Helper()
	s := &logScenario{fixture: newFixture(t)}
	s.hookA = s.createWebhook(&s.admin, "alpha", "https://a.example/hook", 0, "")
	s.hookB = s.createWebhook(&s.user, "beta", "https://b.example/hook", 128|256, "")
	ids := func(p publishResult) []int64 {
		var out []int64
		for _, d := range p.Deliveries {
			out = append(out, d.ID)
		}
		return out
	}
	if d := ids(s.publish(`"file.created"`, `{"id":1}`)); len(d) == 2 {
		s.a1, s.b1 = d[0], d[1]
	}
	if d := ids(s.publish(`1`, `{"id":"u-1"}`)); len(d) == 1 {
		s.a2 = d[0]
	}
	if d := ids(s.publish(`"file.uploaded"`, `{"id":2}`)); len(d) == 2 {
		s.a3, s.b3 = d[0], d[1]
	}
	if d := ids(s.publish(`32768`, `{"id":3}`)); len(d) == 1 {
		s.a4 = d[0]
	}
	if s.a1 == 0 || s.a2 == 0 || s.a3 == 0 || s.a4 == 0 || s.b1 == 0 || s.b3 == 0 {
		t.Fatalf("publishing made the wrong deliveries: %+v", s)
	}
	s.clock.Advance(5 * time.Minute)
	s.recordAttempts(map[int64]attempt{
		s.a1: {status: 200, body: "ok"},
		s.b1: {status: 500, body: "boom"},
		s.a2: {status: 0, body: "dial tcp: connection refused"},
		s.a3: {status: 404, body: "gone fishing", final: true},
	})
	s.clock.Advance(5 * time.Minute)
	s.recordAttempts(map[int64]attempt{s.b3: {status: 302, body: "elsewhere"}})
	return s
}

func TestLogFilters(t *testing.T) {
	t.Parallel()
	s := newLogScenario(t)
	all := []int64{s.a4, s.b3, s.a3, s.a2, s.b1, s.a1}
	tests := []struct {
		name  string
		query url.Values
		want  []int64
		total int64
	}{
		{"NoFilterNewestFirst", nil, all, 6},
		{"ConfigID", url.Values{"configId": {itoa(s.hookA.ID)}}, []int64{s.a4, s.a3, s.a2, s.a1}, 4},
		{"ConfigIDNameAnyCase", url.Values{"CONFIGID": {itoa(s.hookB.ID)}}, []int64{s.b3, s.b1}, 2},
		{"EventID", url.Values{"eventId": {itoa(s.a2)}}, []int64{s.a2}, 1},
		{"HookURI", url.Values{"hookUri": {"https://b.example/hook"}}, []int64{s.b3, s.b1}, 2},
		{"HookURIExactOnly", url.Values{"hookUri": {"https://b.example/"}}, []int64{}, 0},
		{"GroupStatusNotSent", url.Values{"groupStatus": {"1"}}, []int64{s.a4, s.a2}, 2},
		{"GroupStatus2xx", url.Values{"groupStatus": {"2"}}, []int64{s.a1}, 1},
		{"GroupStatus3xx", url.Values{"groupStatus": {"4"}}, []int64{s.b3}, 1},
		{"GroupStatus4xx", url.Values{"groupStatus": {"8"}}, []int64{s.a3}, 1},
		{"GroupStatus5xx", url.Values{"groupStatus": {"16"}}, []int64{s.b1}, 1},
		{"GroupStatusSum", url.Values{"GroupStatus": {"24"}}, []int64{s.a3, s.b1}, 2},
		{"GroupStatusNames", url.Values{"groupstatus": {"Status4xx,status5xx"}}, []int64{s.a3, s.b1}, 2},
		{"GroupStatusFailed", url.Values{"groupStatus": {"Failed"}}, []int64{s.b3, s.a3, s.a2, s.b1}, 4},
		{"GroupStatusNone", url.Values{"groupStatus": {"0"}}, all, 6},
		{"UserID", url.Values{"userId": {s.user.key.UserID}}, []int64{s.b3, s.b1}, 2},
		{"UserIDUpperCase", url.Values{"userId": {strings.ToUpper(s.admin.key.UserID)}}, []int64{s.a4, s.a3, s.a2, s.a1}, 4},
		{"TriggerNumber", url.Values{"trigger": {"128"}}, []int64{s.b1, s.a1}, 2},
		{"TriggerName", url.Values{"trigger": {"file.uploaded"}}, []int64{s.b3, s.a3}, 2},
		{"TriggerMemberName", url.Values{"trigger": {"UserCreated"}}, []int64{s.a2}, 1},
		{"TriggerZeroIsAll", url.Values{"trigger": {"0"}}, all, 6},
		{"DeliveryFromRFC3339", url.Values{"deliveryFrom": {"2026-06-30T10:07:00Z"}}, []int64{s.b3}, 1},
		{"DeliveryToNaive", url.Values{"deliveryTo": {"2026-06-30T10:07:00"}}, []int64{s.a3, s.a2, s.b1, s.a1}, 4},
		{"DeliveryToNaiveFraction", url.Values{"deliveryTo": {"2026-06-30T10:07:00.250"}}, []int64{s.a3, s.a2, s.b1, s.a1}, 4},
		{"DeliveryFromDate", url.Values{"deliveryFrom": {"2026-06-30"}}, []int64{s.b3, s.a3, s.a2, s.b1, s.a1}, 5},
		{"DeliveryToOffset", url.Values{"deliveryTo": {"2026-06-30T10:07:00+02:00"}}, []int64{}, 0},
		{"DeliveryWindow", url.Values{"deliveryFrom": {"2026-06-30T10:04:00Z"}, "deliveryTo": {"2026-06-30T10:06:00Z"}, "groupStatus": {"Failed"}}, []int64{s.a3, s.a2, s.b1}, 3},
		{"Combined", url.Values{"configId": {itoa(s.hookA.ID)}, "groupStatus": {"Failed"}}, []int64{s.a3, s.a2}, 2},
		{"Count", url.Values{"count": {"2"}}, []int64{s.a4, s.b3}, 6},
		{"StartIndex", url.Values{"count": {"2"}, "startIndex": {"2"}}, []int64{s.a3, s.a2}, 6},
		{"StartIndexPastEnd", url.Values{"startIndex": {"6"}}, []int64{}, 6},
		{"MaxID", url.Values{"maxId": {itoa(s.a3)}}, []int64{s.a3, s.a2, s.b1, s.a1}, 4},
		{"EmptyValuesIgnored", url.Values{"configId": {""}, "trigger": {""}, "count": {""}}, all, 6},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			q := ""
			if tt.query != nil {
				q = "?" + tt.query.Encode()
			}
			got, total := s.logIDs(&s.admin, q)
			if !slices.Equal(got, tt.want) || total != tt.total {
				t.Errorf("log%s: got %v total %d, want %v total %d", q, got, total, tt.want, tt.total)
			}
		})
	}
}

func TestLogPagingIsStableWithMaxID(t *testing.T) {
	t.Parallel()
	s := newLogScenario(t)
	first, total := s.logIDs(&s.admin, "?count=4")
	if total != 6 || len(first) != 4 {
		t.Fatalf("got %v total %d, want 4 of 6", first, total)
	}
	// New rows arrive between pages; maxId keeps the second page where it was.
	s.publish(`128`, `{"id":9}`)
	second, total := s.logIDs(&s.admin, fmt.Sprintf("?count=4&startIndex=4&maxId=%d", first[0]))
	if want := []int64{s.b1, s.a1}; !slices.Equal(second, want) || total != 6 {
		t.Errorf("got second page %v total %d, want %v total 6", second, total, want)
	}
	unpinned, total := s.logIDs(&s.admin, "?count=4&startIndex=4")
	if total != 8 || len(unpinned) != 4 {
		t.Errorf("got unpinned page %v total %d, want 4 rows of 8", unpinned, total)
	}
}

func TestLogBadQuery(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	tests := []struct{ query, param string }{
		{"count=0", "count"},
		{"count=101", "count"},
		{"count=x", "count"},
		{"startIndex=-1", "startIndex"},
		{"startIndex=one", "startIndex"},
		{"groupStatus=32", "groupStatus"},
		{"groupStatus=Not%20sent", "groupStatus"},
		{"configId=abc", "configId"},
		{"eventId=1.5", "eventId"},
		{"maxId=last", "maxId"},
		{"trigger=384", "trigger"},
		{"trigger=nope", "trigger"},
		{"deliveryFrom=yesterday", "deliveryFrom"},
		{"deliveryTo=2026-13-01", "deliveryTo"},
		{"userId=not-a-uuid", "userId"},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			t.Parallel()
			f.do(&f.admin, "GET", "/api/2.0/settings/webhooks/log?"+tt.query, "").fails(t, 400, tt.param)
		})
	}
}

func TestLogRows(t *testing.T) {
	t.Parallel()
	s := newLogScenario(t)
	var rows []logRow
	s.do(&s.admin, "GET", "/api/2.0/settings/webhooks/log", "").ok(t, 200, &rows)
	byID := map[int64]logRow{}
	for _, r := range rows {
		byID[r.ID] = r
	}

	t.Run("NeverTried", func(t *testing.T) {
		t.Parallel()
		r := byID[s.a4]
		if r.Status != 0 || r.State != "pending" || r.Attempts != 0 || r.Delivery != nil || r.RequestHeaders != nil ||
			r.ResponsePayload != nil || r.ResponseHeaders != nil || r.NextAttemptOn == nil {
			t.Errorf("got %+v, want a pending row without attempt fields but with nextAttemptOn", r)
		}
		if r.ConfigName != "alpha" || r.ConfigID != s.hookA.ID || r.Trigger != 32768 || r.CreationTime != "2026-06-30T10:00:00Z" {
			t.Errorf("got %+v, want alpha's folder.created row created at 10:00Z", r)
		}
		var body hookd.Body
		if err := json.Unmarshal([]byte(r.RequestPayload), &body); err != nil {
			t.Fatalf("requestPayload is not JSON: %v: %q", err, r.RequestPayload)
		}
		if body.Event.ID != 0 || strings.Contains(r.RequestPayload, `"event":{"id"`) {
			t.Errorf("got event.id in %s, want none before the first attempt", r.RequestPayload)
		}
		if body.Event.Trigger != "folder.created" || string(body.Payload) != `{"id":3}` || body.Webhook.ID != s.hookA.ID {
			t.Errorf("got body %s, want the folder.created envelope of webhook %d", r.RequestPayload, s.hookA.ID)
		}
	})

	t.Run("Delivered", func(t *testing.T) {
		t.Parallel()
		r := byID[s.a1]
		if r.Status != 200 || r.State != "delivered" || r.Attempts != 1 || r.NextAttemptOn != nil || r.RetryOf != 0 {
			t.Errorf("got %+v, want a delivered row", r)
		}
		if r.Delivery == nil || !strings.HasPrefix(*r.Delivery, "2026-06-30T10:05:") || !strings.HasSuffix(*r.Delivery, "Z") {
			t.Errorf("got delivery %v, want 2026-06-30T10:05:..Z", r.Delivery)
		}
		if r.ResponsePayload == nil || *r.ResponsePayload != "ok" {
			t.Errorf("got responsePayload %v, want the receiver's body", r.ResponsePayload)
		}
		var reqHeaders, respHeaders map[string][]string
		if r.RequestHeaders == nil || json.Unmarshal([]byte(*r.RequestHeaders), &reqHeaders) != nil {
			t.Fatalf("got requestHeaders %v, want JSON text", r.RequestHeaders)
		}
		if sig := reqHeaders[hookd.SignatureHeader]; len(sig) != 1 || !strings.HasPrefix(sig[0], "sha256=") {
			t.Errorf("got request headers %v, want the signature header", reqHeaders)
		}
		if r.ResponseHeaders == nil || json.Unmarshal([]byte(*r.ResponseHeaders), &respHeaders) != nil || respHeaders["Content-Type"][0] != "text/plain" {
			t.Errorf("got responseHeaders %v, want JSON text of the receiver's headers", r.ResponseHeaders)
		}
		if !strings.Contains(r.RequestPayload, fmt.Sprintf(`"event":{"id":%d`, s.a1)) {
			t.Errorf("got requestPayload %s, want the body sent, with event.id %d", r.RequestPayload, s.a1)
		}
	})

	t.Run("NoAnswer", func(t *testing.T) {
		t.Parallel()
		r := byID[s.a2]
		if r.Status != 0 || r.State != "retrying" || r.ResponseHeaders != nil || r.Delivery == nil {
			t.Errorf("got %+v, want status 0, retrying, with a delivery time", r)
		}
		if r.ResponsePayload == nil || *r.ResponsePayload != "dial tcp: connection refused" {
			t.Errorf("got responsePayload %v, want the error text", r.ResponsePayload)
		}
		if r.NextAttemptOn == nil || *r.NextAttemptOn != "2026-06-30T11:05:00Z" {
			t.Errorf("got nextAttemptOn %v, want 2026-06-30T11:05:00Z", deref(r.NextAttemptOn))
		}
	})

	t.Run("ServerError", func(t *testing.T) {
		t.Parallel()
		r := byID[s.b1]
		if r.Status != 500 || r.State != "retrying" || r.ResponsePayload == nil || *r.ResponsePayload != "boom" || r.ConfigName != "beta" {
			t.Errorf("got %+v, want beta's 500 row with the receiver's body", r)
		}
	})

	t.Run("Failed", func(t *testing.T) {
		t.Parallel()
		r := byID[s.a3]
		if r.Status != 404 || r.State != "failed" || r.NextAttemptOn != nil {
			t.Errorf("got %+v, want a failed 404 row without nextAttemptOn", r)
		}
	})
}

func TestAttemptList(t *testing.T) {
	t.Parallel()
	s := newLogScenario(t)
	s.clock.Advance(time.Hour) // b1 and a2 come due again at 11:05
	s.recordAttempts(map[int64]attempt{s.b1: {status: 204}})

	type attemptRow struct {
		ID              int64
		Number          int
		StartedOn       string
		DurationMs      int64
		RequestHeaders  map[string][]string
		RequestPayload  string
		Status          int
		ResponseHeaders map[string][]string
		ResponsePayload string
		Error           string
	}
	var got []attemptRow
	s.do(&s.user, "GET", "/api/2.0/webhooks/deliveries/"+itoa(s.b1)+"/attempts", "").ok(t, 200, &got)
	if len(got) != 2 {
		t.Fatalf("got %d attempts, want 2: %+v", len(got), got)
	}
	first, second := got[0], got[1]
	if first.Number != 1 || first.Status != 500 || first.ResponsePayload != "boom" || first.Error == "" ||
		first.StartedOn != "2026-06-30T10:05:00Z" || first.DurationMs != 1500 {
		t.Errorf("got first attempt %+v, want #1: 500 boom at 10:05Z, 1500 ms, with an error", first)
	}
	if len(first.RequestHeaders[hookd.SignatureHeader]) != 1 || first.ResponseHeaders["Content-Type"][0] != "text/plain" {
		t.Errorf("got headers %v / %v, want objects", first.RequestHeaders, first.ResponseHeaders)
	}
	if !strings.Contains(first.RequestPayload, `"trigger":"file.created"`) {
		t.Errorf("got requestPayload %q, want the body sent", first.RequestPayload)
	}
	if second.Number != 2 || second.Status != 204 || second.Error != "" || second.StartedOn != "2026-06-30T11:10:00Z" {
		t.Errorf("got second attempt %+v, want #2: 204 at 11:10Z", second)
	}

	var none []attemptRow
	a := s.do(&s.admin, "GET", "/api/2.0/webhooks/deliveries/"+itoa(s.a4)+"/attempts", "").ok(t, 200, &none)
	if string(a.Response) != "[]" {
		t.Errorf("got %s, want [] for a delivery never tried", a.Response)
	}
	s.do(&s.admin, "GET", "/api/2.0/webhooks/deliveries/999999/attempts", "").fails(t, 404, hookd.MessageNotFound)
	s.do(&s.admin, "GET", "/api/2.0/webhooks/deliveries/abc/attempts", "").fails(t, 404, hookd.MessageNotFound)
}

func deref(s *string) string {
	if s == nil {
		return "<nil>"
	}
	return *s
}
