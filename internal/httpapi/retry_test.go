package httpapi_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/hookd/hookd"
)

func TestRetryOne(t *testing.T) {
	t.Parallel()
	s := newLogScenario(t)
	before := s.wakes.Load()

	var row logRow
	a := s.do(&s.admin, "PUT", "/api/2.0/settings/webhook/"+itoa(s.a3)+"/retry", "").ok(t, 200, &row)
	if *a.Count != 1 {
		t.Errorf("got count %d, want 1", *a.Count)
	}
	if row.ID <= s.a4 || row.RetryOf != s.a3 || row.ConfigID != s.hookA.ID || row.Trigger != 256 ||
		row.Status != 0 || row.State != "pending" || row.Attempts != 0 || row.Delivery != nil || row.RequestHeaders != nil {
		t.Errorf("got %+v, want a new pending row retrying %d", row, s.a3)
	}
	if !strings.Contains(row.RequestPayload, `"trigger":"file.uploaded"`) || strings.Contains(row.RequestPayload, `"event":{"id"`) {
		t.Errorf("got requestPayload %s, want the event's body without event.id", row.RequestPayload)
	}
	if got := s.wakes.Load() - before; got != 1 {
		t.Errorf("got %d wakes, want 1", got)
	}
	ids, total := s.logIDs(&s.admin, "?count=1")
	if len(ids) != 1 || ids[0] != row.ID || total != 7 {
		t.Errorf("got log head %v total %d, want the new row %d on top of 7", ids, total, row.ID)
	}
	d, err := s.store.DeliveryGet(s.ctx, row.ID)
	if err != nil {
		t.Fatalf("get new delivery: %v", err)
	}
	if d.CreatedBy != s.admin.key.UserID {
		t.Errorf("got createdBy %q, want the retrying admin %q", d.CreatedBy, s.admin.key.UserID)
	}
	old, _ := s.store.DeliveryGet(s.ctx, s.a3)
	if old.State != hookd.DeliveryStateFailed || old.Status != 404 {
		t.Errorf("got original %s/%d, want it untouched (failed/404)", old.State, old.Status)
	}

	// A user retries its own webhook's delivery, not the admin's.
	s.do(&s.user, "PUT", "/api/2.0/settings/webhook/"+itoa(s.b1)+"/retry", "").ok(t, 200, &row)
	if row.RetryOf != s.b1 || row.ConfigName != "beta" {
		t.Errorf("got %+v, want a retry of %d on beta", row, s.b1)
	}
	s.do(&s.user, "PUT", "/api/2.0/settings/webhook/"+itoa(s.a1)+"/retry", "").fails(t, 403, hookd.MessageAccessDenied)

	s.do(&s.admin, "PUT", "/api/2.0/settings/webhook/0/retry", "").fails(t, 400, "Id")
	s.do(&s.admin, "PUT", "/api/2.0/settings/webhook/abc/retry", "").fails(t, 404, hookd.MessageNotFound)
	s.do(&s.admin, "PUT", "/api/2.0/settings/webhook/999999/retry", "").fails(t, 404, hookd.MessageNotFound)
	if got := s.wakes.Load() - before; got != 2 {
		t.Errorf("got %d wakes after two retries, want 2", got)
	}
}

func TestRetryBatch(t *testing.T) {
	t.Parallel()
	s := newLogScenario(t)
	retryOf := func(rows []logRow) []int64 {
		var out []int64
		for _, r := range rows {
			out = append(out, r.RetryOf)
		}
		return out
	}

	// The UI sends "Ids"; missing and other users' ids are skipped silently.
	var rows []logRow
	before := s.wakes.Load()
	a := s.do(&s.user, "PUT", "/api/2.0/settings/webhook/retry", fmt.Sprintf(`{"Ids":[%d,%d,999999,%d]}`, s.b1, s.a1, s.b3)).ok(t, 200, &rows)
	if got, want := retryOf(rows), []int64{s.b1, s.b3}; fmt.Sprint(got) != fmt.Sprint(want) || *a.Count != 2 {
		t.Errorf("got retries of %v (count %d), want %v", got, *a.Count, want)
	}
	for _, r := range rows {
		if r.State != "pending" || r.ID <= s.a4 || r.ConfigID != s.hookB.ID {
			t.Errorf("got %+v, want a new pending row of beta", r)
		}
	}
	if s.wakes.Load() == before {
		t.Errorf("got no wake after a batch retry")
	}

	// Duplicates are retried once per occurrence; order is kept.
	s.do(&s.admin, "PUT", "/api/2.0/settings/webhook/retry", fmt.Sprintf(`{"ids":[%d,%d,%d]}`, s.a1, s.a1, s.b1)).ok(t, 200, &rows)
	if got, want := retryOf(rows), []int64{s.a1, s.a1, s.b1}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("got retries of %v, want %v", got, want)
	}

	for _, body := range []string{`{"ids":[]}`, `{}`, `{"ids":null}`} {
		a := s.do(&s.admin, "PUT", "/api/2.0/settings/webhook/retry", body).ok(t, 200, nil)
		if string(a.Response) != "[]" || *a.Count != 0 {
			t.Errorf("%s: got %s count %d, want [] and 0", body, a.Response, *a.Count)
		}
	}

	many := "[" + strings.Repeat("1,", 1000) + "1]"
	s.do(&s.admin, "PUT", "/api/2.0/settings/webhook/retry", `{"ids":`+many+`}`).fails(t, 400, "at most 1000")
	s.do(&s.admin, "PUT", "/api/2.0/settings/webhook/retry", `{"ids":["1"]}`).fails(t, 400, "ids")
	s.do(&s.admin, "PUT", "/api/2.0/settings/webhook/retry", `{"ids":`).fails(t, 400, "Malformed JSON body")
}

func TestTriggerList(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	type trigger struct {
		Name      string
		ID        int64
		Available bool
	}
	for _, tt := range []struct {
		name      string
		key       *caller
		available func(hookd.TriggerInfo) bool
	}{
		{"Admin", &f.adminRead, func(hookd.TriggerInfo) bool { return true }},
		{"User", &f.userRead, func(i hookd.TriggerInfo) bool { return i.User }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var got []trigger
			f.do(tt.key, "GET", "/api/2.0/settings/webhook/triggers", "").ok(t, 200, &got)
			if len(got) != len(hookd.Triggers) {
				t.Fatalf("got %d triggers, want %d", len(got), len(hookd.Triggers))
			}
			for i, info := range hookd.Triggers {
				want := trigger{Name: info.Name, ID: int64(info.Value), Available: tt.available(info)}
				if got[i] != want {
					t.Errorf("trigger %d: got %+v, want %+v", i, got[i], want)
				}
			}
		})
	}
}
