package delivery_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hookd/hookd/internal/delivery"
)

// standardSig is the receiver's side of a Standard Webhooks v1 signature, written from the
// specification: HMAC-SHA256 of id.timestamp.body, keyed with the base64-decoded part of a
// whsec_ secret (or the secret's bytes), in standard base64 after "v1,".
func standardSig(secret, id, ts string, body []byte) string {
	key := []byte(secret)
	if rest, ok := strings.CutPrefix(secret, "whsec_"); ok {
		if k, err := base64.StdEncoding.DecodeString(rest); err == nil {
			key = k
		}
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte(id + "." + ts + "."))
	m.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(m.Sum(nil))
}

func TestSendSigning(t *testing.T) {
	t.Parallel()
	const (
		current  = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
		previous = "old-docspace-secret"
	)
	now := time.Date(2026, 7, 1, 8, 0, 0, 0, time.UTC)
	later, earlier := now.Add(time.Hour), now.Add(-time.Hour)
	for _, tc := range []struct {
		name          string
		standard      bool
		until         *time.Time
		wantStandard  bool
		wantPrevious  bool
		wantSigsCount int
	}{
		{"DocSpaceOnly", false, nil, false, false, 0},
		{"DocSpaceDuringRotation", false, &later, false, true, 0},
		{"Standard", true, nil, true, false, 1},
		{"StandardDuringRotation", true, &later, true, true, 2},
		{"StandardAfterRotation", true, &earlier, true, false, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv, seen := newReceiver(t, nil)
			s := newTestSender(t, delivery.SenderConfig{})
			c := newTestClaim(srv.URL, false)
			c.Webhook.Secret, c.Webhook.StandardSigning = current, tc.standard
			if tc.until != nil {
				c.Webhook.PreviousSecret, c.Webhook.PreviousSecretUntil = previous, tc.until
			}
			att := s.Send(context.Background(), c, now)
			req := <-seen
			if att.Status != http.StatusOK {
				t.Fatalf("got status %d (%s), want 200", att.Status, att.Error)
			}

			if got, want := req.header.Get("X-Docspace-Signature-256"), sign(current, req.body); got != want {
				t.Errorf("got DocSpace signature %q, want the current secret's %q", got, want)
			}
			prev := req.header.Get("X-Hookd-Signature-256-Previous")
			if want := sign(previous, req.body); tc.wantPrevious && prev != want {
				t.Errorf("got previous signature %q, want %q", prev, want)
			} else if !tc.wantPrevious && prev != "" {
				t.Errorf("got previous signature %q outside a rotation, want none", prev)
			}

			id, ts, sigs := req.header.Get("Webhook-Id"), req.header.Get("Webhook-Timestamp"), req.header.Get("Webhook-Signature")
			if !tc.wantStandard {
				if id != "" || ts != "" || sigs != "" {
					t.Errorf("got webhook-id %q timestamp %q signature %q, want no Standard Webhooks headers", id, ts, sigs)
				}
			} else {
				if id != "msg_4711" || ts != strconv.FormatInt(now.Unix(), 10) {
					t.Errorf("got webhook-id %q timestamp %q, want msg_4711 and %d", id, ts, now.Unix())
				}
				want := []string{standardSig(current, id, ts, req.body), standardSig(previous, id, ts, req.body)}[:tc.wantSigsCount]
				if got := strings.Split(sigs, " "); strings.Join(got, " ") != strings.Join(want, " ") {
					t.Errorf("got webhook-signature %q, want %q", sigs, want)
				}
			}

			// The attempt records exactly the signature headers that were sent.
			rec := http.Header(att.RequestHeaders)
			for _, name := range []string{"X-Docspace-Signature-256", "X-Hookd-Signature-256-Previous", "Webhook-Id", "Webhook-Timestamp", "Webhook-Signature"} {
				if rec.Get(name) != req.header.Get(name) {
					t.Errorf("recorded %s %q, sent %q", name, rec.Get(name), req.header.Get(name))
				}
			}
		})
	}
}

// TestSendStandardIDStaysAcrossRetries: automatic retries are attempts of the same delivery, so
// they keep its webhook-id, with a new timestamp and a signature over the new body.
func TestSendStandardIDStaysAcrossRetries(t *testing.T) {
	t.Parallel()
	srv, seen := newReceiver(t, nil)
	s := newTestSender(t, delivery.SenderConfig{})
	c := newTestClaim(srv.URL, false)
	c.Webhook.StandardSigning = true
	first := time.Date(2026, 7, 1, 8, 0, 0, 0, time.UTC)
	s.Send(context.Background(), c, first)
	a := <-seen
	failedOn := first.Add(time.Second)
	c.Delivery.Attempts, c.Delivery.DeliveredOn, c.Delivery.LastError = 1, &failedOn, "receiver answered 503"
	s.Send(context.Background(), c, first.Add(5*time.Second))
	b := <-seen

	if a.header.Get("Webhook-Id") != "msg_4711" || b.header.Get("Webhook-Id") != "msg_4711" {
		t.Errorf("got webhook-id %q then %q, want msg_4711 both times", a.header.Get("Webhook-Id"), b.header.Get("Webhook-Id"))
	}
	if a.header.Get("Webhook-Timestamp") == b.header.Get("Webhook-Timestamp") {
		t.Errorf("got the same timestamp %s on the retry, want the retry's own time", a.header.Get("Webhook-Timestamp"))
	}
	for i, r := range []capture{a, b} {
		want := standardSig(testSecret, "msg_4711", r.header.Get("Webhook-Timestamp"), r.body)
		if got := r.header.Get("Webhook-Signature"); got != want {
			t.Errorf("attempt %d: got signature %q, want %q", i+1, got, want)
		}
	}
}
