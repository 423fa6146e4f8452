package httpapi

import (
	"net/http/httptest"
	"testing"
)

func TestRequestURLScheme(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, forwarded string
		want            string
	}{
		{"PlainHTTP", "", "http://hookd.example/api/2.0/settings/webhook?x=1"},
		{"ProxyHTTPS", "https", "https://hookd.example/api/2.0/settings/webhook?x=1"},
		{"ProxyChainFirstHop", "HTTPS, http", "https://hookd.example/api/2.0/settings/webhook?x=1"},
		{"ProxyHTTP", "http", "http://hookd.example/api/2.0/settings/webhook?x=1"},
	}
	for _, tt := range tests {
		r := httptest.NewRequest("GET", "http://hookd.example/api/2.0/settings/webhook?x=1", nil)
		if tt.forwarded != "" {
			r.Header.Set("X-Forwarded-Proto", tt.forwarded)
		}
		if got := requestURL(r); got != tt.want {
			t.Errorf("%s: got %q, want %q", tt.name, got, tt.want)
		}
	}
}
