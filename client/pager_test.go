package client

import (
	"net/http"
	"slices"
	"strconv"
	"sync"
	"testing"

	"github.com/hookd/hookd"
)

// fakeLog is a delivery log served newest first, as DocSpace (ignoring maxId, no state) or
// hookd (honouring maxId, rows with a state) serve it. grow is called before every request
// but the first, to add rows as a busy server would.
type fakeLog struct {
	mu         sync.Mutex
	ids        []int64 // ascending
	failed     map[int64]bool
	honorMaxID bool
	withState  bool
	requests   int
	grow       func(l *fakeLog)
}

func (l *fakeLog) add(n int) {
	next := int64(1)
	if len(l.ids) > 0 {
		next = l.ids[len(l.ids)-1] + 1
	}
	for range n {
		l.ids = append(l.ids, next)
		next++
	}
}

func (l *fakeLog) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.requests > 0 && l.grow != nil {
		l.grow(l)
	}
	l.requests++
	q := r.URL.Query()
	maxID, _ := strconv.ParseInt(q.Get("maxId"), 10, 64)
	start, _ := strconv.Atoi(q.Get("startIndex"))
	count, _ := strconv.Atoi(q.Get("count"))
	if count == 0 {
		count = 100
	}
	onlyFailed := q.Get("groupStatus") != ""
	var match []int64
	for i := len(l.ids) - 1; i >= 0; i-- {
		id := l.ids[i]
		if l.honorMaxID && maxID > 0 && id > maxID {
			continue
		}
		if onlyFailed && !l.failed[id] {
			continue
		}
		match = append(match, id)
	}
	rows := []map[string]any{}
	for _, id := range match[min(start, len(match)):min(start+count, len(match))] {
		row := map[string]any{"id": id, "trigger": 128, "creationTime": "2026-07-01T10:00:00Z", "status": 503}
		if l.withState {
			row["state"] = "failed"
		}
		rows = append(rows, row)
	}
	writeEnvelope(w, 200, rows, int64(len(match)))
}

func walk(t *testing.T, l *fakeLog, f DeliveryFilter) []int64 {
	t.Helper()
	c, _ := fakeServer(t, l.ServeHTTP)
	var got []int64
	for d, err := range c.AllDeliveries(t.Context(), f) {
		if err != nil {
			t.Fatalf("AllDeliveries: %v", err)
		}
		got = append(got, d.ID)
	}
	return got
}

func descending(from, to int64) []int64 {
	var ids []int64
	for id := from; id >= to; id-- {
		ids = append(ids, id)
	}
	return ids
}

// steady adds 13 rows before every request; bursts adds 40, nothing, 25, then nothing.
func steady(int) int   { return 13 }
func bursts(r int) int { return []int{0, 40, 0, 25, 3, 0, 0}[min(r, 6)] }

func TestPagerWhileDeliveriesArrive(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		honorMaxID bool
		withState  bool
		count      int

		arrive func(request int) int // rows that arrive before a request
	}{
		{"HookdPinsByMaxID", true, true, 0, steady},
		{"DocSpaceFollowsTotal", false, false, 0, steady},
		{"DocSpaceSmallPages", false, false, 7, steady},
		{"DocSpaceBurstsThenQuiet", false, false, 10, bursts},
		{"StateButMaxIDIgnoredFallsBack", false, true, 30, steady},
		{"MaxIDWithoutStateUsesOffset", true, false, 30, steady},
		{"HookdBursts", true, true, 10, bursts},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			l := &fakeLog{honorMaxID: tt.honorMaxID, withState: tt.withState,
				grow: func(l *fakeLog) { l.add(tt.arrive(l.requests)) }}
			l.add(250)
			got := walk(t, l, DeliveryFilter{Count: tt.count})
			if tt.honorMaxID && tt.withState {
				if want := descending(250, 1); !slices.Equal(got, want) {
					t.Errorf("got ids %v..., want 250..1 in order", got[:min(len(got), 12)])
				}
			}
			// Offset paging may recover a skipped stretch late: exactly once, not in order.
			slices.SortFunc(got, func(a, b int64) int { return int(b - a) })
			if want := descending(250, 1); !slices.Equal(got, want) {
				t.Errorf("got %d ids %v..., want 250..1 each once", len(got), got[:min(len(got), 12)])
			}
		})
	}
}

func TestPagerRowsLeavingTheFilter(t *testing.T) {
	t.Parallel()
	// While a hookd walk over failed deliveries runs, older failed rows get delivered (leave
	// the filter) and new failed rows arrive. The walk must return every row that stayed
	// failed exactly once: pinning by id makes both changes harmless.
	l := &fakeLog{honorMaxID: true, withState: true, failed: map[int64]bool{}}
	l.add(300)
	for _, id := range l.ids {
		l.failed[id] = id%3 != 0
	}
	healed := map[int64]bool{}
	l.grow = func(l *fakeLog) {
		l.add(20)
		for _, id := range l.ids[len(l.ids)-20:] {
			l.failed[id] = true
		}
		for _, id := range []int64{int64(l.requests * 2), int64(l.requests*2 + 1)} {
			if l.failed[id] {
				l.failed[id] = false
				healed[id] = true
			}
		}
	}
	got := walk(t, l, DeliveryFilter{GroupStatus: GroupStatusFailed, Count: 25})
	seen := map[int64]int{}
	for _, id := range got {
		seen[id]++
		if id > 300 {
			t.Errorf("got id %d, which arrived after the walk started", id)
		}
	}
	for id := int64(1); id <= 300; id++ {
		stayed := id%3 != 0 && !healed[id]
		if stayed && seen[id] != 1 {
			t.Errorf("got id %d %d times, want once", id, seen[id])
		}
		if seen[id] > 1 {
			t.Errorf("got id %d %d times", id, seen[id])
		}
	}
}

func TestPagerTotalAndPin(t *testing.T) {
	t.Parallel()
	l := &fakeLog{honorMaxID: true, withState: true}
	l.add(42)
	c, _ := fakeServer(t, l.ServeHTTP)
	p := c.DeliveryPager(DeliveryFilter{Count: 10})
	if p.Total() != -1 || p.MaxID() != 0 {
		t.Errorf("before the first page: got total %d, max id %d, want -1, 0", p.Total(), p.MaxID())
	}
	n := 0
	for {
		page, err := p.Next(t.Context())
		if err != nil {
			t.Fatalf("Next: %v", err)
		}
		if len(page) == 0 {
			break
		}
		n += len(page)
	}
	if n != 42 || p.Total() != 42 || p.MaxID() != 42 {
		t.Errorf("got %d rows, total %d, max id %d, want 42 each", n, p.Total(), p.MaxID())
	}
}

func TestVerifySignature(t *testing.T) {
	t.Parallel()
	body := []byte(`{"event":{"id":1},"payload":{"title":"Report <1> & co"}}`)
	upper := hookd.Sign("s3cret-key", body) // DocSpace form: upper-case hex
	lower := "sha256=" + toLower(upper[len("sha256="):])
	tests := []struct {
		name   string
		secret string
		body   []byte
		header string
		want   bool
	}{
		{"UpperCaseHex", "s3cret-key", body, upper, true},
		{"LowerCaseHex", "s3cret-key", body, lower, true},
		{"UpperCasePrefix", "s3cret-key", body, "SHA256=" + upper[7:], true},
		{"WrongSecret", "other", body, upper, false},
		{"AlteredBody", "s3cret-key", append([]byte(" "), body...), upper, false},
		{"NoPrefix", "s3cret-key", body, upper[7:], false},
		{"NotHex", "s3cret-key", body, "sha256=zz", false},
		{"Empty", "s3cret-key", body, "", false},
		{"Truncated", "s3cret-key", body, upper[:40], false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := VerifySignature(tt.secret, tt.body, tt.header); got != tt.want {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func toLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

func TestParseTriggers(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in      string
		want    Trigger
		wantErr bool
	}{
		{"file.created", TriggerFileCreated, false},
		{"File.Created,file.uploaded", TriggerFileCreated | TriggerFileUploaded, false},
		{"384", 384, false},
		{"*", TriggerAll, false},
		{"34359738368", TriggerFolderDownloaded, false},
		{"68719476736", 0, true}, // 2^36: not a trigger
		{"file.exploded", 0, true},
	}
	for _, tt := range tests {
		got, err := ParseTriggers(tt.in)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("ParseTriggers(%q): got %d, %v; want %d, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}
