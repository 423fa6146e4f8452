package cli

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/client"
	"github.com/hookd/hookd/internal/servertest"
)

// publishN publishes n file.created events through the client and returns the new
// deliveries' ids.
func publishN(t testing.TB, cl *client.Client, n int) []int64 {
	t.Helper()
	var ids []int64
	for i := range n {
		res, err := cl.Publish(context.Background(), client.PublishParams{
			Trigger: client.TriggerFileCreated, Payload: json.RawMessage(`{"n":` + strconv.Itoa(i) + `}`)})
		if err != nil {
			t.Fatalf("publish: %v", err)
		}
		for _, d := range res.Deliveries {
			ids = append(ids, d.ID)
		}
	}
	return ids
}

func newClient(t testing.TB, e *servertest.Env) *client.Client {
	t.Helper()
	cl, err := client.New(e.URL, e.AdminKey)
	if err != nil {
		t.Fatal(err)
	}
	return cl
}

// retryLinks returns, for every delivery, how many deliveries retry it.
func retryLinks(t testing.TB, e *servertest.Env) (byOriginal map[int64]int, all []*hookd.Delivery) {
	t.Helper()
	all = deliveries(t, e, hookd.DeliveryFilter{})
	byOriginal = map[int64]int{}
	for _, d := range all {
		if d.RetryOf != 0 {
			byOriginal[d.RetryOf]++
		}
	}
	return byOriginal, all
}

// retryPaths are the two ways retry --failed works: a replay job on the server, and paging
// through the log with batches of retries from the command line (DocSpace, --client-side).
var retryPaths = []struct {
	name string
	args []string
}{{"ReplayJob", nil}, {"ClientSide", []string{"--client-side"}}}

// checkPath checks that the report says which path did the work.
func checkPath(t testing.TB, rep retryReport, args []string) {
	t.Helper()
	if replayed := rep.ReplayID != 0; replayed != (len(args) == 0) {
		t.Errorf("got replayId %d with args %v, want a replay job exactly when not --client-side", rep.ReplayID, args)
	}
}

func TestRetryFailedWhileEventsArrive(t *testing.T) {
	t.Parallel()
	for _, path := range retryPaths {
		t.Run(path.name, func(t *testing.T) {
			t.Parallel()
			testRetryFailedWhileEventsArrive(t, path.args)
		})
	}
}

func testRetryFailedWhileEventsArrive(t *testing.T, extra []string) {
	e := startServer(t)
	// A receiver whose route is missing after a bad deploy: 404s do not make the adaptive
	// concurrency back off (503s would, and 2,000 attempts one at a time make a slow test).
	rc := newReceiver(t, "outage-secret", 404)
	createWebhook(t, e, rc, "down")
	cl := newClient(t, e)
	const n = 1000
	failed := publishN(t, cl, n)
	if len(failed) != n {
		t.Fatalf("got %d deliveries, want %d", len(failed), n)
	}
	settled(t, e)

	// New events keep arriving (and failing) while retry --failed runs.
	stop := make(chan struct{})
	var during atomic.Int64
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(2 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			if _, err := cl.Publish(context.Background(), client.PublishParams{Trigger: client.TriggerFileUpdated, Payload: json.RawMessage(`{}`)}); err == nil {
				during.Add(1)
			}
		}
	})
	r := runCLI(t, e.URL, e.AdminKey, "", append([]string{"retry", "--failed", "-o", "json"}, extra...)...)
	close(stop)
	wg.Wait()
	if r.code != ExitOK {
		t.Fatalf("retry --failed: exit %d, stderr %q", r.code, r.stderr)
	}
	if during.Load() == 0 {
		t.Fatalf("no event was published during the run: the test proves nothing")
	}
	rep := decodeJSON[retryReport](t, r)
	checkPath(t, rep, extra)
	if rep.Matched < n || len(rep.Retried) != rep.Matched || len(rep.NotRetried) != 0 || len(rep.Skipped) != 0 {
		t.Errorf("got report matched %d retried %d notRetried %d skipped %d, want all %d+ retried",
			rep.Matched, len(rep.Retried), len(rep.NotRetried), len(rep.Skipped), n)
	}

	links, all := retryLinks(t, e)
	for _, id := range failed {
		if links[id] != 1 {
			t.Fatalf("delivery %d was retried %d times, want exactly once", id, links[id])
		}
	}
	byID := map[int64]*hookd.Delivery{}
	for _, d := range all {
		byID[d.ID] = d
	}
	for orig, count := range links {
		if count != 1 {
			t.Errorf("delivery %d was retried %d times, want once", orig, count)
		}
		if o := byID[orig]; o == nil || o.RetryOf != 0 {
			t.Errorf("delivery %d, itself a retry made by this run, was retried again", orig)
		}
	}
	for _, p := range rep.Retried {
		if d := byID[p.NewID]; d == nil || d.RetryOf != p.ID {
			t.Errorf("report pairs %d→%d, store disagrees", p.ID, p.NewID)
		}
	}
	// The receiver sees the retries: event.id of a retry is its new id.
	servertest.Eventually(t, 30*time.Second, "every retry reaches the receiver", func() bool {
		for _, p := range rep.Retried {
			if rc.hitCount(p.NewID) == 0 {
				return false
			}
		}
		return true
	})
	if bad := rc.badSignatures(); bad != 0 {
		t.Errorf("receiver got %d requests with a bad signature", bad)
	}
}

func TestRetryFailedTwiceLeavesRetriedAlone(t *testing.T) {
	t.Parallel()
	for _, path := range retryPaths {
		t.Run(path.name, func(t *testing.T) {
			t.Parallel()
			testRetryFailedTwiceLeavesRetriedAlone(t, path.args)
		})
	}
}

func testRetryFailedTwiceLeavesRetriedAlone(t *testing.T, extra []string) {
	e := startServer(t)
	rc := newReceiver(t, "twice-secret", 500)
	hook := createWebhook(t, e, rc, "flaky")
	other := createWebhook(t, e, newReceiver(t, "other-secret", 500), "other")
	cl := newClient(t, e)
	first := publishN(t, cl, 30) // 30 events × 2 webhooks
	settled(t, e)

	// First run, narrowed to one webhook; the receiver is still down, so the retries fail.
	run := func(args ...string) retryReport {
		t.Helper()
		rep := decodeJSON[retryReport](t, mustRun(t, e, append(append([]string{"retry", "--failed"}, args...), extra...)...))
		checkPath(t, rep, extra)
		return rep
	}
	rep := run("--webhook", strconv.FormatInt(hook, 10), "--batch-size", "7", "-o", "json")
	if len(rep.Retried) != 30 {
		t.Fatalf("first run retried %d, want 30", len(rep.Retried))
	}
	settled(t, e)

	rc.status.Store(200) // the receiver is back
	// Second run: the 30 originals were retried already; only the 30 failed retries go again.
	rep = run("--webhook", strconv.FormatInt(hook, 10), "-o", "json")
	if len(rep.Retried) != 30 || len(rep.Skipped) != 30 {
		t.Fatalf("second run retried %d and skipped %d, want 30 and 30", len(rep.Retried), len(rep.Skipped))
	}
	settled(t, e)
	// Third run: everything of the webhook is delivered or retried; nothing goes out.
	rep = run("--webhook", strconv.FormatInt(hook, 10), "-o", "json")
	if len(rep.Retried) != 0 || len(rep.Skipped) != 60 {
		t.Errorf("third run retried %d and skipped %d, want 0 and 60", len(rep.Retried), len(rep.Skipped))
	}

	links, all := retryLinks(t, e)
	for _, d := range all {
		if links[d.ID] > 1 {
			t.Errorf("delivery %d retried %d times, want at most once", d.ID, links[d.ID])
		}
		if d.WebhookID == other && (links[d.ID] != 0 || d.RetryOf != 0) {
			t.Errorf("delivery %d of the other webhook was touched", d.ID)
		}
	}
	// Every event reached the recovered receiver exactly once with a 2xx.
	delivered := 0
	for _, d := range all {
		if d.WebhookID == hook && d.State == hookd.DeliveryStateDelivered {
			delivered++
		}
	}
	if delivered != len(first)/2 {
		t.Errorf("got %d delivered deliveries of the webhook, want %d", delivered, len(first)/2)
	}
}

func TestRetryFailedDryRun(t *testing.T) {
	t.Parallel()
	for _, path := range retryPaths {
		t.Run(path.name, func(t *testing.T) {
			t.Parallel()
			testRetryFailedDryRun(t, path.args)
		})
	}
}

func testRetryFailedDryRun(t *testing.T, extra []string) {
	e := startServer(t)
	rc := newReceiver(t, "dry-secret", 404)
	createWebhook(t, e, rc, "gone")
	publishN(t, newClient(t, e), 5)
	settled(t, e)
	before := len(deliveries(t, e, hookd.DeliveryFilter{}))

	r := mustRun(t, e, append([]string{"retry", "--failed", "--dry-run"}, extra...)...)
	if !strings.Contains(r.stdout, "dry run: would retry 5 of 5 deliveries") || strings.Count(r.stdout, "file.created") != 5 {
		t.Errorf("dry run printed %q, want the 5 deliveries and a summary", r.stdout)
	}
	rep := decodeJSON[retryReport](t, mustRun(t, e, append([]string{"retry", "--failed", "--dry-run", "-o", "json", "--since", "1h"}, extra...)...))
	if !rep.DryRun || len(rep.WouldRetry) != 5 || rep.WouldRetryCount != 5 || len(rep.Retried) != 0 || rep.ReplayID != 0 {
		t.Errorf("got report %+v, want 5 to retry, none retried", rep)
	}
	if after := len(deliveries(t, e, hookd.DeliveryFilter{})); after != before {
		t.Errorf("dry run made deliveries: %d before, %d after", before, after)
	}
	// A filter that matches nothing retries nothing, successfully.
	rep = decodeJSON[retryReport](t, mustRun(t, e, append([]string{"retry", "--failed", "--trigger", "room.created", "-o", "json"}, extra...)...))
	if rep.Matched != 0 {
		t.Errorf("got %d matched for another trigger, want 0", rep.Matched)
	}
}

func TestRetryIDs(t *testing.T) {
	t.Parallel()
	e := startServer(t)
	rc := newReceiver(t, "ids-secret", 200)
	createWebhook(t, e, rc, "ok")
	ids := publishN(t, newClient(t, e), 3)
	settled(t, e)

	r := mustRun(t, e, "retry", strconv.FormatInt(ids[0], 10))
	if !strings.Contains(r.stdout, "retried 1 of 1 deliveries") {
		t.Errorf("got %q, want a summary", r.stdout)
	}
	r = runCLI(t, e.URL, e.AdminKey, "", "retry", strconv.FormatInt(ids[1], 10), strconv.FormatInt(ids[2], 10), "777777", "-o", "json")
	if r.code != ExitPartial {
		t.Errorf("got exit %d (%q), want %d for an unknown id in the batch", r.code, r.stderr, ExitPartial)
	}
	if !strings.Contains(r.stderr, "1 of 3 deliveries could not be retried: 777777") {
		t.Errorf("got stderr %q, want the unknown id named", r.stderr)
	}
	rep := decodeJSON[retryReport](t, r)
	if len(rep.Retried) != 2 || len(rep.NotRetried) != 1 || rep.NotRetried[0] != 777777 {
		t.Errorf("got report %+v", rep)
	}
	links, _ := retryLinks(t, e)
	for _, id := range ids {
		if links[id] != 1 {
			t.Errorf("delivery %d retried %d times, want once", id, links[id])
		}
	}
	servertest.Eventually(t, 10*time.Second, "retries reach the receiver", func() bool {
		for _, p := range rep.Retried {
			if rc.hitCount(p.NewID) != 1 {
				return false
			}
		}
		return true
	})
	r = runCLI(t, e.URL, e.AdminKey, "", "retry", "777777", "888888")
	if r.code != ExitNotFound {
		t.Errorf("got exit %d (%q), want %d when no id is known", r.code, r.stderr, ExitNotFound)
	}
}

// fakeDocSpace imitates a DocSpace portal's log and batch retry: no Failed class (400), no
// maxId, no state or retryOf on rows, a 429 with Retry-After on the first batch.
type fakeDocSpace struct {
	mu       sync.Mutex
	statuses map[int64]int // log id → status
	nextID   int64
	batches  [][]int64
	limited  bool
}

func (f *fakeDocSpace) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	writeEnv := func(status int, body any, total int) {
		env := map[string]any{"response": body, "count": 1, "status": 0, "statusCode": status}
		if total >= 0 {
			env["total"] = total
		}
		w.WriteHeader(status)
		json.NewEncoder(w).Encode(env)
	}
	switch r.URL.Path {
	case "/api/2.0/settings/webhooks/log":
		q := r.URL.Query()
		g, err := strconv.Atoi(q.Get("groupStatus"))
		if err != nil {
			w.WriteHeader(http.StatusBadRequest)
			io.WriteString(w, `{"response":{"title":"One or more validation errors occurred.","errors":{"groupStatus":["The value 'Failed' is not valid."]}},"status":1,"statusCode":400}`)
			return
		}
		var ids []int64
		for id, st := range f.statuses {
			if hookd.GroupStatus(g).Includes(st, 1) {
				ids = append(ids, id)
			}
		}
		slices.SortFunc(ids, func(a, b int64) int { return int(b - a) })
		start, _ := strconv.Atoi(q.Get("startIndex"))
		count, _ := strconv.Atoi(q.Get("count"))
		rows := []map[string]any{}
		for _, id := range ids[min(start, len(ids)):min(start+count, len(ids))] {
			rows = append(rows, map[string]any{"id": id, "trigger": 128, "status": f.statuses[id], "creationTime": "2026-07-01T10:00:00.0000000Z"})
		}
		writeEnv(200, rows, len(ids))
	case "/api/2.0/settings/webhook/retry":
		if !f.limited {
			f.limited = true
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		var body struct{ IDs []int64 }
		json.NewDecoder(r.Body).Decode(&body)
		f.batches = append(f.batches, body.IDs)
		rows := []map[string]any{}
		for _, id := range body.IDs {
			if _, ok := f.statuses[id]; !ok {
				continue // DocSpace skips unknown ids silently
			}
			f.nextID++
			f.statuses[f.nextID] = 0 // queued: "not sent", and failed-looking to DocSpace
			rows = append(rows, map[string]any{"id": f.nextID, "trigger": 128, "status": 0})
		}
		writeEnv(200, rows, -1)
	default:
		w.WriteHeader(http.StatusNotFound)
	}
}

func TestRetryFailedAgainstDocSpace(t *testing.T) {
	t.Parallel()
	f := &fakeDocSpace{statuses: map[int64]int{}}
	for id := int64(1); id <= 250; id++ {
		f.statuses[id] = []int{200, 500, 0, 404, 302}[id%5] // 200 of them failed-looking
	}
	f.nextID = 250
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)

	r := runCLI(t, srv.URL, "sk-docspace", "", "retry", "--failed", "-o", "json")
	if r.code != ExitOK {
		t.Fatalf("exit %d: %q", r.code, r.stderr)
	}
	for _, want := range []string{"does not know the Failed filter", "rate limiting requests; waiting 1s", "does not link retries"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr %q lacks %q", r.stderr, want)
		}
	}
	rep := decodeJSON[retryReport](t, r)
	if rep.Matched != 200 || len(rep.Retried) != 200 {
		t.Errorf("got matched %d retried %d, want 200 and 200", rep.Matched, len(rep.Retried))
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	sent := map[int64]int{}
	for _, b := range f.batches {
		if len(b) > 100 {
			t.Errorf("got a batch of %d ids, want at most 100", len(b))
		}
		for _, id := range b {
			sent[id]++
		}
	}
	for id := int64(1); id <= 250; id++ {
		want := 1
		if id%5 == 0 {
			want = 0 // 2xx
		}
		if sent[id] != want {
			t.Errorf("id %d sent %d times, want %d", id, sent[id], want)
		}
	}
}
