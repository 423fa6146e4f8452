package client

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hookd/hookd"
)

// Fuzz targets of what the client reads from a server and from a delivery. Without -fuzz,
// `go test` runs them over their seeds; for a longer run:
//
//	go test -fuzz=FuzzEnvelope -fuzztime=60s ./client

// cannedTransport answers every request with the same status, Retry-After and body.
type cannedTransport struct {
	status     int
	retryAfter string
	body       []byte
}

func (c cannedTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body != nil {
		io.Copy(io.Discard, r.Body)
		r.Body.Close()
	}
	h := http.Header{"Content-Type": {"application/json"}}
	if c.retryAfter != "" {
		h.Set("Retry-After", c.retryAfter)
	}
	return &http.Response{
		StatusCode: c.status, Header: h, Body: io.NopCloser(bytes.NewReader(c.body)),
		ContentLength: int64(len(c.body)), Request: r,
	}, nil
}

func FuzzEnvelope(f *testing.F) {
	for _, seed := range []struct {
		status     int
		retryAfter string
		body       string
	}{
		{200, "", `{"response":[],"count":0,"total":0,"links":[],"status":0,"statusCode":200}`},
		{200, "", `{"response":[{"configs":{"id":1,"name":"a","uri":"https://x","enabled":true,"triggers":34359738368},"status":200}],"count":1,"status":0,"statusCode":200}`},
		{200, "", `{"response":[{"id":4,"configId":1,"trigger":128,"status":503,"requestHeaders":"{\"Accept\":[\"*/*\"]}","requestPayload":"{}","delivery":"2026-06-30T10:00:00.1234567","creationTime":"2026-06-30T10:00:00"}],"count":1,"total":99,"status":0,"statusCode":200}`},
		{200, "", `{"response":{"eventId":1,"trigger":128,"deliveries":[{"id":2,"configId":1}]},"count":1,"status":0,"statusCode":202}`},
		{200, "", `{"response":{"title":"One or more validation errors occurred.","errors":{"Name":["required"]}},"status":1,"statusCode":400}`},
		{400, "", `{"error":{"message":"The name is required."},"status":1,"statusCode":400}`},
		{404, "", `{"error":{"message":"The record could not be found"},"status":1,"statusCode":404}`},
		{429, "900", `{"error":{"message":"Too many retries"},"status":1,"statusCode":429}`},
		{503, "Wed, 21 Oct 2015 07:28:00 GMT", `<html>bad gateway</html>`},
		{401, "", ``},
		{200, "", `not json`},
		{200, "", `{"response":"x","status":0}`},
		{200, "", `{"response":[{"id":"1"}],"status":0}`},
		{200, "", `{"response":[{"delivery":"yesterday"}],"status":0}`},
		{204, "-1", `null`},
		{302, "", `{}`},
	} {
		f.Add(seed.status, seed.retryAfter, []byte(seed.body))
	}
	f.Fuzz(func(t *testing.T, status int, retryAfter string, body []byte) {
		if status < 100 || status > 999 {
			return // not an HTTP status: net/http would refuse the response
		}
		c, err := New("http://hookd.test", "sk-test", WithRetries(0),
			WithHTTPClient(&http.Client{Transport: cannedTransport{status, retryAfter, body}}))
		if err != nil {
			t.Fatal(err)
		}
		c.sleep = func(context.Context, time.Duration) error { return errors.New("no sleeping in a fuzz target") }
		ctx := context.Background()
		calls := map[string]func() error{
			"Webhooks":   func() error { _, err := c.Webhooks(ctx); return err },
			"Deliveries": func() error { _, err := c.Deliveries(ctx, DeliveryFilter{}); return err },
			"Attempts":   func() error { _, err := c.Attempts(ctx, 1); return err },
			"Retry":      func() error { _, err := c.RetryBatch(ctx, []int64{1, 2}); return err },
			"Triggers":   func() error { _, err := c.Triggers(ctx); return err },
			"Publish": func() error {
				_, err := c.Publish(ctx, PublishParams{Trigger: 128, Payload: []byte(`{}`)})
				return err
			},
		}
		for name, call := range calls {
			err := call()
			if status >= 400 {
				var e *Error
				if !errors.As(err, &e) || e.StatusCode != status {
					t.Fatalf("%s on HTTP %d: got %v, want an *Error with that status", name, status, err)
				}
				if e.RetryAfter < 0 {
					t.Fatalf("%s on HTTP %d: got a negative Retry-After %s", name, status, e.RetryAfter)
				}
			}
			if err != nil && strings.Contains(err.Error(), "sk-test") {
				t.Fatalf("%s: error %q shows the API key", name, err)
			}
		}
	})
}

func FuzzVerifySignature(f *testing.F) {
	f.Add("s3cret-key", []byte(`{"event":{"id":1}}`), "sha256=00")
	f.Add("", []byte{}, "")
	f.Add("k", []byte("\xff"), "SHA256=ZZ")
	f.Fuzz(func(t *testing.T, secret string, body []byte, header string) {
		VerifySignature(secret, body, header) // any header: no panic
		good := hookd.Sign(secret, body)
		if !VerifySignature(secret, body, good) || !VerifySignature(secret, body, strings.ToLower(good)) {
			t.Fatalf("the signature of the body does not verify, in upper or lower case")
		}
		bad := []byte(good)
		i := len("sha256=") + len(body)%64
		if bad[i] == '0' {
			bad[i] = '1'
		} else {
			bad[i] = '0'
		}
		if VerifySignature(secret, body, string(bad)) {
			t.Fatalf("a signature with hex digit %d changed verifies", i)
		}
		if VerifySignature(secret+"x", body, good) || VerifySignature(secret, append(body, ' '), good) {
			t.Fatalf("the signature verifies with another secret or body")
		}
	})
}
