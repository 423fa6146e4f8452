package hookd

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"strconv"
	"strings"
	"time"
)

// The headers of the Standard Webhooks scheme (standardwebhooks.com), sent when a webhook has
// StandardSigning, and hookd's header with the DocSpace signature made with the previous
// secret while a rotation overlaps.
const (
	StandardIDHeader        = "webhook-id"
	StandardTimestampHeader = "webhook-timestamp"
	StandardSignatureHeader = "webhook-signature"
	PreviousSignatureHeader = "x-hookd-signature-256-previous"
)

// StandardSecretPrefix starts a secret in the Standard Webhooks serialization: "whsec_" and
// the standard base64 of the key bytes.
const StandardSecretPrefix = "whsec_"

// MinStandardKeyBytes is the shortest key the Standard Webhooks specification allows (192
// bits); CheckStandardSecret holds whsec_ secrets to it.
const MinStandardKeyBytes = 24

// StandardMessageID returns the webhook-id of a delivery: "msg_" and the delivery id. The
// automatic retries of a delivery keep it, so receivers can use it as an idempotency key; a
// manual retry is a new delivery and gets a new one.
func StandardMessageID(deliveryID int64) string {
	return "msg_" + strconv.FormatInt(deliveryID, 10)
}

// StandardKey returns the HMAC key of a secret for Standard Webhooks: for "whsec_" followed by
// standard base64, the decoded bytes (what the Standard Webhooks libraries use); for any other
// secret its UTF-8 bytes, the key of the DocSpace signature.
func StandardKey(secret string) []byte {
	if rest, ok := strings.CutPrefix(secret, StandardSecretPrefix); ok {
		if key, err := base64.StdEncoding.DecodeString(rest); err == nil && len(key) > 0 {
			return key
		}
	}
	return []byte(secret)
}

// SignStandard returns one entry of the webhook-signature header: "v1," and the standard
// base64 of the HMAC-SHA256, keyed with StandardKey(secret), of msgID "." timestamp "." body,
// where timestamp is in unix seconds and body the exact bytes sent.
func SignStandard(secret, msgID string, timestamp int64, body []byte) string {
	mac := hmac.New(sha256.New, StandardKey(secret))
	mac.Write([]byte(msgID))
	mac.Write([]byte{'.'})
	mac.Write([]byte(strconv.FormatInt(timestamp, 10)))
	mac.Write([]byte{'.'})
	mac.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// CheckStandardSecret returns an EINVALID error when a secret that starts with "whsec_" is not
// the Standard Webhooks form: standard base64 of at least MinStandardKeyBytes bytes. Other
// secrets pass: they are used as they are. The message never repeats the secret.
func CheckStandardSecret(secret string) error {
	rest, ok := strings.CutPrefix(secret, StandardSecretPrefix)
	if !ok {
		return nil
	}
	key, err := base64.StdEncoding.DecodeString(rest)
	if err != nil || len(key) < MinStandardKeyBytes {
		return Errorf(EINVALID, "A secret that starts with %s must continue with the base64 of at least %d random bytes.", StandardSecretPrefix, MinStandardKeyBytes)
	}
	return nil
}

// NewStandardSecret returns a fresh random secret in the Standard Webhooks form: "whsec_" and
// the base64 of 32 random bytes, 50 characters, the longest secret DocSpace accepts.
func NewStandardSecret() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic("hookd: crypto/rand failed: " + err.Error()) // cannot happen on supported platforms
	}
	return StandardSecretPrefix + base64.StdEncoding.EncodeToString(b)
}

// PreviousSecretActive reports whether the secret that w's last rotation replaced still signs
// deliveries at time now.
func (w *Webhook) PreviousSecretActive(now time.Time) bool {
	return w.PreviousSecret != "" && w.PreviousSecretUntil != nil && now.Before(*w.PreviousSecretUntil)
}

// SignatureHeaders returns the signature headers of one attempt of delivery deliveryID to w,
// made at now with body, keyed by their lowercase names:
//   - x-docspace-signature-256: always, with the current secret;
//   - x-hookd-signature-256-previous: the same with the previous secret, while a rotation
//     overlaps;
//   - with StandardSigning, webhook-id, webhook-timestamp (now in unix seconds) and
//     webhook-signature: the current secret's signature, then, while a rotation overlaps, the
//     previous secret's, separated by a space.
func SignatureHeaders(w *Webhook, deliveryID int64, body []byte, now time.Time) map[string]string {
	h := map[string]string{SignatureHeader: Sign(w.Secret, body)}
	previous := w.PreviousSecretActive(now)
	if previous {
		h[PreviousSignatureHeader] = Sign(w.PreviousSecret, body)
	}
	if !w.StandardSigning {
		return h
	}
	id, ts := StandardMessageID(deliveryID), now.Unix()
	sig := SignStandard(w.Secret, id, ts, body)
	if previous {
		sig += " " + SignStandard(w.PreviousSecret, id, ts, body)
	}
	h[StandardIDHeader] = id
	h[StandardTimestampHeader] = strconv.FormatInt(ts, 10)
	h[StandardSignatureHeader] = sig
	return h
}
