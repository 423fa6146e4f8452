package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The receiver's behaviours, chosen by the first segment of the request path: /ok/LABEL
// answers 200 at once, /fail/LABEL answers 500, /slow/LABEL answers 200 after the slow delay
// (and /struggle/LABEL?cap=K as ClassStruggle says).
const (
	ClassOK   = "ok"
	ClassFail = "fail"
	ClassSlow = "slow"
)

// receiverReadyPrefix starts the line RunReceiver prints once it listens.
const receiverReadyPrefix = "bench receiver listening on "

// maxReceiverBody caps the body the receiver reads: a delivery envelope is a few hundred bytes.
const maxReceiverBody = 1 << 20

// Receiver is the benchmark's webhook receiver. It keeps, for the first attempt of every
// delivery (by event.id), when it was published (payload.ts) and when it arrived, and counts
// repeats (at-least-once duplicates) and automatic retries (webhook.retryCount > 0); for
// struggling paths, the requests in flight and the 503s.
type Receiver struct {
	slow          time.Duration
	struggleDelay time.Duration // how long a struggling path takes over a request it takes
	now           func() time.Time
	struggle      *struggler

	mu      sync.Mutex
	seen    map[int64]struct{}
	recs    []record
	dups    int64
	retries int64
	first   int64             // unix ns of the earliest first attempt
	last    int64             // unix ns of the latest first attempt
	labels  map[string]string // interned "class/label" keys
	counts  map[string]int64  // first attempts per "class/label"
}

// record is the first attempt of one delivery.
type record struct {
	key       string // "class/label"
	pub, recv int64  // unix ns
}

// NewReceiver returns a receiver whose /slow/ paths wait slow before answering.
func NewReceiver(slow time.Duration) *Receiver {
	r := &Receiver{slow: slow, struggleDelay: struggleDelay, now: time.Now, struggle: newStruggler()}
	r.reset()
	return r
}

func (r *Receiver) reset() {
	r.struggle.reset()
	r.mu.Lock()
	defer r.mu.Unlock()
	r.seen = map[int64]struct{}{}
	r.recs = nil
	r.dups, r.retries, r.first, r.last = 0, 0, 0, 0
	r.labels = map[string]string{}
	r.counts = map[string]int64{}
}

// receivedBody is the part of a delivery envelope the receiver reads.
type receivedBody struct {
	Event struct {
		ID int64 `json:"id"`
	} `json:"event"`
	Payload struct {
		TS int64 `json:"ts"`
	} `json:"payload"`
	Webhook struct {
		RetryCount int `json:"retryCount"`
	} `json:"webhook"`
}

// Handler serves the webhook paths and the driver's /_bench/ endpoints.
func (r *Receiver) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /_bench/stats", r.handleStats)
	mux.HandleFunc("GET /_bench/latency", r.handleLatency)
	mux.HandleFunc("POST /_bench/reset", func(w http.ResponseWriter, _ *http.Request) { r.reset() })
	mux.HandleFunc("POST /{class}/{label}", r.handleDelivery)
	return mux
}

func (r *Receiver) handleDelivery(w http.ResponseWriter, req *http.Request) {
	class, label := req.PathValue("class"), req.PathValue("label")
	if class != ClassOK && class != ClassFail && class != ClassSlow && class != ClassStruggle {
		http.Error(w, "unknown class", http.StatusNotFound)
		return
	}
	taken := true
	if class == ClassStruggle {
		// Counted in from the start of the request to its answer: what the sender has in
		// flight, as the receiver's workers would feel it.
		limit, err := strconv.Atoi(req.URL.Query().Get("cap"))
		if err != nil || limit < 1 {
			http.Error(w, "struggle needs cap=K, K at least 1", http.StatusBadRequest)
			return
		}
		taken = r.struggle.enter(label, limit)
		defer r.struggle.leave(label)
	}
	body, err := io.ReadAll(io.LimitReader(req.Body, maxReceiverBody))
	recv := r.now().UnixNano()
	if err != nil {
		http.Error(w, "read body", http.StatusBadRequest)
		return
	}
	var b receivedBody
	if err := json.Unmarshal(body, &b); err != nil || b.Event.ID == 0 {
		http.Error(w, "not a delivery envelope", http.StatusBadRequest)
		return
	}
	r.add(class+"/"+label, &b, recv)
	switch {
	case class == ClassFail:
		http.Error(w, "failing on purpose", http.StatusInternalServerError)
		return
	case !taken:
		http.Error(w, "too many requests in flight", http.StatusServiceUnavailable)
		return
	case class == ClassSlow && !pause(req.Context(), r.slow):
		return
	case class == ClassStruggle && !pause(req.Context(), r.struggleDelay):
		return
	}
	io.WriteString(w, "ok")
}

// pause waits d, or less when ctx ends first; it reports whether it waited the whole d.
func pause(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

func (r *Receiver) add(key string, b *receivedBody, recv int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if b.Webhook.RetryCount > 0 {
		r.retries++
		return
	}
	if _, dup := r.seen[b.Event.ID]; dup {
		r.dups++
		return
	}
	r.seen[b.Event.ID] = struct{}{}
	k, ok := r.labels[key]
	if !ok {
		k = key
		r.labels[key] = key
	}
	r.counts[k]++
	if r.first == 0 || recv < r.first {
		r.first = recv
	}
	r.last = max(r.last, recv)
	r.recs = append(r.recs, record{key: k, pub: b.Payload.TS, recv: recv})
}

// ReceiverStats counts what a receiver got since its last reset.
type ReceiverStats struct {
	Firsts     int64            `json:"firsts"`     // deliveries seen (first attempts, deduplicated)
	Duplicates int64            `json:"duplicates"` // first attempts seen again
	Retries    int64            `json:"retries"`    // automatic retries (webhook.retryCount > 0)
	ByPath     map[string]int64 `json:"byPath"`     // first attempts per "class/label"
	FirstRecv  int64            `json:"firstRecv"`  // unix ns of the earliest first attempt
	LastRecv   int64            `json:"lastRecv"`   // unix ns of the latest first attempt
	// Struggle has the figures of each struggling path, by label.
	Struggle map[string]StruggleStats `json:"struggle,omitempty"`
}

// Stats returns the receiver's counts.
func (r *Receiver) Stats() ReceiverStats {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := ReceiverStats{Firsts: int64(len(r.recs)), Duplicates: r.dups, Retries: r.retries,
		ByPath: make(map[string]int64, len(r.counts)), FirstRecv: r.first, LastRecv: r.last}
	for k, n := range r.counts {
		s.ByPath[k] = n
	}
	if st := r.struggle.snapshot(); len(st) > 0 {
		s.Struggle = st
	}
	return s
}

func (r *Receiver) handleStats(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, r.Stats())
}

// LatencyQuery selects first attempts for a latency summary. Zero fields do not filter.
type LatencyQuery struct {
	Class   string // ok, fail, slow or struggle
	Label   string // the path's label
	PubFrom int64  // published at or after (unix ns)
	PubTo   int64  // published before (unix ns)
}

func (q LatencyQuery) values() string {
	v := []string{"class=" + q.Class, "label=" + q.Label,
		"pubFrom=" + strconv.FormatInt(q.PubFrom, 10), "pubTo=" + strconv.FormatInt(q.PubTo, 10)}
	return strings.Join(v, "&")
}

// WindowLatency is the publish-to-receipt latency of the first attempts a query selects, and
// when the first and last of them arrived.
type WindowLatency struct {
	Latency
	FirstRecv int64 `json:"firstRecv"`
	LastRecv  int64 `json:"lastRecv"`
}

// Latency summarises the publish-to-receipt latency of the first attempts q selects.
func (r *Receiver) Latency(q LatencyQuery) WindowLatency {
	r.mu.Lock()
	var ds []time.Duration
	var out WindowLatency
	for _, rec := range r.recs {
		class, label, _ := strings.Cut(rec.key, "/")
		if (q.Class != "" && class != q.Class) || (q.Label != "" && label != q.Label) ||
			(q.PubFrom != 0 && rec.pub < q.PubFrom) || (q.PubTo != 0 && rec.pub >= q.PubTo) {
			continue
		}
		if len(ds) == 0 || rec.recv < out.FirstRecv {
			out.FirstRecv = rec.recv
		}
		out.LastRecv = max(out.LastRecv, rec.recv)
		ds = append(ds, time.Duration(rec.recv-rec.pub))
	}
	r.mu.Unlock()
	out.Latency = NewLatency(ds)
	return out
}

func (r *Receiver) handleLatency(w http.ResponseWriter, req *http.Request) {
	v := req.URL.Query()
	q := LatencyQuery{Class: v.Get("class"), Label: v.Get("label")}
	q.PubFrom, _ = strconv.ParseInt(v.Get("pubFrom"), 10, 64)
	q.PubTo, _ = strconv.ParseInt(v.Get("pubTo"), 10, 64)
	writeJSON(w, r.Latency(q))
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
}

// RunReceiver serves a Receiver on addr until ctx ends. Once it listens it prints
// "bench receiver listening on http://HOST:PORT" on out, which is how the driver learns the
// port when addr asks for port 0.
func RunReceiver(ctx context.Context, addr string, slow time.Duration, out io.Writer) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("receiver: listen on %s: %w", addr, err)
	}
	srv := &http.Server{Handler: NewReceiver(slow).Handler(), ReadHeaderTimeout: 10 * time.Second}
	fmt.Fprintf(out, "%shttp://%s\n", receiverReadyPrefix, ln.Addr())
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("receiver: %w", err)
	case <-ctx.Done():
	}
	shut, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shut); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("receiver: shutdown: %w", err)
	}
	return nil
}

// receiverClient asks a receiver process for its figures.
type receiverClient struct {
	base string
	hc   *http.Client
}

func newReceiverClient(base string) *receiverClient {
	return &receiverClient{base: base, hc: &http.Client{Timeout: 60 * time.Second}}
}

func (c *receiverClient) get(ctx context.Context, path string, out any) error {
	return c.do(ctx, http.MethodGet, path, out)
}

func (c *receiverClient) do(ctx context.Context, method, path string, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, nil)
	if err != nil {
		return fmt.Errorf("receiver %s: %w", path, err)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return fmt.Errorf("receiver %s: %w", path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("receiver %s: status %d", path, resp.StatusCode)
	}
	if out == nil {
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("receiver %s: %w", path, err)
	}
	return nil
}

func (c *receiverClient) stats(ctx context.Context) (ReceiverStats, error) {
	var s ReceiverStats
	err := c.get(ctx, "/_bench/stats", &s)
	return s, err
}

func (c *receiverClient) latency(ctx context.Context, q LatencyQuery) (WindowLatency, error) {
	var l WindowLatency
	err := c.get(ctx, "/_bench/latency?"+q.values(), &l)
	return l, err
}

func (c *receiverClient) reset(ctx context.Context) error {
	return c.do(ctx, http.MethodPost, "/_bench/reset", nil)
}

// waitFor polls the receiver until done says the stats are complete, ctx ends, or timeout
// passes; it returns the last stats.
func (c *receiverClient) waitFor(ctx context.Context, timeout time.Duration, done func(ReceiverStats) bool) (ReceiverStats, error) {
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		s, err := c.stats(ctx)
		if err != nil {
			return s, err
		}
		if done(s) {
			return s, nil
		}
		if time.Now().After(deadline) {
			return s, fmt.Errorf("receiver: timed out after %s with %d deliveries", timeout, s.Firsts)
		}
		select {
		case <-ctx.Done():
			return s, ctx.Err()
		case <-tick.C:
		}
	}
}
