package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/hookd/hookd/internal/server"
	"github.com/hookd/hookd/internal/servertest"
)

// Ordered delivery end to end (docs/ordering.md): per key, one at a time in publish order; a
// failing head blocks only its key; a head that finally fails unblocks it.

// arrival is one request the ordered receiver got.
type arrival struct {
	key    string
	seq    int
	status int
}

// TestOrderedDelivery publishes events of four keys to an ordered webhook whose receiver fails
// the head of key "a" twice and the head of key "c" for good.
func TestOrderedDelivery(t *testing.T) {
	forEachBackend(t, testOrderedDelivery)
}

func testOrderedDelivery(t *testing.T, db string) {
	env := servertest.Start(t, func(c *server.Config) {
		c.DB = db
		c.RetrySchedule = []time.Duration{300 * time.Millisecond, 300 * time.Millisecond, 300 * time.Millisecond}
		c.HealthOff = true // the failing head must not pause the webhook here
	})
	api := &apiClient{t: t, url: env.URL, key: env.AdminKey}

	var mu sync.Mutex
	var arrivals []arrival
	tries := map[string]int{}
	var ref receiverRef
	rc := newReceiver(t, func(n int, w http.ResponseWriter, r *http.Request) {
		var body struct {
			Payload struct {
				Key string `json:"key"`
				Seq int    `json:"seq"`
			} `json:"payload"`
		}
		if err := json.Unmarshal(ref.hit(n).Body, &body); err != nil {
			http.Error(w, "bad body", http.StatusBadRequest)
			return
		}
		k, seq := body.Payload.Key, body.Payload.Seq
		mu.Lock()
		id := fmt.Sprintf("%s%d", k, seq)
		tries[id]++
		status := http.StatusOK
		if (id == "a0" && tries[id] <= 2) || id == "c0" {
			status = http.StatusServiceUnavailable
		}
		arrivals = append(arrivals, arrival{key: k, seq: seq, status: status})
		mu.Unlock()
		time.Sleep(5 * time.Millisecond) // give concurrent deliveries a chance to overlap
		w.WriteHeader(status)
	})
	ref.set(rc)

	var hook healthDTO
	api.ok(200, "POST", "/api/2.0/settings/webhook", map[string]any{"name": "ordered", "uri": rc.URL, "secretKey": secretA, "enabled": true, "triggers": 0, "ordered": true}, &hook)
	if !hook.Ordered {
		t.Fatalf("create: got ordered false, want true")
	}
	// Keys a, b, c come from the payload's id (the default); d from an explicit orderingKey over
	// payloads with different ids.
	var events []map[string]any
	for seq := range 3 {
		for _, k := range []string{"a", "b", "c"} {
			if k == "c" && seq == 2 {
				continue
			}
			events = append(events, map[string]any{"trigger": "file.updated", "payload": map[string]any{"id": k, "key": k, "seq": seq}})
		}
		events = append(events, map[string]any{"trigger": "file.updated", "orderingKey": "d", "payload": map[string]any{"id": 100 + seq, "key": "d", "seq": seq}})
	}
	for _, ev := range events {
		api.ok(202, "POST", "/api/2.0/webhooks/events", ev, nil)
	}
	servertest.Eventually(t, 30*time.Second, "every delivery is final", func() bool {
		rows := api.logOf(hook.ID)
		for _, r := range rows {
			if r.State != "delivered" && r.State != "failed" {
				return false
			}
		}
		return len(rows) == len(events)
	})

	mu.Lock()
	defer mu.Unlock()
	// Per key: requests come in publish order, a later one only after the earlier one's last
	// request (its success, or its final failure for c0).
	last := map[string]arrival{}
	for i, a := range arrivals {
		prev, seen := last[a.key]
		switch {
		case !seen && a.seq != 0:
			t.Errorf("arrival %d: %s%d before %s0", i, a.key, a.seq, a.key)
		case seen && a.seq == prev.seq && prev.status == http.StatusOK:
			t.Errorf("arrival %d: %s%d again after its success", i, a.key, a.seq)
		case seen && a.seq != prev.seq && a.seq != prev.seq+1:
			t.Errorf("arrival %d: %s%d after %s%d, want publish order", i, a.key, a.seq, a.key, prev.seq)
		case seen && a.seq == prev.seq+1 && prev.status != http.StatusOK && !(a.key == "c" && prev.seq == 0):
			t.Errorf("arrival %d: %s%d while %s%d had not succeeded", i, a.key, a.seq, a.key, prev.seq)
		}
		last[a.key] = a
	}
	// A failing head blocks only its key: b and d were done before c0 failed for good (4 tries
	// over 900 ms), and c1 went out only after c0's fourth try.
	c0Tries, c1At, bDone, dDone := 0, -1, -1, -1
	for i, a := range arrivals {
		switch {
		case a.key == "c" && a.seq == 0:
			c0Tries++
		case a.key == "c" && a.seq == 1 && c1At < 0:
			c1At = i
			if c0Tries != 4 {
				t.Errorf("c1 went out after %d tries of c0, want after its 4th (final) try", c0Tries)
			}
		case a.key == "b" && a.seq == 2:
			bDone = i
		case a.key == "d" && a.seq == 2:
			dDone = i
		}
	}
	if c1At < 0 || bDone < 0 || dDone < 0 || bDone > c1At || dDone > c1At {
		t.Errorf("arrival indexes: b2 %d, d2 %d, c1 %d: want b and d done before c unblocked", bDone, dDone, c1At)
	}
	// The log: c0 failed, everything else delivered.
	for _, r := range api.logOf(hook.ID) {
		var body struct {
			Payload struct {
				Key string `json:"key"`
				Seq int    `json:"seq"`
			} `json:"payload"`
		}
		_ = json.Unmarshal([]byte(r.RequestPayload), &body)
		want := "delivered"
		if body.Payload.Key == "c" && body.Payload.Seq == 0 {
			want = "failed"
		}
		if r.State != want {
			t.Errorf("delivery %d (%s%d): got %s, want %s", r.ID, body.Payload.Key, body.Payload.Seq, r.State, want)
		}
	}
}

// receiverRef hands a receiver to its own handler without a data race.
type receiverRef struct {
	mu sync.Mutex
	rc *receiver
}

func (r *receiverRef) set(rc *receiver) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.rc = rc
}

// hit returns the n-th request (from 1) the receiver got.
func (r *receiverRef) hit(n int) hit {
	r.mu.Lock()
	rc := r.rc
	r.mu.Unlock()
	return rc.Hits()[n-1]
}
