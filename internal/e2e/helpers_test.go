package e2e

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// envelope is the DocSpace answer shape, decoded by this test's own code.
type envelope struct {
	Response   json.RawMessage `json:"response"`
	Count      *int            `json:"count"`
	Total      *int64          `json:"total"`
	Links      []struct{ Href, Action string }
	Status     int `json:"status"`
	StatusCode int `json:"statusCode"`
	Error      *struct {
		Message string `json:"message"`
	} `json:"error"`
}

// apiClient speaks raw HTTP to the server, so that the test checks the wire format rather than
// a client library's reading of it.
type apiClient struct {
	t   testing.TB
	url string
	key string
}

func (c *apiClient) do(method, path string, body any) (int, envelope) {
	c.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			c.t.Fatal(err)
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, c.url+path, rd)
	if err != nil {
		c.t.Fatal(err)
	}
	if c.key != "" {
		req.Header.Set("Authorization", "Bearer "+c.key)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var env envelope
	if err := json.Unmarshal(raw, &env); err != nil {
		c.t.Fatalf("%s %s: answer is not a JSON envelope (%d): %s", method, path, resp.StatusCode, raw)
	}
	if env.StatusCode != resp.StatusCode {
		c.t.Errorf("%s %s: envelope statusCode %d, HTTP status %d", method, path, env.StatusCode, resp.StatusCode)
	}
	return resp.StatusCode, env
}

// ok calls do and fails the test unless the status is want; it decodes response into out.
func (c *apiClient) ok(want int, method, path string, body, out any) envelope {
	c.t.Helper()
	code, env := c.do(method, path, body)
	if code != want {
		msg := ""
		if env.Error != nil {
			msg = env.Error.Message
		}
		c.t.Fatalf("%s %s: got status %d (%s), want %d", method, path, code, msg, want)
	}
	if env.Status != 0 {
		c.t.Fatalf("%s %s: envelope status %d, want 0", method, path, env.Status)
	}
	if out != nil {
		if err := json.Unmarshal(env.Response, out); err != nil {
			c.t.Fatalf("%s %s: decode response: %v: %s", method, path, err, env.Response)
		}
	}
	return env
}

// webhookDTO is DocSpace's WebhooksConfigDto as this test reads it.
type webhookDTO struct {
	ID       int64  `json:"id"`
	Name     string `json:"name"`
	URI      string `json:"uri"`
	Enabled  bool   `json:"enabled"`
	SSL      bool   `json:"ssl"`
	Triggers int64  `json:"triggers"`
}

// logDTO is DocSpace's WebhooksLogDto plus hookd's extras.
type logDTO struct {
	ID              int64   `json:"id"`
	ConfigName      string  `json:"configName"`
	ConfigID        int64   `json:"configId"`
	Trigger         int64   `json:"trigger"`
	CreationTime    string  `json:"creationTime"`
	RequestHeaders  string  `json:"requestHeaders"`
	RequestPayload  string  `json:"requestPayload"`
	ResponseHeaders string  `json:"responseHeaders"`
	ResponsePayload string  `json:"responsePayload"`
	Status          int     `json:"status"`
	Delivery        *string `json:"delivery"`
	State           string  `json:"state"`
	Attempts        int     `json:"attempts"`
	RetryOf         int64   `json:"retryOf"`
}

// hit is one request a receiver got.
type hit struct {
	Body      []byte
	Signature string
	Header    http.Header
}

// receiver is a real HTTP server that records what it receives and answers with respond.
type receiver struct {
	*httptest.Server
	mu      sync.Mutex
	hits    []hit
	respond func(n int, w http.ResponseWriter, r *http.Request) // n counts from 1
}

func newReceiver(t testing.TB, respond func(n int, w http.ResponseWriter, r *http.Request)) *receiver {
	rc := &receiver{respond: respond}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		rc.hits = append(rc.hits, hit{Body: body, Signature: r.Header.Get("x-docspace-signature-256"), Header: r.Header.Clone()})
		n := len(rc.hits)
		rc.mu.Unlock()
		if rc.respond == nil {
			w.WriteHeader(http.StatusOK)
			return
		}
		rc.respond(n, w, r)
	}))
	t.Cleanup(rc.Server.Close)
	return rc
}

func (rc *receiver) Hits() []hit {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]hit(nil), rc.hits...)
}

// verifySignature is an independent implementation of the DocSpace signature check: HMAC-SHA256
// of the raw body keyed by the secret, hex, compared case-insensitively after "sha256=".
func verifySignature(secret string, body []byte, header string) error {
	got, ok := strings.CutPrefix(header, "sha256=")
	if !ok {
		return fmt.Errorf("signature header %q lacks the sha256= prefix", header)
	}
	if got != strings.ToUpper(got) {
		return fmt.Errorf("signature %q is not upper-case hex", got)
	}
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	want := hex.EncodeToString(mac.Sum(nil))
	if !strings.EqualFold(got, want) {
		return fmt.Errorf("signature %s does not match the body (want %s)", got, strings.ToUpper(want))
	}
	return nil
}
