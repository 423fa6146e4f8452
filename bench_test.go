package hookd_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/hookd/hookd"
)

// benchEvent is a typical DocSpace file event: a payload of about 230 bytes.
var benchEvent = &hookd.Event{
	ID:      4711,
	Trigger: 1 << 7, // file.created
	Payload: json.RawMessage(`{"id":4711,"title":"Quarterly report.docx","folderId":7,"rootId":3,"version":2,` +
		`"createdBy":{"id":"0b8c9a4e-1234-4cde-8f00-aabbccddeeff","displayName":"Jane Doe"}}`),
	CreatedBy: "0b8c9a4e-1234-4cde-8f00-aabbccddeeff",
	CreatedOn: time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC),
}

var benchWebhook = &hookd.Webhook{ID: 12, Name: "Accounting sync", URI: "https://receiver.example/docspace",
	Secret: "0123456789abcdef0123456789abcdef", Triggers: 1<<7 | 1<<9 | 1<<10, TargetID: "4711"}

// BenchmarkSign measures the signature of one delivery body.
func BenchmarkSign(b *testing.B) {
	body, err := hookd.BuildBody(benchEvent, benchWebhook, 99, nil)
	if err != nil {
		b.Fatalf("BuildBody: %v", err)
	}
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if sig := hookd.Sign(benchWebhook.Secret, body); len(sig) != len("sha256=")+64 {
			b.Fatalf("got signature of %d characters, want %d", len(sig), len("sha256=")+64)
		}
	}
}

// BenchmarkBuildBody measures the envelope of a first attempt and of an automatic retry.
func BenchmarkBuildBody(b *testing.B) {
	now := time.Date(2026, 3, 2, 10, 5, 0, 0, time.UTC)
	retry := &hookd.RetryInfo{Count: 2, On: now, LastFailureOn: now.Add(-5 * time.Minute),
		LastFailureContent: "receiver answered 503", LastSuccessOn: &benchEvent.CreatedOn}
	for _, bc := range []struct {
		name  string
		retry *hookd.RetryInfo
	}{{"FirstAttempt", nil}, {"Retry", retry}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				body, err := hookd.BuildBody(benchEvent, benchWebhook, 99, bc.retry)
				if err != nil || len(body) < len(benchEvent.Payload) {
					b.Fatalf("BuildBody: %d bytes, %v", len(body), err)
				}
			}
		})
	}
}
