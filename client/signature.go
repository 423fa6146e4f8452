package client

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// SignatureHeader is the request header in which DocSpace and hookd sign a delivery's body.
const SignatureHeader = "x-docspace-signature-256"

// PreviousSignatureHeader carries, while hookd rotates a webhook's secret, the DocSpace
// signature made with the replaced secret (hookd only).
const PreviousSignatureHeader = "x-hookd-signature-256-previous"

// The headers of the Standard Webhooks scheme (standardwebhooks.com), which hookd adds to the
// deliveries of webhooks with StandardSigning.
const (
	StandardIDHeader        = "webhook-id"
	StandardTimestampHeader = "webhook-timestamp"
	StandardSignatureHeader = "webhook-signature"
)

// DefaultTolerance is how far webhook-timestamp may be from the receiver's clock, either way,
// when VerifyStandard is given no tolerance.
const DefaultTolerance = 5 * time.Minute

// Errors of VerifyStandard. Only ErrSignatureMismatch says the signature is wrong; the others
// say the request is not a (fresh) Standard Webhooks delivery.
var (
	ErrMissingHeaders    = errors.New("hookd: webhook-id, webhook-timestamp or webhook-signature header missing")
	ErrInvalidTimestamp  = errors.New("hookd: webhook-timestamp is not unix seconds")
	ErrTimestampTooOld   = errors.New("hookd: webhook-timestamp is too old (a replay?)")
	ErrTimestampTooNew   = errors.New("hookd: webhook-timestamp is in the future")
	ErrSignatureMismatch = errors.New("hookd: no webhook-signature matches the secret")
)

// VerifySignature reports whether header, the value of the x-docspace-signature-256 header of
// a delivery, is "sha256=" followed by the hex HMAC-SHA256 of body keyed with secret. The hex
// is compared case-insensitively (DocSpace sends upper case) and in constant time. body must
// be the raw bytes as received, before any JSON parsing.
func VerifySignature(secret string, body []byte, header string) bool {
	const prefix = "sha256="
	if len(header) < len(prefix) || !strings.EqualFold(header[:len(prefix)], prefix) {
		return false
	}
	got, err := hex.DecodeString(strings.TrimSpace(header[len(prefix):]))
	if err != nil {
		return false
	}
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	return hmac.Equal(got, mac.Sum(nil))
}

// VerifyDocSpace reports whether a delivery's DocSpace signature matches secret: the
// x-docspace-signature-256 header, or, while hookd rotates the webhook's secret, the
// x-hookd-signature-256-previous header made with the old one. A receiver that still holds the
// old secret during the overlap is thus served. The DocSpace scheme has no timestamp: it does
// not protect against replays (VerifyStandard does).
func VerifyDocSpace(secret string, headers http.Header, body []byte) bool {
	return VerifySignature(secret, body, headers.Get(SignatureHeader)) ||
		VerifySignature(secret, body, headers.Get(PreviousSignatureHeader))
}

// VerifyStandard checks the Standard Webhooks signature of a delivery: webhook-timestamp must
// be within tolerance of now (DefaultTolerance when tolerance <= 0), which refuses replays of
// old requests, and one of the space-separated "v1,<base64>" entries of webhook-signature must
// be the HMAC-SHA256 of webhook-id "." webhook-timestamp "." body. During a secret rotation
// hookd sends one entry per secret, so either secret verifies. The key is the base64-decoded
// rest of a "whsec_" secret, else the secret's bytes (as hookd signs). Comparisons are
// constant-time; body must be the raw bytes as received.
//
// Use webhook-id as an idempotency key: automatic retries of one delivery repeat it.
func VerifyStandard(secret string, headers http.Header, body []byte, tolerance time.Duration, now time.Time) error {
	id, ts, sigs := headers.Get(StandardIDHeader), headers.Get(StandardTimestampHeader), headers.Get(StandardSignatureHeader)
	if id == "" || ts == "" || sigs == "" {
		return ErrMissingHeaders
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return ErrInvalidTimestamp
	}
	if tolerance <= 0 {
		tolerance = DefaultTolerance
	}
	switch sent := time.Unix(sec, 0); {
	case now.Sub(sent) > tolerance:
		return ErrTimestampTooOld
	case sent.Sub(now) > tolerance:
		return ErrTimestampTooNew
	}
	mac := hmac.New(sha256.New, standardKey(secret))
	mac.Write([]byte(id + "." + ts + "."))
	mac.Write(body)
	want := mac.Sum(nil)
	for _, entry := range strings.Fields(sigs) {
		version, value, ok := strings.Cut(entry, ",")
		if !ok || version != "v1" {
			continue // another scheme (v1a is asymmetric): not ours to check
		}
		got, err := base64.StdEncoding.DecodeString(value)
		if err == nil && hmac.Equal(got, want) {
			return nil
		}
	}
	return ErrSignatureMismatch
}

// standardKey is the HMAC key of a secret for Standard Webhooks, as hookd derives it.
func standardKey(secret string) []byte {
	if rest, ok := strings.CutPrefix(secret, "whsec_"); ok {
		if key, err := base64.StdEncoding.DecodeString(rest); err == nil && len(key) > 0 {
			return key
		}
	}
	return []byte(secret)
}
