package bench

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/hookd/hookd"
)

func TestStrugglerCountsInFlight(t *testing.T) {
	t.Parallel()
	s := newStruggler()
	// Three in flight against a cap of 2: the third is refused; once one leaves, the next
	// is taken again.
	steps := []struct {
		enter bool
		want  bool
	}{{true, true}, {true, true}, {true, false}, {false, false}, {false, false}, {true, true}}
	for i, st := range steps {
		if !st.enter {
			s.leave("a")
			continue
		}
		if got := s.enter("a", 2); got != st.want {
			t.Errorf("step %d: got taken %v, want %v", i, got, st.want)
		}
	}
	if got := s.enter("b", 1); !got {
		t.Errorf("label b: got refused, want taken: labels are counted apart")
	}
	got := s.snapshot()
	want := StruggleStats{Cap: 2, Requests: 4, Status503: 1, PeakInflight: 3}
	if got["a"] != want {
		t.Errorf("label a: got %+v, want %+v", got["a"], want)
	}
	if got["b"] != (StruggleStats{Cap: 1, Requests: 1, PeakInflight: 1}) {
		t.Errorf("label b: got %+v, want 1 request, peak 1", got["b"])
	}
	s.reset()
	if got := s.snapshot(); len(got) != 0 {
		t.Errorf("after reset: got %v, want nothing", got)
	}
}

func TestNewStruggleResult(t *testing.T) {
	t.Parallel()
	if got := newStruggleResult(nil, 4); got != nil {
		t.Errorf("no struggling path: got %+v, want nil", got)
	}
	got := newStruggleResult(map[string]StruggleStats{
		"h10": {Cap: 4, Requests: 30, Status503: 10, PeakInflight: 9},
		"h2":  {Cap: 4, Requests: 10, Status503: 0, PeakInflight: 4},
	}, 4)
	if got.Requests != 40 || got.Status503 != 10 || got.PeakInflight != 9 || got.Share503 != 0.25 || got.Cap != 4 {
		t.Errorf("got %+v, want 40 requests, 10 503s (share 0.25), peak 9, cap 4", got)
	}
	if len(got.Hooks) != 2 || got.Hooks[0].Label != "h2" || got.Hooks[1].Label != "h10" {
		t.Errorf("got hooks %+v, want h2 then h10", got.Hooks)
	}
}

// TestReceiverStruggles holds cap requests in flight on a struggling path, checks that one
// more is answered 503 at once, and that the receiver reports the peak and the 503.
func TestReceiverStruggles(t *testing.T) {
	t.Parallel()
	r := NewReceiver(time.Millisecond)
	r.struggleDelay = time.Hour // held until their requests are cancelled
	srv := httptest.NewServer(r.Handler())
	t.Cleanup(srv.Close)
	rc := newReceiverClient(srv.URL)
	t.Cleanup(rc.hc.CloseIdleConnections)
	ctx := context.Background()
	const limit = 2
	path := "/struggle/s?cap=2"

	held, cancel := context.WithCancel(ctx)
	done := make(chan error, limit)
	for i := range limit {
		go func() { done <- postHeld(held, srv.URL+path, int64(i+1)) }()
	}
	waitUntil(t, func() bool { return r.struggle.snapshot()["s"].Requests == limit })
	if got := postEnvelope(t, srv.URL, path, 10, time.Now(), nil); got != http.StatusServiceUnavailable {
		t.Errorf("request over the cap: got status %d, want 503", got)
	}
	cancel()
	for range limit {
		if err := <-done; err == nil {
			t.Errorf("held request: got an answer, want it cancelled")
		}
	}
	if got := postEnvelope(t, srv.URL, "/struggle/s", 11, time.Now(), nil); got != http.StatusBadRequest {
		t.Errorf("no cap: got status %d, want 400", got)
	}

	st, err := rc.stats(ctx)
	if err != nil {
		t.Fatalf("stats: %v", err)
	}
	want := StruggleStats{Cap: limit, Requests: limit + 1, Status503: 1, PeakInflight: limit + 1}
	if st.Struggle["s"] != want {
		t.Errorf("got struggle %+v, want %+v", st.Struggle["s"], want)
	}
	if st.ByPath["struggle/s"] != limit+1 {
		t.Errorf("got %d first attempts on struggle/s, want %d (a 503 is a first attempt too)", st.ByPath["struggle/s"], limit+1)
	}
}

// postHeld posts the envelope of delivery id to url until ctx ends, and returns the error.
func postHeld(ctx context.Context, url string, id int64) error {
	ev := &hookd.Event{ID: 1, Trigger: benchTrigger, Payload: payload(id, time.Now().UnixNano()), CreatedOn: time.Now()}
	body, err := hookd.BuildBody(ev, &hookd.Webhook{ID: 1, URI: url}, id, nil)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	return nil
}

// waitUntil polls cond for up to ten seconds: for effects of other goroutines.
func waitUntil(t testing.TB, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met after 10s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}
