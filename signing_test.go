package hookd_test

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/hookd/hookd"
)

// specSecret and the values below are the test vector published with the Standard Webhooks
// reference libraries.
const (
	specSecret    = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	specMsgID     = "msg_p5jXN8AQM9LWM0D4loKWxJek"
	specTimestamp = 1614265330
	specBody      = `{"test": 2432232314}`
	specSignature = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
)

func TestSignStandardMatchesTheSpecVector(t *testing.T) {
	t.Parallel()
	if got := hookd.SignStandard(specSecret, specMsgID, specTimestamp, []byte(specBody)); got != specSignature {
		t.Errorf("got %s, want %s", got, specSignature)
	}
	// One byte more in the body, the id or the time changes the signature.
	for name, got := range map[string]string{
		"body":      hookd.SignStandard(specSecret, specMsgID, specTimestamp, []byte(specBody+" ")),
		"id":        hookd.SignStandard(specSecret, specMsgID+"x", specTimestamp, []byte(specBody)),
		"timestamp": hookd.SignStandard(specSecret, specMsgID, specTimestamp+1, []byte(specBody)),
	} {
		if got == specSignature {
			t.Errorf("changed %s: got the same signature, want another", name)
		}
	}
}

func TestStandardKey(t *testing.T) {
	t.Parallel()
	vectorKey, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(specSecret, "whsec_"))
	for _, tc := range []struct {
		name, secret string
		want         []byte
	}{
		{"WhsecIsDecoded", specSecret, vectorKey},
		{"PlainSecretIsItsBytes", "my-docspace-secret", []byte("my-docspace-secret")},
		{"WhsecWithBadBase64IsItsBytes", "whsec_not*base64!", []byte("whsec_not*base64!")},
		{"EmptyWhsecIsItsBytes", "whsec_", []byte("whsec_")},
		{"PrefixIsCaseSensitive", "WHSEC_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", []byte("WHSEC_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := hookd.StandardKey(tc.secret); !bytes.Equal(got, tc.want) {
				t.Errorf("got key %x, want %x", got, tc.want)
			}
		})
	}
}

func TestCheckStandardSecret(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		secret string
		ok     bool
	}{
		{specSecret, true},
		{"plain-secret-1", true},
		{"whsec_" + base64.StdEncoding.EncodeToString(make([]byte, 23)), false}, // under 192 bits
		{"whsec_" + base64.StdEncoding.EncodeToString(make([]byte, 24)), true},
		{"whsec_not*base64*at*all*not*base64*at*all", false},
		{"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaS", false}, // truncated
	} {
		err := hookd.CheckStandardSecret(tc.secret)
		if (err == nil) != tc.ok {
			t.Errorf("CheckStandardSecret(%q): got %v, want ok=%v", tc.secret, err, tc.ok)
			continue
		}
		if err != nil {
			if hookd.ErrorCode(err) != hookd.EINVALID {
				t.Errorf("got code %s, want %s", hookd.ErrorCode(err), hookd.EINVALID)
			}
			if strings.Contains(err.Error(), strings.TrimPrefix(tc.secret, "whsec_")) {
				t.Errorf("error %q repeats the secret", err)
			}
		}
	}
}

func TestNewStandardSecret(t *testing.T) {
	t.Parallel()
	a, b := hookd.NewStandardSecret(), hookd.NewStandardSecret()
	if a == b {
		t.Fatalf("got the same secret twice: want fresh randomness")
	}
	if !strings.HasPrefix(a, "whsec_") || len(a) != 50 {
		t.Errorf("got %d characters with prefix %q, want 50 starting with whsec_", len(a), a[:6])
	}
	if err := hookd.CheckStandardSecret(a); err != nil {
		t.Errorf("CheckStandardSecret of a new secret: %v", err)
	}
	if n := len(hookd.StandardKey(a)); n != 32 {
		t.Errorf("got a key of %d bytes, want 32", n)
	}
}

// standardSig computes a v1 signature from the spec's recipe, without SignStandard.
func standardSig(key []byte, content string) string {
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(content))
	return "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

func TestSignatureHeaders(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, time.May, 4, 10, 30, 15, 900_000_000, time.UTC)
	body := []byte(`{"event":{"id":7}}`)
	later, earlier := now.Add(time.Hour), now.Add(-time.Second)
	const cur, old = "current-secret-1", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	content := "msg_7.1777890615." + string(body)
	curSig, oldSig := standardSig([]byte(cur), content), standardSig(hookd.StandardKey(old), content)
	for _, tc := range []struct {
		name string
		w    hookd.Webhook
		want map[string]string
	}{
		{"DocSpaceOnly", hookd.Webhook{Secret: cur},
			map[string]string{"x-docspace-signature-256": hookd.Sign(cur, body)}},
		{"DocSpaceDuringRotation", hookd.Webhook{Secret: cur, PreviousSecret: old, PreviousSecretUntil: &later},
			map[string]string{"x-docspace-signature-256": hookd.Sign(cur, body), "x-hookd-signature-256-previous": hookd.Sign(old, body)}},
		{"Standard", hookd.Webhook{Secret: cur, StandardSigning: true},
			map[string]string{"x-docspace-signature-256": hookd.Sign(cur, body),
				"webhook-id": "msg_7", "webhook-timestamp": "1777890615", "webhook-signature": curSig}},
		{"StandardDuringRotation", hookd.Webhook{Secret: cur, StandardSigning: true, PreviousSecret: old, PreviousSecretUntil: &later},
			map[string]string{"x-docspace-signature-256": hookd.Sign(cur, body), "x-hookd-signature-256-previous": hookd.Sign(old, body),
				"webhook-id": "msg_7", "webhook-timestamp": "1777890615", "webhook-signature": curSig + " " + oldSig}},
		{"StandardAfterRotation", hookd.Webhook{Secret: cur, StandardSigning: true, PreviousSecret: old, PreviousSecretUntil: &earlier},
			map[string]string{"x-docspace-signature-256": hookd.Sign(cur, body),
				"webhook-id": "msg_7", "webhook-timestamp": "1777890615", "webhook-signature": curSig}},
		{"RotationEndsAtItsInstant", hookd.Webhook{Secret: cur, PreviousSecret: old, PreviousSecretUntil: &now},
			map[string]string{"x-docspace-signature-256": hookd.Sign(cur, body)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := hookd.SignatureHeaders(&tc.w, 7, body, now)
			if len(got) != len(tc.want) {
				t.Errorf("got %d headers %v, want %d", len(got), keys(got), len(tc.want))
			}
			for k, v := range tc.want {
				if got[k] != v {
					t.Errorf("header %s: got %q, want %q", k, got[k], v)
				}
			}
		})
	}
}

func keys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func BenchmarkSignatureHeadersStandard(b *testing.B) {
	until := time.Now().Add(time.Hour)
	w := &hookd.Webhook{Secret: hookd.NewStandardSecret(), StandardSigning: true, PreviousSecret: "old-secret-1", PreviousSecretUntil: &until}
	body := bytes.Repeat([]byte("x"), 2048)
	now := time.Now()
	for b.Loop() {
		hookd.SignatureHeaders(w, 42, body, now)
	}
}
