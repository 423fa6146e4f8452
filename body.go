package hookd

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strconv"
	"strings"
	"time"
)

// SignatureHeader is the header that carries the DocSpace signature of the body.
const SignatureHeader = "x-docspace-signature-256"

// Sign returns the DocSpace signature header value of body: "sha256=" and the upper-case hex
// HMAC-SHA256 of the exact bytes, keyed with the webhook secret.
func Sign(secret string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	return "sha256=" + strings.ToUpper(hex.EncodeToString(mac.Sum(nil)))
}

// RetryInfo describes the previous failed attempt; it adds DocSpace's retry fields to the body
// of an automatic retry.
type RetryInfo struct {
	Count              int       // 1 for the first retry
	On                 time.Time // when this attempt starts
	LastFailureOn      time.Time
	LastFailureContent string
	LastSuccessOn      *time.Time // the webhook's last success, if any
}

// Body is the JSON envelope POSTed to receivers (spec §5.4). Field order and omitted defaults
// follow DocSpace.
type Body struct {
	Event   BodyEvent       `json:"event"`
	Payload json.RawMessage `json:"payload"`
	Webhook BodyWebhook     `json:"webhook"`
}

// BodyEvent is the event part of the envelope.
type BodyEvent struct {
	ID        int64   `json:"id,omitempty"`
	CreateOn  string  `json:"createOn"`
	CreateBy  string  `json:"createBy,omitempty"`
	Trigger   string  `json:"trigger"`
	TriggerID Trigger `json:"triggerId,omitempty"`
}

// BodyWebhook is the webhook part of the envelope.
type BodyWebhook struct {
	ID                 int64       `json:"id"`
	Name               string      `json:"name,omitempty"`
	URL                string      `json:"url,omitempty"`
	Triggers           []string    `json:"triggers"`
	Target             *BodyTarget `json:"target,omitempty"`
	LastFailureOn      string      `json:"lastFailureOn,omitempty"`
	LastFailureContent string      `json:"lastFailureContent,omitempty"`
	LastSuccessOn      string      `json:"lastSuccessOn,omitempty"`
	RetryCount         int         `json:"retryCount,omitempty"`
	RetryOn            string      `json:"retryOn,omitempty"`
}

// BodyTarget names the entity a webhook with a targetId is restricted to.
type BodyTarget struct {
	ID   any    `json:"id"` // a number when the target id is numeric, else a string
	Type string `json:"type"`
}

// BuildBody composes the envelope sent for delivery d of event ev to webhook w. deliveryID is
// the event.id the receiver sees (0 omits it, as in a not-yet-sent DocSpace log row); retry is
// nil on the first attempt.
func BuildBody(ev *Event, w *Webhook, deliveryID int64, retry *RetryInfo) ([]byte, error) {
	b := Body{
		Event: BodyEvent{
			ID:        deliveryID,
			CreateOn:  ev.CreatedOn.UTC().Truncate(time.Second).Format(time.RFC3339),
			CreateBy:  ev.CreatedBy,
			Trigger:   ev.Trigger.Name(),
			TriggerID: ev.Trigger,
		},
		Payload: ev.Payload,
		Webhook: BodyWebhook{ID: w.ID, Name: w.Name, URL: w.URI, Triggers: w.Triggers.Names()},
	}
	if len(b.Payload) == 0 {
		b.Payload = json.RawMessage("null")
	}
	if w.TargetID != "" {
		t := &BodyTarget{ID: w.TargetID, Type: strings.SplitN(ev.Trigger.Name(), ".", 2)[0]}
		if n, err := strconv.ParseInt(w.TargetID, 10, 64); err == nil {
			t.ID = n
		}
		b.Webhook.Target = t
	}
	if retry != nil {
		b.Webhook.RetryCount = retry.Count
		b.Webhook.RetryOn = retry.On.UTC().Format(time.RFC3339)
		b.Webhook.LastFailureOn = retry.LastFailureOn.UTC().Format(time.RFC3339)
		b.Webhook.LastFailureContent = retry.LastFailureContent
		if retry.LastSuccessOn != nil {
			b.Webhook.LastSuccessOn = retry.LastSuccessOn.UTC().Format(time.RFC3339)
		}
	}
	return json.Marshal(b)
}
