package httpapi_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// Fuzz targets of the API's input: query binding, webhook bodies and publish bodies. Without
// -fuzz, `go test` runs them over their seeds; for a longer run:
//
//	go test -fuzz=FuzzLogQuery -fuzztime=60s ./internal/httpapi
//
// The property is the same for all: no panic, no 5xx, and every answer in the DocSpace shape,
// errors with a message.

// newFuzzFixture is a fixture with a little of everything: webhooks of two users, deliveries
// with and without attempts.
func newFuzzFixture(f *testing.F) (*fixture, http.Handler) {
	fx := newFixture(f)
	fx.createWebhook(&fx.admin, "all", "https://example.com/all", 0, "")
	fx.createWebhook(&fx.user, "files", "https://example.com/files", 128, `,"targetId":"42"`)
	p := fx.publish(`"file.created"`, `{"id":42}`)
	fx.publish(`"file.uploaded"`, `{"id":7}`)
	fx.recordAttempts(map[int64]attempt{p.Deliveries[0].ID: {status: 503, body: "busy"}, p.Deliveries[1].ID: {status: 200, body: "ok"}})
	return fx, fx.srv.Config.Handler
}

// serve runs one request through h with the key token ("" for none).
func serve(h http.Handler, method, path, rawQuery, token, body string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	req.URL.RawQuery = rawQuery
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// checkShape fails t unless rec is a DocSpace answer below 500: a success envelope with
// status 0, or an error envelope with status 1 and a message.
func checkShape(t *testing.T, what string, rec *httptest.ResponseRecorder) {
	t.Helper()
	if rec.Code >= 500 {
		t.Fatalf("%s: got HTTP %d, want no 5xx: %s", what, rec.Code, rec.Body)
	}
	var env struct {
		Response   json.RawMessage `json:"response"`
		Status     *int            `json:"status"`
		StatusCode int             `json:"statusCode"`
		Error      *struct {
			Message string `json:"message"`
		} `json:"error"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &env); err != nil {
		t.Fatalf("%s: got a body that is not JSON (%v): %.300s", what, err, rec.Body)
	}
	switch {
	case env.StatusCode != rec.Code:
		t.Fatalf("%s: got statusCode %d in HTTP %d", what, env.StatusCode, rec.Code)
	case rec.Code >= 400 && (env.Status == nil || *env.Status != 1 || env.Error == nil || env.Error.Message == "" || env.Response != nil):
		t.Fatalf("%s: got HTTP %d without the error shape: %.300s", what, rec.Code, rec.Body)
	case rec.Code < 400 && (env.Status == nil || *env.Status != 0 || env.Error != nil):
		t.Fatalf("%s: got HTTP %d without the success shape: %.300s", what, rec.Code, rec.Body)
	}
}

func FuzzLogQuery(f *testing.F) {
	fx, h := newFuzzFixture(f)
	for _, seed := range []string{
		"", "groupStatus=6", "groupStatus=NotSent,Status5xx", "groupStatus=failed", "groupStatus=32",
		"groupStatus=-1", "groupStatus=Not%20sent", "GROUPSTATUS=status2xx",
		"deliveryFrom=2026-06-30T10:00:00Z&deliveryTo=2026-06-30", "deliveryFrom=2026-06-30T10:00:00.1234567",
		"deliveryTo=9999-12-31T23:59:59Z", "deliveryFrom=0001-01-01", "deliveryFrom=yesterday",
		"configId=1&eventId=2&maxId=3", "configId=9223372036854775807", "configId=9223372036854775808",
		"configId=-5", "eventId=abc", "count=100&startIndex=0", "count=0", "count=101", "startIndex=-1",
		"startIndex=2147483648", "userId=0B8C0000-0000-4000-8000-000000000001", "userId=nobody",
		"trigger=file.created", "trigger=384", "trigger=*", "hookUri=https://example.com/all",
		"hookUri=%zz", "a=1&a=2&count=1&count=x", "%00=%00",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, q string) {
		for _, token := range []string{fx.admin.token, fx.user.token} {
			checkShape(t, "GET log?"+q, serve(h, "GET", "/api/2.0/settings/webhooks/log", q, token, ""))
		}
	})
}

func FuzzWebhookBody(f *testing.F) {
	fx, h := newFuzzFixture(f)
	for _, seed := range []string{
		`{"name":"n","uri":"https://example.com/n","secretKey":"s3cret-key"}`,
		`{"id":1,"name":"n","uri":"https://example.com/n","enabled":true,"ssl":true,"triggers":384}`,
		`{"ID":1,"Enabled":false}`, `{"id":1}`, `{"id":-1,"enabled":true}`, `{"id":9223372036854775807}`,
		`{"name":"n","uri":"http://example.com","ssl":true,"secretKey":"s3cret-key"}`,
		`{"name":"` + strings.Repeat("n", 51) + `","uri":"https://example.com","secretKey":"s3cret-key"}`,
		`{"name":"n","uri":"ftp://x","secretKey":"s3cret-key"}`, `{"name":"n","uri":"https://x","secretKey":"short"}`,
		`{"name":"n","uri":"https://x","secretKey":"s3cret-key","triggers":1099511627776}`,
		`{"name":"n","uri":"https://x","secretKey":"s3cret-key","triggers":-1}`,
		`{"name":"n","uri":"https://x","secretKey":"s3cret-key","targetId":null}`,
		`{"name":1}`, `{"triggers":"lots"}`, `[]`, `null`, `"x"`, `{`, ``, `{} {}`, "{\"name\":\"\xff\"}",
	} {
		f.Add(seed, uint8(0), false)
	}
	routes := []struct{ method, path string }{
		{"POST", "/api/2.0/settings/webhook"},
		{"PUT", "/api/2.0/settings/webhook"},
		{"PUT", "/api/2.0/settings/webhook/enable"},
	}
	f.Fuzz(func(t *testing.T, body string, route uint8, asUser bool) {
		r := routes[int(route)%len(routes)]
		token := fx.admin.token
		if asUser {
			token = fx.user.token
		}
		checkShape(t, r.method+" "+r.path+" "+body, serve(h, r.method, r.path, "", token, body))
	})
}

func FuzzPublishBody(f *testing.F) {
	fx, h := newFuzzFixture(f)
	for _, seed := range []string{
		`{"trigger":"file.created","payload":{"id":42}}`, `{"trigger":128,"payload":1,"targetId":42}`,
		`{"trigger":"FileCreated","payload":"x","targetId":"42","createBy":"0b8c0000-0000-4000-8000-000000000001"}`,
		`{"trigger":"*","payload":{}}`, `{"trigger":384,"payload":{}}`, `{"trigger":"file.exploded","payload":{}}`,
		`{"trigger":128}`, `{"trigger":128,"payload":null}`, `{"trigger":128,"payload":{},"targetId":true}`,
		`{"trigger":128,"payload":{},"createBy":"nobody"}`, `{"trigger":1e400,"payload":{}}`,
		`{"trigger":"\u0000","payload":{}}`, `{"trigger":128,"payload":{"id":1e999}}`, `{}`, `[]`, ``, `{`,
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, body string) {
		checkShape(t, "POST events "+body, serve(h, "POST", "/api/2.0/webhooks/events", "", fx.admin.token, body))
	})
}
