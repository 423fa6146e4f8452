package httpapi_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/hookd/hookd"
)

// replayJob mirrors the API's replay DTO.
type replayJob struct {
	ID             int64
	State          string
	Filter         map[string]any
	ExcludeRetried bool
	Rate, Window   int
	IdempotencyKey string
	CreatedBy      string
	Total          int64
	Processed      int64
	Pending        int64
	Retried        int64
	Skipped        int64
	Failed         int64
	Cancelled      int64
}

// replayPreview mirrors a dry run's answer.
type replayPreview struct {
	DryRun                   bool
	Total, Skipped, ToReplay int64
	MaxID                    int64
	Sample                   []logRow
}

// replayFixture has two webhooks, the user's and the admin's, and n failed deliveries each.
type replayFixture struct {
	*fixture
	mine, admins webhookDTO
}

func newReplayFixture(t *testing.T, n int) *replayFixture {
	t.Helper()
	f := &replayFixture{fixture: newFixture(t)}
	f.mine = f.createWebhook(&f.user, "mine", "https://user.example/hook", 0, "")
	f.admins = f.createWebhook(&f.admin, "admins", "https://admin.example/hook", 0, "")
	want := map[int64]attempt{}
	for i := range n {
		p := f.publish(`"file.created"`, fmt.Sprintf(`{"n":%d}`, i))
		for _, d := range p.Deliveries {
			want[d.ID] = attempt{status: 500, body: "down", final: true}
		}
	}
	f.recordAttempts(want)
	return f
}

// deliveryCount is the number of deliveries in the store.
func (f *replayFixture) deliveryCount() int64 {
	f.t.Helper()
	_, total, err := f.store.DeliveryList(f.ctx, hookd.DeliveryFilter{})
	if err != nil {
		f.t.Fatalf("DeliveryList: %v", err)
	}
	return total
}

func TestReplayDryRunCountsWithoutCreating(t *testing.T) {
	t.Parallel()
	f := newReplayFixture(t, 3)
	before := f.deliveryCount()
	var pv replayPreview
	f.do(&f.user, "POST", "/api/2.0/webhooks/replays", `{"groupStatus":"Failed","dryRun":true,"sample":2}`).ok(t, 200, &pv)
	if !pv.DryRun || pv.Total != 3 || pv.ToReplay != 3 || len(pv.Sample) != 2 || pv.MaxID != before {
		t.Fatalf("got preview %+v, want the user's 3 failures, 2 shown, maxId %d", pv, before)
	}
	for _, row := range pv.Sample {
		if row.ConfigID != f.mine.ID || row.Status != 500 {
			t.Errorf("sample row %+v: want a failed delivery of the user's webhook %d", row, f.mine.ID)
		}
	}
	if pv.Sample[0].ID >= pv.Sample[1].ID {
		t.Errorf("sample ids %d, %d: want oldest first", pv.Sample[0].ID, pv.Sample[1].ID)
	}
	// The admin sees both webhooks' failures; a filter narrows them.
	f.do(&f.admin, "POST", "/api/2.0/webhooks/replays", `{"groupStatus":"Failed","dryRun":true}`).ok(t, 200, &pv)
	if pv.Total != 6 || len(pv.Sample) != 6 {
		t.Errorf("admin dry run: got %d (%d shown), want 6", pv.Total, len(pv.Sample))
	}
	f.do(&f.admin, "POST", "/api/2.0/webhooks/replays", fmt.Sprintf(`{"CONFIGID":"%d","dryrun":true,"trigger":"file.created"}`, f.admins.ID)).ok(t, 200, &pv)
	if pv.Total != 3 {
		t.Errorf("admin dry run on one webhook: got %d, want 3", pv.Total)
	}
	if after := f.deliveryCount(); after != before {
		t.Errorf("dry runs made deliveries: %d before, %d after", before, after)
	}
	var jobs []replayJob
	if a := f.do(&f.admin, "GET", "/api/2.0/webhooks/replays", "").ok(t, 200, &jobs); len(jobs) != 0 || *a.Total != 0 {
		t.Errorf("dry runs made %d jobs, want none", len(jobs))
	}
}

func TestReplayCreateIsIdempotent(t *testing.T) {
	t.Parallel()
	f := newReplayFixture(t, 2)
	body := `{"groupStatus":"Failed","rate":5,"excludeRetried":true}`
	req := func(key, body string) *answer {
		r, err := http.NewRequestWithContext(f.ctx, "POST", f.srv.URL+"/api/2.0/webhooks/replays", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		r.Header.Set("Authorization", "Bearer "+f.admin.token)
		if key != "" {
			r.Header.Set("Idempotency-Key", key)
		}
		return f.send(r)
	}
	var job replayJob
	a := req("k-1", body).ok(t, 202, &job)
	if job.State != "queued" || job.Total != 4 || job.Pending != 4 || job.Rate != 5 || job.Window != hookd.DefaultReplayWindow(5) ||
		!job.ExcludeRetried || job.IdempotencyKey != "k-1" || job.CreatedBy != f.admin.key.UserID {
		t.Fatalf("got job %+v, want queued with 4 items, rate 5, the key and the admin as creator", job)
	}
	if job.Filter["groupStatus"] != "Failed" || job.Filter["maxId"] != float64(f.deliveryCount()) {
		t.Errorf("got filter %v, want groupStatus Failed pinned at the last delivery", job.Filter)
	}
	if loc := a.header.Get("Location"); loc != "/api/2.0/webhooks/replays/"+itoa(job.ID) {
		t.Errorf("got Location %q", loc)
	}
	// A retried request, even after new failures, returns the same job.
	f.publish(`"file.created"`, `{"late":true}`)
	var again replayJob
	req("k-1", body).ok(t, 200, &again)
	if again.ID != job.ID || again.Total != 4 {
		t.Errorf("same key: got job %d with %d items, want job %d with 4", again.ID, again.Total, job.ID)
	}
	// The key may come in the body as well, if it agrees with the header.
	req("k-1", `{"groupStatus":"Failed","rate":5,"excludeRetried":true,"idempotencyKey":"k-1"}`).ok(t, 200, &again)
	req("k-1", `{"groupStatus":"Failed","idempotencyKey":"k-2"}`).fails(t, 400, "differ")
	// The same key for another request is a mistake, not a new job.
	msg := req("k-1", `{"groupStatus":"Failed","rate":6,"excludeRetried":true}`).fails(t, 400, "other parameters")
	if !strings.Contains(msg, itoa(job.ID)) {
		t.Errorf("got %q, want the job named", msg)
	}
	// Another user's same key is that user's own job.
	var theirs replayJob
	f.do(&f.user, "POST", "/api/2.0/webhooks/replays", `{"groupStatus":"Failed","idempotencyKey":"k-1"}`).ok(t, 202, &theirs)
	if theirs.ID == job.ID || theirs.Total != 2 {
		t.Errorf("user's job: got %d with %d items, want a new job over the user's 2 failures", theirs.ID, theirs.Total)
	}
	var jobs []replayJob
	a = f.do(&f.admin, "GET", "/api/2.0/webhooks/replays", "").ok(t, 200, &jobs)
	if *a.Total != 2 || len(jobs) != 2 || jobs[0].ID != theirs.ID {
		t.Errorf("got %d jobs (total %d), want 2, newest first", len(jobs), *a.Total)
	}
}

func TestReplayVisibility(t *testing.T) {
	t.Parallel()
	f := newReplayFixture(t, 1)
	var job replayJob
	f.do(&f.user, "POST", "/api/2.0/webhooks/replays", `{"configId":`+itoa(f.admins.ID)+`}`).ok(t, 202, &job)
	if job.Total != 0 || job.State != "done" {
		t.Errorf("user's job over the admin's webhook: got %d items (%s), want none, done", job.Total, job.State)
	}
	f.do(&f.user, "POST", "/api/2.0/webhooks/replays", `{}`).ok(t, 202, &job)
	if job.Total != 1 {
		t.Fatalf("user's job: got %d items, want its one delivery", job.Total)
	}
	path := "/api/2.0/webhooks/replays/" + itoa(job.ID)
	for _, tc := range []struct {
		who    *caller
		method string
		path   string
		want   int
	}{
		{&f.user2, "GET", path, 403},
		{&f.user2, "GET", path + "/items", 403},
		{&f.user2, "POST", path + "/cancel", 403},
		{&f.userRead, "GET", path, 200},
		{&f.userRead, "GET", path + "/items", 200},
		{&f.userRead, "POST", path + "/cancel", 403},
		{&f.userRead, "DELETE", path, 403},
		{&f.userRead, "POST", "/api/2.0/webhooks/replays", 403},
		{&f.adminRead, "POST", "/api/2.0/webhooks/replays", 403},
		{&f.admin, "GET", path, 200},
		{nil, "GET", path, 401},
	} {
		body := ""
		if tc.method == "POST" {
			body = "{}"
		}
		if a := f.do(tc.who, tc.method, tc.path, body); a.status != tc.want {
			t.Errorf("%s %s: got %d, want %d: %s", tc.method, tc.path, a.status, tc.want, a.raw)
		}
	}
	var jobs []replayJob
	if a := f.do(&f.user2, "GET", "/api/2.0/webhooks/replays", "").ok(t, 200, &jobs); *a.Total != 0 {
		t.Errorf("another user lists %d jobs, want 0", *a.Total)
	}
	if a := f.do(&f.userRead, "GET", "/api/2.0/webhooks/replays", "").ok(t, 200, &jobs); *a.Total != 2 {
		t.Errorf("the user's read key lists %d jobs, want the user's 2", *a.Total)
	}
	if got, _ := f.store.ReplayGet(f.ctx, job.ID); got.State != hookd.ReplayStateQueued {
		t.Errorf("after refused cancels: got %s, want queued", got.State)
	}
}

func TestReplayBadRequests(t *testing.T) {
	t.Parallel()
	f := newReplayFixture(t, 1)
	for _, tc := range []struct{ body, msg string }{
		{`{"groupStatuses":"Failed"}`, `Unknown field "groupstatuses"`},
		{`{"rate":0}`, "rate must be from 1"},
		{`{"rate":"fast"}`, "rate has the wrong type"},
		{`{"window":100000}`, "window must be from 1"},
		{`{"groupStatus":"Broken"}`, "groupStatus"},
		{`{"configId":{"id":1}}`, "configId has the wrong type"},
		{`{"configId":"one"}`, "configId"},
		{`{"trigger":"file.*"}`, "trigger"},
		{`{"deliveryFrom":"yesterday"}`, "deliveryFrom"},
		{`{"dryRun":"yes"}`, "dryrun has the wrong type"},
		{`{"dryRun":true,"sample":1000}`, "sample must be from 0"},
		{`[1]`, "Malformed"},
		{``, "empty"},
	} {
		f.do(&f.admin, "POST", "/api/2.0/webhooks/replays", tc.body).fails(t, 400, tc.msg)
	}
	var job replayJob
	f.do(&f.admin, "POST", "/api/2.0/webhooks/replays", `{}`).ok(t, 202, &job)
	path := "/api/2.0/webhooks/replays/" + itoa(job.ID)
	f.do(&f.admin, "GET", path+"/items?count=1001", "").fails(t, 400, "count")
	f.do(&f.admin, "GET", path+"/items?state=lost", "").fails(t, 400, "state")
	f.do(&f.admin, "GET", "/api/2.0/webhooks/replays?count=0", "").fails(t, 400, "count")
	f.do(&f.admin, "GET", "/api/2.0/webhooks/replays/999", "").fails(t, 404, "")
	f.do(&f.admin, "GET", "/api/2.0/webhooks/replays/abc", "").fails(t, 404, "")
	f.do(&f.admin, "POST", "/api/2.0/webhooks/replays/999/cancel", "").fails(t, 404, "")
}

func TestReplayProgressItemsAndCancel(t *testing.T) {
	t.Parallel()
	f := newReplayFixture(t, 3)
	var job replayJob
	f.do(&f.admin, "POST", "/api/2.0/webhooks/replays", `{"groupStatus":"Failed","rate":1}`).ok(t, 202, &job)
	path := "/api/2.0/webhooks/replays/" + itoa(job.ID)
	if _, err := f.store.ReplayStep(f.ctx, &hookd.ReplayStepParams{}); err != nil { // the runner's work
		t.Fatal(err)
	}
	f.do(&f.admin, "GET", path, "").ok(t, 200, &job)
	if job.State != "running" || job.Processed != 1 || job.Retried != 1 || job.Pending != 5 {
		t.Fatalf("after one step: got %+v, want running, 1 of 6 retried", job)
	}
	var items []struct {
		DeliveryID, NewDeliveryID, ConfigID int64
		State, ConfigName                   string
		Trigger                             int64
		ProcessedOn                         *string
	}
	a := f.do(&f.admin, "GET", path+"/items?count=2", "").ok(t, 200, &items)
	if *a.Total != 6 || len(items) != 2 || items[0].State != "retried" || items[0].NewDeliveryID == 0 ||
		items[0].ProcessedOn == nil || items[1].State != "pending" || items[1].NewDeliveryID != 0 || items[0].ConfigName == "" {
		t.Fatalf("got items %+v (total %d), want the first retried and the second pending, of 6", items, *a.Total)
	}
	var rows []logRow
	f.do(&f.admin, "GET", "/api/2.0/settings/webhooks/log?eventId="+itoa(items[0].NewDeliveryID), "").ok(t, 200, &rows)
	if len(rows) != 1 || rows[0].RetryOf != items[0].DeliveryID || rows[0].State != "pending" {
		t.Errorf("the log shows %+v, want the new delivery, pending, retrying %d", rows, items[0].DeliveryID)
	}
	f.do(&f.admin, "POST", path+"/cancel", "").ok(t, 200, &job)
	if job.State != "cancelled" || job.Cancelled != 5 || job.Retried != 1 || job.Pending != 0 {
		t.Errorf("cancelled: got %+v, want 1 retried and 5 cancelled", job)
	}
	a = f.do(&f.admin, "GET", path+"/items?state=cancelled&startIndex=4", "").ok(t, 200, &items)
	if *a.Total != 5 || len(items) != 1 {
		t.Errorf("cancelled items: got %d of %d, want the last 1 of 5", len(items), *a.Total)
	}
	f.do(&f.admin, "DELETE", path, "").ok(t, 200, &job)
	if job.State != "cancelled" || job.Cancelled != 5 {
		t.Errorf("second cancel: got %+v, want it unchanged", job)
	}
}
