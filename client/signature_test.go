package client

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hookd/hookd"
)

// The test vector published with the Standard Webhooks reference libraries.
const (
	vectorSecret    = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	vectorID        = "msg_p5jXN8AQM9LWM0D4loKWxJek"
	vectorTimestamp = "1614265330"
	vectorBody      = `{"test": 2432232314}`
	vectorSignature = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
)

func vectorHeaders(sig, ts string) http.Header {
	h := http.Header{}
	h.Set("webhook-id", vectorID)
	h.Set("webhook-timestamp", ts)
	h.Set("webhook-signature", sig)
	return h
}

func TestVerifyStandard(t *testing.T) {
	t.Parallel()
	signedAt := time.Unix(1614265330, 0)
	other := "v1,K5oZfzN95Z9UVu1EsfQmfVNQhnkZ2pj9o9NDN/H/pI4="
	for _, tc := range []struct {
		name      string
		secret    string
		headers   http.Header
		body      string
		tolerance time.Duration
		now       time.Time
		want      error
	}{
		{"SpecVector", vectorSecret, vectorHeaders(vectorSignature, vectorTimestamp), vectorBody, 0, signedAt, nil},
		{"OneOfSeveral", vectorSecret, vectorHeaders(other+" v1a,AAAA "+vectorSignature, vectorTimestamp), vectorBody, 0, signedAt, nil},
		{"WithinDefaultTolerance", vectorSecret, vectorHeaders(vectorSignature, vectorTimestamp), vectorBody, 0, signedAt.Add(5 * time.Minute), nil},
		{"TooOld", vectorSecret, vectorHeaders(vectorSignature, vectorTimestamp), vectorBody, 0, signedAt.Add(5*time.Minute + time.Second), ErrTimestampTooOld},
		{"TooNew", vectorSecret, vectorHeaders(vectorSignature, vectorTimestamp), vectorBody, 0, signedAt.Add(-5*time.Minute - time.Second), ErrTimestampTooNew},
		{"CustomTolerance", vectorSecret, vectorHeaders(vectorSignature, vectorTimestamp), vectorBody, time.Hour, signedAt.Add(59 * time.Minute), nil},
		{"TamperedBody", vectorSecret, vectorHeaders(vectorSignature, vectorTimestamp), `{"test": 2432232315}`, 0, signedAt, ErrSignatureMismatch},
		{"WrongSecret", "whsec_" + strings.Repeat("A", 32), vectorHeaders(vectorSignature, vectorTimestamp), vectorBody, 0, signedAt, ErrSignatureMismatch},
		{"OnlyOtherSchemes", vectorSecret, vectorHeaders("v1a,"+strings.TrimPrefix(vectorSignature, "v1,")+" v2,x", vectorTimestamp), vectorBody, 0, signedAt, ErrSignatureMismatch},
		{"ShiftedTimestamp", vectorSecret, vectorHeaders(vectorSignature, "1614265331"), vectorBody, 0, signedAt, ErrSignatureMismatch},
		{"BadTimestamp", vectorSecret, vectorHeaders(vectorSignature, "yesterday"), vectorBody, 0, signedAt, ErrInvalidTimestamp},
		{"MissingHeaders", vectorSecret, http.Header{}, vectorBody, 0, signedAt, ErrMissingHeaders},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := VerifyStandard(tc.secret, tc.headers, []byte(tc.body), tc.tolerance, tc.now)
			if !errors.Is(err, tc.want) {
				t.Errorf("got %v, want %v", err, tc.want)
			}
		})
	}
}

// TestVerifyHookdSignatures checks the client against what hookd signs, for both schemes,
// during a rotation and after it.
func TestVerifyHookdSignatures(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 7, 1, 8, 0, 0, 0, time.UTC)
	body := []byte(`{"event":{"id":9},"payload":{"id":1}}`)
	newSecret, oldSecret := hookd.NewStandardSecret(), "plain-old-secret"
	until := now.Add(time.Hour)
	w := &hookd.Webhook{Secret: newSecret, StandardSigning: true, PreviousSecret: oldSecret, PreviousSecretUntil: &until}
	during := header(hookd.SignatureHeaders(w, 9, body, now))
	after := header(hookd.SignatureHeaders(w, 9, body, until))
	for _, tc := range []struct {
		name    string
		secret  string
		headers http.Header
		ok      bool
	}{
		{"NewSecretDuringRotation", newSecret, during, true},
		{"OldSecretDuringRotation", oldSecret, during, true},
		{"NewSecretAfterRotation", newSecret, after, true},
		{"OldSecretAfterRotation", oldSecret, after, false},
		{"UnknownSecret", "someone-else", during, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			at := now
			if tc.headers.Get("webhook-timestamp") != during.Get("webhook-timestamp") {
				at = until
			}
			if err := VerifyStandard(tc.secret, tc.headers, body, 0, at); (err == nil) != tc.ok {
				t.Errorf("VerifyStandard: got %v, want ok=%v", err, tc.ok)
			}
			if got := VerifyDocSpace(tc.secret, tc.headers, body); got != tc.ok {
				t.Errorf("VerifyDocSpace: got %v, want %v", got, tc.ok)
			}
		})
	}
	if VerifySignature(oldSecret, body, during.Get(SignatureHeader)) {
		t.Errorf("the x-docspace-signature-256 header verifies with the old secret during a rotation, want the new one only")
	}
}

func header(m map[string]string) http.Header {
	h := http.Header{}
	for k, v := range m {
		h.Set(k, v)
	}
	return h
}

func TestRotateWebhookSecret(t *testing.T) {
	t.Parallel()
	var got struct {
		method, path string
		body         map[string]any
	}
	c, _ := fakeServer(t, func(w http.ResponseWriter, r *http.Request) {
		raw, _ := io.ReadAll(r.Body)
		got.method, got.path = r.Method, r.URL.Path
		json.Unmarshal(raw, &got.body)
		writeEnvelope(w, 200, map[string]any{"id": 7, "name": "n", "uri": "https://x.example/", "enabled": true,
			"ssl": true, "triggers": 0, "standardSigning": true, "previousSecretUntil": "2026-07-02T08:00:00Z"}, -1)
	})
	w, err := c.RotateWebhookSecret(t.Context(), 7, "whsec_new", 90*time.Minute)
	if err != nil {
		t.Fatalf("RotateWebhookSecret: %v", err)
	}
	if got.method != "PUT" || got.path != "/api/2.0/webhooks/7/secret" {
		t.Errorf("got %s %s, want PUT /api/2.0/webhooks/7/secret", got.method, got.path)
	}
	if got.body["secretKey"] != "whsec_new" || got.body["overlap"] != "1h30m0s" {
		t.Errorf("got body %v, want the secret and overlap 1h30m0s", got.body)
	}
	want := time.Date(2026, 7, 2, 8, 0, 0, 0, time.UTC)
	if !w.StandardSigning || w.PreviousSecretUntil == nil || !w.PreviousSecretUntil.Equal(want) {
		t.Errorf("got standardSigning %v previousSecretUntil %v, want true and %v", w.StandardSigning, w.PreviousSecretUntil, want)
	}
}

// FuzzVerifyStandard feeds arbitrary headers to VerifyStandard: it must never panic, and
// anything it accepts must carry the true signature of the body over its id and timestamp.
func FuzzVerifyStandard(f *testing.F) {
	f.Add(vectorID, vectorTimestamp, vectorSignature, vectorBody)
	f.Add(vectorID, vectorTimestamp, "v1, v1,, ,v1 v1a,=", "")
	f.Add("msg_1.1", "1614265300", "v1,"+strings.Repeat("A", 44), "{}")
	f.Fuzz(func(t *testing.T, id, ts, sig, body string) {
		h := vectorHeaders(sig, ts)
		h.Set("webhook-id", id)
		if VerifyStandard(vectorSecret, h, []byte(body), 0, time.Unix(1614265330, 0)) != nil {
			return
		}
		if _, err := strconv.ParseInt(ts, 10, 64); err != nil {
			t.Fatalf("accepted timestamp %q, which is not unix seconds", ts)
		}
		mac := hmac.New(sha256.New, hookd.StandardKey(vectorSecret))
		mac.Write([]byte(id + "." + ts + "." + body)) // the header as sent is what was signed
		want := "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
		if !slices.Contains(strings.Fields(sig), want) {
			t.Fatalf("accepted id %q ts %q sig %q without the true signature %s", id, ts, sig, want)
		}
	})
}
