package httpapi

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/hookd/hookd"
)

// Replay jobs (hookd extension): POST /api/2.0/webhooks/replays with a log filter starts a job
// that re-sends every matching delivery as a new one (or, with dryRun, only counts them);
// the runner (internal/replay) does the work at the job's pace. docs/replay.md is the guide.

// Paging of the replay listings.
const (
	defaultReplayCount   = 100
	maxReplayCount       = 100
	maxReplayItemCount   = 1000
	defaultReplaySample  = 10
	idempotencyKeyHeader = "Idempotency-Key"
)

// replayFilterKeys are the body fields read as log filters, by the log's own rules (spec §1.6).
var replayFilterKeys = []string{"deliveryFrom", "deliveryTo", "hookUri", "configId", "eventId", "groupStatus", "userId", "trigger", "maxId"}

// replayRequest is the body of POST /webhooks/replays once read.
type replayRequest struct {
	params hookd.ReplayParams
	dryRun bool
	maxID  bool // the caller pinned the job itself
}

// readReplayRequest reads the body: the log filters (strings or numbers, as in the log's
// query), and dryRun, rate, window, sample, excludeRetried, idempotencyKey. Keys match
// case-insensitively; an unknown key is refused, since a misspelt filter would widen the
// replay.
func (a *API) readReplayRequest(w http.ResponseWriter, r *http.Request, k *hookd.Key) (*replayRequest, error) {
	var raw map[string]json.RawMessage
	if err := a.decodeJSON(w, r, &raw); err != nil {
		return nil, err
	}
	fields := map[string]json.RawMessage{}
	for name, v := range raw {
		fields[strings.ToLower(name)] = v
	}
	filter := url.Values{}
	for _, name := range replayFilterKeys {
		v, ok := fields[strings.ToLower(name)]
		if !ok {
			continue
		}
		delete(fields, strings.ToLower(name))
		s, ok := jsonScalar(v)
		if !ok {
			return nil, hookd.Errorf(hookd.EINVALID, "The value of %s has the wrong type: want a string or a number.", name)
		}
		if s != "" {
			filter.Set(name, s)
		}
	}
	req := &replayRequest{maxID: filter.Has("maxId")}
	p := &req.params
	var err error
	if p.Filter, err = logFilter(filter, k); err != nil {
		return nil, err
	}
	p.Filter.Offset, p.Filter.Limit = 0, 0
	p.CreatedBy = k.UserID
	p.Rate = hookd.DefaultReplayRate
	p.Sample = defaultReplaySample
	for name, v := range fields {
		var dst any
		switch name {
		case "dryrun":
			dst = &req.dryRun
		case "excluderetried":
			dst = &p.ExcludeRetried
		case "rate":
			dst = &p.Rate
		case "window":
			dst = &p.Window
		case "sample":
			dst = &p.Sample
		case "idempotencykey":
			dst = &p.IdempotencyKey
		default:
			return nil, hookd.Errorf(hookd.EINVALID, "Unknown field %q: a replay takes %s, dryRun, rate, window, sample, excludeRetried and idempotencyKey.",
				name, strings.Join(replayFilterKeys, ", "))
		}
		if string(v) == "null" {
			continue
		}
		if err := decodeBytes(v, dst); err != nil {
			return nil, hookd.Errorf(hookd.EINVALID, "The value of %s has the wrong type.", name)
		}
	}
	if p.Window == 0 {
		p.Window = hookd.DefaultReplayWindow(p.Rate)
	}
	if h := strings.TrimSpace(r.Header.Get(idempotencyKeyHeader)); h != "" {
		if p.IdempotencyKey != "" && p.IdempotencyKey != h {
			return nil, hookd.Errorf(hookd.EINVALID, "The Idempotency-Key header and the idempotencyKey field differ.")
		}
		p.IdempotencyKey = h
	}
	if err := p.Validate(); err != nil {
		return nil, err
	}
	return req, nil
}

// handleReplayCreate answers POST /webhooks/replays: a dry run's count and sample, or a new
// job (202), or the job this user already started with the same idempotency key (200).
func (a *API) handleReplayCreate(w http.ResponseWriter, r *http.Request) error {
	k := caller(r.Context())
	req, err := a.readReplayRequest(w, r, k)
	if err != nil {
		return err
	}
	if req.dryRun {
		return a.replayPreview(w, r, &req.params)
	}
	job, created, err := a.store.ReplayCreate(r.Context(), &req.params)
	if err != nil {
		return err
	}
	if !created && !sameReplay(job, req) {
		return hookd.Errorf(hookd.ECONFLICT, "The idempotency key %q was used for replay %d with other parameters: use a new key for a new replay.",
			req.params.IdempotencyKey, job.ID)
	}
	status := http.StatusOK
	if created {
		status = http.StatusAccepted // the runner takes it up at its next look, within a second
	}
	w.Header().Set("Location", "/api/2.0/webhooks/replays/"+strconv.FormatInt(job.ID, 10))
	return writeEnvelope(w, r, status, newReplayDTO(job), nil)
}

// sameReplay reports whether job was made from the same request as req, its pin aside when the
// request did not set one.
func sameReplay(job *hookd.Replay, req *replayRequest) bool {
	got, want := newReplayDTO(job), newReplayDTO(&hookd.Replay{Filter: req.params.Filter,
		ExcludeRetried: req.params.ExcludeRetried, Rate: req.params.Rate, Window: req.params.Window})
	if !req.maxID {
		got.Filter.MaxID, want.Filter.MaxID = 0, 0
	}
	g, _ := json.Marshal([]any{got.Filter, got.ExcludeRetried, got.Rate, got.Window})
	o, _ := json.Marshal([]any{want.Filter, want.ExcludeRetried, want.Rate, want.Window})
	return bytes.Equal(g, o)
}

// replayPreview answers a dry run: what a job would replay, and the first deliveries of it.
func (a *API) replayPreview(w http.ResponseWriter, r *http.Request, p *hookd.ReplayParams) error {
	pv, err := a.store.ReplayPreview(r.Context(), p)
	if err != nil {
		return err
	}
	sample := make([]*hookd.Delivery, 0, len(pv.SampleIDs))
	for _, id := range pv.SampleIDs {
		d, err := a.store.DeliveryGet(r.Context(), id)
		if hookd.ErrorCode(err) == hookd.ENOTFOUND {
			continue // pruned or deleted since
		} else if err != nil {
			return err
		}
		sample = append(sample, d)
	}
	rows, err := a.logDTOs(r.Context(), sample)
	if err != nil {
		return err
	}
	return writeOK(w, r, replayPreviewDTO{
		DryRun: true, Total: pv.Total, Skipped: pv.Skipped, ToReplay: pv.Total - pv.Skipped, MaxID: pv.MaxID, Sample: rows,
	})
}

// handleReplayList answers GET /webhooks/replays: the caller's jobs (an admin's: everyone's),
// newest first, paged by startIndex and count.
func (a *API) handleReplayList(w http.ResponseWriter, r *http.Request) error {
	k := caller(r.Context())
	q := newQuery(r.URL.Query())
	start, count, err := q.page(defaultReplayCount, maxReplayCount)
	if err != nil {
		return err
	}
	f := hookd.ReplayFilter{Offset: start, Limit: count}
	if !isAdmin(k) {
		f.CreatedBy = &k.UserID
	}
	jobs, total, err := a.store.ReplayList(r.Context(), f)
	if err != nil {
		return err
	}
	out := make(list[replayDTO], 0, len(jobs))
	for _, j := range jobs {
		out = append(out, newReplayDTO(j))
	}
	return writeEnvelope(w, r, http.StatusOK, out, &total)
}

// handleReplayGet answers GET /webhooks/replays/{id}: the job and its progress.
func (a *API) handleReplayGet(w http.ResponseWriter, r *http.Request) error {
	job, err := a.visibleReplay(r)
	if err != nil {
		return err
	}
	return writeOK(w, r, newReplayDTO(job))
}

// handleReplayItems answers GET /webhooks/replays/{id}/items: what became of each pinned
// delivery, in id order, paged by startIndex and count (up to 1,000), optionally one state.
func (a *API) handleReplayItems(w http.ResponseWriter, r *http.Request) error {
	job, err := a.visibleReplay(r)
	if err != nil {
		return err
	}
	q := newQuery(r.URL.Query())
	start, count, err := q.page(defaultReplayCount, maxReplayItemCount)
	if err != nil {
		return err
	}
	f := hookd.ReplayItemFilter{ReplayID: job.ID, Offset: start, Limit: count}
	switch s := hookd.ReplayItemState(strings.ToLower(q["state"])); s {
	case "", hookd.ReplayItemPending, hookd.ReplayItemRetried, hookd.ReplayItemSkipped, hookd.ReplayItemFailed, hookd.ReplayItemCancelled:
		f.State = s
	default:
		return invalidParam("state", q["state"], "pending, retried, skipped, failed or cancelled")
	}
	items, total, err := a.store.ReplayItemList(r.Context(), f)
	if err != nil {
		return err
	}
	out := make(list[replayItemDTO], 0, len(items))
	for _, it := range items {
		out = append(out, replayItemDTO{
			DeliveryID: it.DeliveryID, State: it.State, NewDeliveryID: it.NewDeliveryID,
			ProcessedOn: utcPtr(it.ProcessedOn), ConfigID: it.WebhookID, ConfigName: it.WebhookName, Trigger: it.Trigger,
		})
	}
	return writeEnvelope(w, r, http.StatusOK, out, &total)
}

// handleReplayCancel answers POST /webhooks/replays/{id}/cancel and DELETE /webhooks/replays/{id}:
// the job stops; what it already re-sent stays sent. Cancelling a finished job changes nothing.
func (a *API) handleReplayCancel(w http.ResponseWriter, r *http.Request) error {
	job, err := a.visibleReplay(r)
	if err != nil {
		return err
	}
	if job, err = a.store.ReplayCancel(r.Context(), job.ID); err != nil {
		return err
	}
	return writeOK(w, r, newReplayDTO(job))
}

// visibleReplay returns the job of the path if it exists (else 404) and the caller started it
// or is an admin (else 403).
func (a *API) visibleReplay(r *http.Request) (*hookd.Replay, error) {
	k := caller(r.Context())
	id, err := pathID(r)
	if err != nil {
		return nil, err
	}
	job, err := a.store.ReplayGet(r.Context(), id)
	if err != nil {
		return nil, err
	}
	if !isAdmin(k) && (k.UserID == "" || job.CreatedBy != k.UserID) {
		return nil, hookd.ErrAccessDenied
	}
	return job, nil
}

// jsonScalar returns a JSON string's value or a number's text; null is "". ok is false for
// anything else (objects, arrays, booleans).
func jsonScalar(raw json.RawMessage) (string, bool) {
	raw = bytes.TrimSpace(raw)
	switch {
	case len(raw) == 0 || string(raw) == "null":
		return "", true
	case raw[0] == '"':
		var s string
		err := json.Unmarshal(raw, &s)
		return s, err == nil
	case raw[0] == '-' || (raw[0] >= '0' && raw[0] <= '9'):
		var n json.Number
		err := json.Unmarshal(raw, &n)
		return n.String(), err == nil
	}
	return "", false
}

// page reads startIndex (0 or more) and count (1..max, default def).
func (q query) page(def, max int) (int, int, error) {
	count, ok, err := q.int64("count")
	switch {
	case err != nil:
		return 0, 0, err
	case !ok:
		count = int64(def)
	case count < 1 || count > int64(max):
		return 0, 0, invalidParam("count", q["count"], "an integer from 1 to "+strconv.Itoa(max))
	}
	start, _, err := q.int64("startIndex")
	switch {
	case err != nil:
		return 0, 0, err
	case start < 0 || start > 1<<31:
		return 0, 0, invalidParam("startIndex", q["startindex"], "an integer from 0 to 2147483648")
	}
	return int(start), int(count), nil
}

// replayDTO is a job as the API shows it.
type replayDTO struct {
	ID             int64             `json:"id"`
	State          hookd.ReplayState `json:"state"`
	Filter         replayFilterDTO   `json:"filter"`
	ExcludeRetried bool              `json:"excludeRetried"`
	Rate           int               `json:"rate"`
	Window         int               `json:"window"`
	IdempotencyKey string            `json:"idempotencyKey,omitempty"`
	CreatedBy      string            `json:"createdBy"`
	CreatedOn      *time.Time        `json:"createdOn,omitempty"`
	StartedOn      *time.Time        `json:"startedOn,omitempty"`
	FinishedOn     *time.Time        `json:"finishedOn,omitempty"`
	Total          int64             `json:"total"`
	Processed      int64             `json:"processed"`
	Pending        int64             `json:"pending"`
	Retried        int64             `json:"retried"`
	Skipped        int64             `json:"skipped"`
	Failed         int64             `json:"failed"`
	Cancelled      int64             `json:"cancelled"`
}

// replayFilterDTO is a job's filter, in the names and forms of the log's query.
type replayFilterDTO struct {
	DeliveryFrom *time.Time    `json:"deliveryFrom,omitempty"`
	DeliveryTo   *time.Time    `json:"deliveryTo,omitempty"`
	HookURI      *string       `json:"hookUri,omitempty"`
	ConfigID     *int64        `json:"configId,omitempty"`
	EventID      *int64        `json:"eventId,omitempty"`
	GroupStatus  string        `json:"groupStatus,omitempty"`
	UserID       *string       `json:"userId,omitempty"`
	Trigger      hookd.Trigger `json:"trigger,omitempty"`
	MaxID        int64         `json:"maxId"`
}

func newReplayDTO(j *hookd.Replay) replayDTO {
	f := j.Filter
	dto := replayDTO{
		ID: j.ID, State: j.State, ExcludeRetried: j.ExcludeRetried, Rate: j.Rate, Window: j.Window,
		IdempotencyKey: j.IdempotencyKey, CreatedBy: j.CreatedBy, StartedOn: utcPtr(j.StartedOn),
		FinishedOn: utcPtr(j.FinishedOn), Total: j.Total, Processed: j.Processed(), Pending: j.Pending(),
		Retried: j.Retried, Skipped: j.Skipped, Failed: j.Failed, Cancelled: j.Cancelled,
		Filter: replayFilterDTO{DeliveryFrom: utcPtr(f.DeliveryFrom), DeliveryTo: utcPtr(f.DeliveryTo), HookURI: f.HookURI,
			ConfigID: f.WebhookID, EventID: f.DeliveryID, GroupStatus: groupStatusNames(f.GroupStatus),
			UserID: f.CreatedBy, Trigger: f.Trigger},
	}
	if !j.CreatedOn.IsZero() {
		dto.CreatedOn = utcPtr(&j.CreatedOn)
	}
	if f.MaxID != nil {
		dto.Filter.MaxID = *f.MaxID
	}
	return dto
}

// groupStatusNames writes g as names the log's groupStatus accepts back.
func groupStatusNames(g hookd.GroupStatus) string {
	var names []string
	for _, n := range []struct {
		bit  hookd.GroupStatus
		name string
	}{
		{hookd.GroupStatusNotSent, "NotSent"}, {hookd.GroupStatus2xx, "Status2xx"}, {hookd.GroupStatus3xx, "Status3xx"},
		{hookd.GroupStatus4xx, "Status4xx"}, {hookd.GroupStatus5xx, "Status5xx"}, {hookd.GroupStatusFailed, "Failed"},
	} {
		if g&n.bit != 0 {
			names = append(names, n.name)
		}
	}
	return strings.Join(names, ",")
}

// replayPreviewDTO is the answer of a dry run.
type replayPreviewDTO struct {
	DryRun   bool         `json:"dryRun"`
	Total    int64        `json:"total"`    // deliveries that match
	Skipped  int64        `json:"skipped"`  // of those, already retried (excludeRetried)
	ToReplay int64        `json:"toReplay"` // what a job would re-send
	MaxID    int64        `json:"maxId"`    // the pin a job created now would use
	Sample   list[logDTO] `json:"sample"`   // the first deliveries it would re-send, oldest first
}

// replayItemDTO is one pinned delivery of a job.
type replayItemDTO struct {
	DeliveryID    int64                 `json:"deliveryId"`
	State         hookd.ReplayItemState `json:"state"`
	NewDeliveryID int64                 `json:"newDeliveryId,omitempty"`
	ProcessedOn   *time.Time            `json:"processedOn,omitempty"`
	ConfigID      int64                 `json:"configId,omitempty"`
	ConfigName    string                `json:"configName,omitempty"`
	Trigger       hookd.Trigger         `json:"trigger,omitempty"`
}
