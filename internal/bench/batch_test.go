package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// batchServer stands in for hookd's batch publish endpoint: it checks the key, decodes the
// events and answers one published event per event, or refuses a request as told.
type batchServer struct {
	mu     sync.Mutex
	seqs   map[int64]int // times each sequence number was published
	sizes  []int         // events per request
	answer func(events int) (status int, body string)
}

func newBatchServer(t testing.TB) (*batchServer, *httptest.Server) {
	t.Helper()
	b := &batchServer{seqs: map[int64]int{}}
	srv := httptest.NewServer(http.HandlerFunc(b.serve))
	t.Cleanup(srv.Close)
	return b, srv
}

func (b *batchServer) serve(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != pathPublishBatch {
		http.Error(w, "wrong route", http.StatusNotFound)
		return
	}
	if r.Header.Get("Authorization") != "Bearer sk-test" {
		http.Error(w, "no key", http.StatusUnauthorized)
		return
	}
	var req struct {
		Events []struct {
			Trigger int64 `json:"trigger"`
			Payload struct {
				Seq int64 `json:"seq"`
				TS  int64 `json:"ts"`
			} `json:"payload"`
		} `json:"events"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		http.Error(w, "bad body: "+err.Error(), http.StatusBadRequest)
		return
	}
	b.mu.Lock()
	b.sizes = append(b.sizes, len(req.Events))
	for _, ev := range req.Events {
		if ev.Trigger == benchTrigger && ev.Payload.TS > 0 {
			b.seqs[ev.Payload.Seq]++
		}
	}
	answer := b.answer
	b.mu.Unlock()
	if answer != nil {
		status, body := answer(len(req.Events))
		w.WriteHeader(status)
		fmt.Fprint(w, body)
		return
	}
	var events []string
	for i := range req.Events {
		events = append(events, fmt.Sprintf(`{"eventId":%d,"trigger":128,"deliveries":[]}`, i+1))
	}
	w.WriteHeader(http.StatusAccepted)
	fmt.Fprintf(w, `{"response":{"events":[%s]},"status":0,"statusCode":202}`, strings.Join(events, ","))
}

func TestPublishBatches(t *testing.T) {
	t.Parallel()
	b, srv := newBatchServer(t)
	hc := loadClient(2)
	t.Cleanup(hc.CloseIdleConnections)
	res := publish(context.Background(), publishParams{events: 10, concurrency: 2, batch: 4, seq0: 100,
		send: batchSender(hc, srv.URL, "sk-test", benchTrigger)})
	if res.Accepted != 10 || res.Errors != 0 {
		t.Fatalf("got %d accepted, %d errors (%s); want 10, 0", res.Accepted, res.Errors, res.FirstErr)
	}
	if res.Latency.Count != 3 {
		t.Errorf("got %d requests timed, want 3 (4 + 4 + 2)", res.Latency.Count)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.seqs) != 10 {
		t.Errorf("got %d distinct events, want 10: %v", len(b.seqs), b.seqs)
	}
	for seq := int64(100); seq < 110; seq++ {
		if b.seqs[seq] != 1 {
			t.Errorf("event %d: published %d times, want once", seq, b.seqs[seq])
		}
	}
	sum := 0
	for _, n := range b.sizes {
		sum += n
		if n != 4 && n != 2 {
			t.Errorf("got a request of %d events, want 4 or 2", n)
		}
	}
	if sum != 10 {
		t.Errorf("got %d events over the requests, want 10", sum)
	}
}

func TestBatchSenderRefusals(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		key    string
		answer func(int) (int, string)
		want   string
	}{
		{"ErrorEnvelope", "sk-test", func(int) (int, string) {
			return http.StatusBadRequest, `{"error":{"message":"events[3]: The trigger is required."},"status":1,"statusCode":400}`
		}, "status 400: events[3]: The trigger is required."},
		{"ShortAnswer", "sk-test", func(int) (int, string) {
			return http.StatusAccepted, `{"response":{"events":[{"eventId":1}]},"status":0,"statusCode":202}`
		}, "1 events in the answer, want 3"},
		{"NotJSON", "sk-wrong", nil, "status 401, answer not a JSON envelope"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			b, srv := newBatchServer(t)
			b.answer = c.answer
			hc := loadClient(1)
			t.Cleanup(hc.CloseIdleConnections)
			err := batchSender(hc, srv.URL, c.key, benchTrigger)(context.Background(), 0, 3, 1)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got error %v, want one containing %q", err, c.want)
			}
			if strings.Contains(err.Error(), c.key) {
				t.Errorf("the error %q shows the key", err)
			}
		})
	}
}
