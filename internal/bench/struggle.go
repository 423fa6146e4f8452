package bench

import (
	"cmp"
	"slices"
	"sync"
	"time"
)

// ClassStruggle is the receiver behaviour of a struggling webhook, path /struggle/LABEL?cap=K:
// it answers 503 (without Retry-After) to a request that finds more than K requests of LABEL
// in flight, itself included, and 200 after struggleDelay otherwise. It stands for a receiver
// with a fixed number of workers, which a sender must not push harder than it can take.
const ClassStruggle = "struggle"

// struggleDelay is how long a struggling receiver takes over a request it accepts: long
// enough that the sender's concurrency, not only its rate, decides how many are in flight.
const struggleDelay = 20 * time.Millisecond

// StruggleStats is what the receiver of one struggling webhook saw since the last reset.
type StruggleStats struct {
	Cap          int   `json:"cap"`          // the K of its path
	Requests     int64 `json:"requests"`     // every request, first attempts and retries
	Status503    int64 `json:"status503"`    // requests answered 503
	PeakInflight int64 `json:"peakInflight"` // the most requests in flight at once, 503s included
}

// struggler counts the requests in flight per struggling label.
type struggler struct {
	mu       sync.Mutex
	inflight map[string]int64
	stats    map[string]*StruggleStats
}

func newStruggler() *struggler {
	return &struggler{inflight: map[string]int64{}, stats: map[string]*StruggleStats{}}
}

// enter counts a request of label in, and reports whether the receiver takes it: no more
// than limit in flight with it. The caller calls leave once it has answered.
func (s *struggler) enter(label string, limit int) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stats[label]
	if st == nil {
		st = &StruggleStats{Cap: limit}
		s.stats[label] = st
	}
	s.inflight[label]++
	n := s.inflight[label]
	st.Requests++
	st.PeakInflight = max(st.PeakInflight, n)
	if n > int64(limit) {
		st.Status503++
		return false
	}
	return true
}

func (s *struggler) leave(label string) {
	s.mu.Lock()
	s.inflight[label]--
	s.mu.Unlock()
}

// snapshot returns a copy of the figures per label.
func (s *struggler) snapshot() map[string]StruggleStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]StruggleStats, len(s.stats))
	for k, v := range s.stats {
		out[k] = *v
	}
	return out
}

// reset forgets the figures; requests still in flight stay counted as in flight.
func (s *struggler) reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stats = map[string]*StruggleStats{}
}

// StruggleResult is what the struggling webhooks' receivers saw during one run.
type StruggleResult struct {
	Cap       int   `json:"cap"`
	Requests  int64 `json:"requests"`  // requests to all of them, first attempts and retries
	Status503 int64 `json:"status503"` // of which answered 503
	// Share503 is Status503 over Requests: how often the sender pushed past what the
	// receiver takes.
	Share503 float64 `json:"share503"`
	// PeakInflight is the highest in-flight count any one of them saw.
	PeakInflight int64           `json:"peakInflight"`
	Hooks        []StruggledHook `json:"hooks"`
}

// StruggledHook is one struggling webhook's figures, by the label of its receiver path.
type StruggledHook struct {
	Label string `json:"label"`
	StruggleStats
}

// newStruggleResult sums the receiver's figures; nil when no webhook struggled.
func newStruggleResult(byLabel map[string]StruggleStats, limit int) *StruggleResult {
	if len(byLabel) == 0 {
		return nil
	}
	res := &StruggleResult{Cap: limit}
	for label, st := range byLabel {
		res.Hooks = append(res.Hooks, StruggledHook{Label: label, StruggleStats: st})
		res.Requests += st.Requests
		res.Status503 += st.Status503
		res.PeakInflight = max(res.PeakInflight, st.PeakInflight)
	}
	slices.SortFunc(res.Hooks, func(a, b StruggledHook) int {
		if len(a.Label) != len(b.Label) {
			return len(a.Label) - len(b.Label) // h2 before h10
		}
		return cmp.Compare(a.Label, b.Label)
	})
	if res.Requests > 0 {
		res.Share503 = float64(res.Status503) / float64(res.Requests)
	}
	return res
}
