package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
)

// pathPublishBatch is hookd's batch publish endpoint (s9-design.md, "Batch publish"). The
// client package has no call for it, so the benchmark posts the wire format itself.
const pathPublishBatch = "/api/2.0/webhooks/events/batch"

// maxBatchAnswer caps the answer read: a thousand events, each with its deliveries.
const maxBatchAnswer = 64 << 20

// batchAnswer is the part of the batch publish answer the benchmark checks: one published
// event per event sent, in order, or the DocSpace error envelope.
type batchAnswer struct {
	Response *struct {
		Events []struct {
			EventID int64 `json:"eventId"`
		} `json:"events"`
	} `json:"response"`
	Error *struct {
		Message string `json:"message"`
	} `json:"error"`
}

// batchSender publishes the events of one request through the batch publish endpoint of the
// server at base, with the API key key (sent as a bearer token, never printed).
func batchSender(hc *http.Client, base, key string, trigger int64) sendFunc {
	url := strings.TrimSuffix(base, "/") + pathPublishBatch
	return func(ctx context.Context, seq0 int64, n int, ts int64) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(batchBody(trigger, seq0, n, ts)))
		if err != nil {
			return fmt.Errorf("batch publish: %w", err)
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json")
		req.Header.Set("Authorization", "Bearer "+key)
		resp, err := hc.Do(req)
		if err != nil {
			return fmt.Errorf("batch publish: %w", err)
		}
		defer resp.Body.Close()
		var out batchAnswer
		if err := json.NewDecoder(io.LimitReader(resp.Body, maxBatchAnswer)).Decode(&out); err != nil {
			return fmt.Errorf("batch publish: status %d, answer not a JSON envelope: %w", resp.StatusCode, err)
		}
		switch {
		case resp.StatusCode != http.StatusAccepted && out.Error != nil:
			return fmt.Errorf("batch publish: status %d: %s", resp.StatusCode, out.Error.Message)
		case resp.StatusCode != http.StatusAccepted:
			return fmt.Errorf("batch publish: status %d, want 202", resp.StatusCode)
		case out.Response == nil || len(out.Response.Events) != n:
			got := 0
			if out.Response != nil {
				got = len(out.Response.Events)
			}
			return fmt.Errorf("batch publish: %d events in the answer, want %d", got, n)
		}
		for i, ev := range out.Response.Events {
			if ev.EventID <= 0 {
				return fmt.Errorf("batch publish: events[%d] has no eventId", i)
			}
		}
		return nil
	}
}

// batchBody is the batch publish request of n events with sequence numbers seq0.. stamped ts:
// {"events":[{"trigger":T,"payload":{...}}, ...]}.
func batchBody(trigger, seq0 int64, n int, ts int64) []byte {
	b := make([]byte, 0, 16+n*(48+len(payloadTail)))
	b = append(b, `{"events":[`...)
	for i := range int64(n) {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"trigger":`...)
		b = strconv.AppendInt(b, trigger, 10)
		b = append(b, `,"payload":`...)
		b = append(b, payload(seq0+i, ts)...)
		b = append(b, '}')
	}
	return append(b, "]}"...)
}
