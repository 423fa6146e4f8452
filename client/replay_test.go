package client

import (
	"context"
	"encoding/json"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestStartReplaySendsTheFilterAndRepeatsWithAKey(t *testing.T) {
	t.Parallel()
	var calls atomic.Int64
	var bodies []map[string]any
	c, waits := fakeServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != pathReplays {
			t.Errorf("got %s %s, want POST %s", r.Method, r.URL.Path, pathReplays)
		}
		var b map[string]any
		json.NewDecoder(r.Body).Decode(&b)
		bodies = append(bodies, b)
		if calls.Add(1) == 1 {
			writeError(w, http.StatusServiceUnavailable, "busy")
			return
		}
		writeEnvelope(w, http.StatusAccepted, map[string]any{"id": 7, "state": "queued", "total": 3, "pending": 3,
			"filter": map[string]any{"groupStatus": "Failed", "maxId": 99}}, -1)
	})
	from := time.Date(2026, 6, 30, 10, 0, 0, 0, time.UTC)
	job, err := c.StartReplay(context.Background(), ReplayParams{
		Filter: DeliveryFilter{GroupStatus: GroupStatusFailed, ConfigID: 4, DeliveryFrom: from, Trigger: TriggerFileCreated,
			StartIndex: 5, Count: 10},
		ExcludeRetried: true, Rate: 20, IdempotencyKey: "k-1",
	})
	if err != nil {
		t.Fatalf("StartReplay: %v", err)
	}
	if job.ID != 7 || job.State != "queued" || job.Total != 3 || job.Filter.MaxID != 99 || job.Finished() {
		t.Errorf("got job %+v", job)
	}
	want := map[string]any{"groupStatus": "Failed", "configId": "4", "deliveryFrom": "2026-06-30T10:00:00Z",
		"trigger": "128", "rate": float64(20), "excludeRetried": true, "idempotencyKey": "k-1"}
	if len(bodies) != 2 {
		t.Fatalf("got %d requests, want the 503 repeated once (the key makes it safe)", len(bodies))
	}
	if d := cmp.Diff(want, bodies[1]); d != "" {
		t.Errorf("body mismatch (-want +got):\n%s", d)
	}
	if len(*waits) != 1 {
		t.Errorf("got %d waits, want 1", len(*waits))
	}
}

func TestStartReplayWithoutKeyIsNotRepeatedAfter5xx(t *testing.T) {
	t.Parallel()
	var calls atomic.Int64
	c, _ := fakeServer(t, func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		writeError(w, http.StatusBadGateway, "proxy")
	})
	if _, err := c.StartReplay(context.Background(), ReplayParams{}); StatusCode(err) != http.StatusBadGateway {
		t.Fatalf("got %v, want the 502", err)
	}
	if n := calls.Load(); n != 1 {
		t.Errorf("got %d requests, want 1: without a key a repeat could start a second job", n)
	}
}

func TestReplayUnsupported(t *testing.T) {
	t.Parallel()
	c, _ := fakeServer(t, func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "No API route matches this path.")
	})
	_, err := c.PreviewReplay(context.Background(), ReplayParams{}, 10)
	if !ReplayUnsupported(err) {
		t.Errorf("got %v, want it read as no replay support", err)
	}
	for _, code := range []int{400, 401, 403, 429, 500} {
		if ReplayUnsupported(&Error{StatusCode: code}) {
			t.Errorf("%d read as no replay support", code)
		}
	}
}

func TestPreviewReplayAndItems(t *testing.T) {
	t.Parallel()
	c, _ := fakeServer(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case pathReplays:
			var b map[string]any
			json.NewDecoder(r.Body).Decode(&b)
			if b["dryRun"] != true || b["sample"] != float64(5) {
				t.Errorf("got body %v, want dryRun and sample 5", b)
			}
			writeEnvelope(w, 200, map[string]any{"dryRun": true, "total": 9, "skipped": 2, "toReplay": 7, "maxId": 40,
				"sample": []map[string]any{{"id": 3, "trigger": 128, "status": 500, "requestPayload": "{}"}}}, -1)
		case pathReplays + "/7/items":
			if q := r.URL.Query(); q.Get("state") != "failed" || q.Get("startIndex") != "10" || q.Get("count") != "1000" {
				t.Errorf("got query %v", q)
			}
			writeEnvelope(w, 200, []map[string]any{{"deliveryId": 3, "state": "failed"}}, 11)
		default:
			t.Errorf("unexpected %s", r.URL.Path)
		}
	})
	pv, err := c.PreviewReplay(context.Background(), ReplayParams{}, 5)
	if err != nil || pv.ToReplay != 7 || pv.Skipped != 2 || len(pv.Sample) != 1 || pv.Sample[0].Status != 500 {
		t.Errorf("PreviewReplay: got %+v, %v", pv, err)
	}
	items, total, err := c.ReplayItems(context.Background(), 7, "failed", 10, 1000)
	if err != nil || total != 11 || len(items) != 1 || items[0].State != "failed" {
		t.Errorf("ReplayItems: got %+v, %d, %v", items, total, err)
	}
}
