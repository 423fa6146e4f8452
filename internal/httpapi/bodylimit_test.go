package httpapi_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/hookd/hookd/internal/httpapi"
)

// TestOversizedBodies checks that every route refuses a body over the limit with 413 in the
// DocSpace error shape, whether the size is announced (Content-Length) or not (chunked), and
// before authentication.
func TestOversizedBodies(t *testing.T) {
	t.Parallel()
	const limit = 4 << 10
	f := newFixture(t, func(c *httpapi.Config) { c.MaxBodyBytes = limit })
	big := `{"name":"` + strings.Repeat("x", 2*limit) + `"}`
	routes := []struct {
		method, path string
		reads        bool // the handler reads a body
	}{
		{"POST", "/api/2.0/settings/webhook", true},
		{"PUT", "/api/2.0/settings/webhook", true},
		{"PUT", "/api/2.0/settings/webhook/enable", true},
		{"PUT", "/api/2.0/settings/webhook/retry", true},
		{"POST", "/api/2.0/webhooks/events", true},
		{"PUT", "/api/2.0/settings/webhook/1/retry", false},
		{"GET", "/api/2.0/settings/webhooks/log", false},
		{"DELETE", "/api/2.0/settings/webhook/1", false},
	}
	for _, r := range routes {
		for _, chunked := range []bool{false, true} {
			for _, c := range []*caller{&f.admin, nil} {
				if chunked && !r.reads {
					continue // only handlers that read a body can notice an unannounced one
				}
				var body io.Reader = strings.NewReader(big)
				if chunked {
					body = io.MultiReader(body) // hides the length: sent chunked
				}
				req, err := http.NewRequestWithContext(f.ctx, r.method, f.srv.URL+r.path, body)
				if err != nil {
					t.Fatal(err)
				}
				if c != nil {
					req.Header.Set("Authorization", "Bearer "+c.token)
				}
				want := 413
				if chunked && c == nil {
					want = 401 // the size is known only once read, and nobody reads for a stranger
				}
				a := f.send(req)
				if a.status != want {
					t.Errorf("%s %s (chunked %v, key %v): got %d, want %d: %s", r.method, r.path, chunked, c != nil, a.status, want, a.raw)
					continue
				}
				msg := "larger than 4096 bytes"
				if want == 401 {
					msg = "Authentication required"
				}
				a.fails(t, want, msg)
			}
		}
	}
	// A body within the limit still works.
	f.createWebhook(&f.admin, "small", "https://example.com/small", 0, "")
}
