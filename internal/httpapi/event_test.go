package httpapi_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/hookd/hookd"
)

func TestEventPublish(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	all := f.createWebhook(&f.admin, "all", "https://example.com/all", 0, "")
	files := f.createWebhook(&f.user, "files", "https://example.com/files", 128, "")
	off := f.createWebhook(&f.admin, "off", "https://example.com/off", 128, `,"enabled":false`)
	uploads := f.createWebhook(&f.admin, "uploads", "https://example.com/uploads", 256, "")
	target := f.createWebhook(&f.admin, "target", "https://example.com/target", 128, `,"targetId":"42"`)
	_, _ = off, uploads

	configs := func(p publishResult) []int64 {
		var out []int64
		for _, d := range p.Deliveries {
			out = append(out, d.ConfigID)
		}
		return out
	}
	publish := func(body string) (publishResult, *answer) {
		t.Helper()
		var p publishResult
		a := f.do(&f.admin, "POST", "/api/2.0/webhooks/events", body).ok(t, 202, &p)
		return p, a
	}

	t.Run("TargetFromPayloadID", func(t *testing.T) {
		before := f.wakes.Load()
		p, a := publish(`{"trigger":"file.created","payload":{"id":42,"title":"Report.docx"}}`)
		if want := []int64{all.ID, files.ID, target.ID}; !slices.Equal(configs(p), want) {
			t.Errorf("got deliveries to %v, want %v", configs(p), want)
		}
		if p.EventID == 0 || p.Trigger != 128 || *a.Count != 1 || a.StatusCode != 202 {
			t.Errorf("got %+v (count %d, statusCode %d), want event 128 with count 1 and statusCode 202", p, *a.Count, a.StatusCode)
		}
		if f.wakes.Load() == before {
			t.Errorf("got no wake after publishing")
		}
		d, err := f.store.DeliveryGet(f.ctx, p.Deliveries[0].ID)
		if err != nil {
			t.Fatalf("get delivery: %v", err)
		}
		if d.Event.ID != p.EventID || d.Event.TargetID != "42" || d.Event.CreatedBy != f.admin.key.UserID ||
			d.CreatedBy != f.admin.key.UserID || string(d.Event.Payload) != `{"id":42,"title":"Report.docx"}` {
			t.Errorf("got event %+v created by %q, want target 42 by the admin", d.Event, d.CreatedBy)
		}
	})

	t.Run("NumericTriggerOtherTarget", func(t *testing.T) {
		p, _ := publish(`{"trigger":128,"payload":{"id":"7"}}`)
		if want := []int64{all.ID, files.ID}; !slices.Equal(configs(p), want) {
			t.Errorf("got deliveries to %v, want %v", configs(p), want)
		}
	})

	t.Run("ExplicitTargetAndCreator", func(t *testing.T) {
		creator := hookd.NewUserID()
		p, _ := publish(fmt.Sprintf(`{"Trigger":"FileCreated","Payload":[1, 2,  3],"TargetId":42,"CreateBy":%q}`, creator))
		if want := []int64{all.ID, files.ID, target.ID}; !slices.Equal(configs(p), want) {
			t.Errorf("got deliveries to %v, want %v", configs(p), want)
		}
		d, err := f.store.DeliveryGet(f.ctx, p.Deliveries[0].ID)
		if err != nil {
			t.Fatalf("get delivery: %v", err)
		}
		if string(d.Event.Payload) != "[1,2,3]" || d.Event.TargetID != "42" || d.Event.CreatedBy != creator || d.CreatedBy != f.admin.key.UserID {
			t.Errorf("got event %+v (delivery by %q), want compact payload, target 42, creator %s, acting user the admin", d.Event, d.CreatedBy, creator)
		}
	})

	t.Run("NoMatchingWebhook", func(t *testing.T) {
		f.do(&f.admin, "PUT", "/api/2.0/settings/webhook/enable", `{"id":`+itoa(all.ID)+`,"enabled":false}`).ok(t, 200, nil)
		p, a := publish(`{"trigger":"room.created","payload":"plain text"}`)
		if len(p.Deliveries) != 0 || !strings.Contains(string(a.Response), `"deliveries":[]`) {
			t.Errorf("got %s, want an empty deliveries array", a.Response)
		}
		if p.EventID == 0 {
			t.Errorf("got no event id, want the event stored anyway")
		}
	})

	bad := []struct{ name, body, msg string }{
		{"TriggerMissing", `{"payload":{}}`, "trigger is required"},
		{"TriggerAll", `{"trigger":"*","payload":{}}`, "not valid for trigger"},
		{"TriggerZero", `{"trigger":0,"payload":{}}`, "not valid for trigger"},
		{"TriggerMask", `{"trigger":384,"payload":{}}`, "not valid for trigger"},
		{"TriggerUnknown", `{"trigger":"file.exploded","payload":{}}`, "not valid for trigger"},
		{"TriggerWrongType", `{"trigger":true,"payload":{}}`, "not valid for trigger"},
		{"PayloadMissing", `{"trigger":128}`, "payload is required"},
		{"PayloadNull", `{"trigger":128,"payload":null}`, "payload is required"},
		{"TargetWrongType", `{"trigger":128,"payload":{},"targetId":{"id":1}}`, "targetId"},
		{"TargetTooLong", `{"trigger":128,"payload":{},"targetId":"` + strings.Repeat("t", 256) + `"}`, "at most 255"},
		{"CreateByNotUUID", `{"trigger":128,"payload":{},"createBy":"bob"}`, "createBy"},
		{"Malformed", `{"trigger":128,"payload":{`, "Malformed JSON body"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f.do(&f.admin, "POST", "/api/2.0/webhooks/events", tt.body).fails(t, 400, tt.msg)
		})
	}
}
