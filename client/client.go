package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// MaxResponseBytes caps how much of one answer is read: a log page of 100 deliveries with
// their payloads fits many times over.
const MaxResponseBytes = 64 << 20

// Client calls one hookd or DocSpace server. It is safe for concurrent use.
type Client struct {
	base          *url.URL
	key           string
	hc            *http.Client
	userAgent     string
	maxRetries    int
	backoff       time.Duration
	maxBackoff    time.Duration
	maxRetryAfter time.Duration
	notify        RetryNotifyFunc
	sleep         func(ctx context.Context, d time.Duration) error // replaced in tests
}

// RetryNotifyFunc is told before the client waits to repeat a request: what failed and how
// long it will wait. The CLI uses it to say "rate limited, waiting 30s".
type RetryNotifyFunc func(method, path string, err error, wait time.Duration)

// Option changes a Client's defaults.
type Option func(*Client)

// WithHTTPClient sets the http.Client used for every request. The default has a 60 s
// timeout per request.
func WithHTTPClient(hc *http.Client) Option { return func(c *Client) { c.hc = hc } }

// WithRetries sets how many times a failed GET (429, 5xx, dropped connection) or a rate-limited
// retry request is repeated; 0 disables repeats. The default is 4.
func WithRetries(n int) Option { return func(c *Client) { c.maxRetries = max(n, 0) } }

// WithBackoff sets the first wait between repeats and its cap; each wait doubles, with ±20 %
// jitter. Retry-After, when the server sends it, replaces the computed wait. The defaults are
// 500 ms and 10 s.
func WithBackoff(first, limit time.Duration) Option {
	return func(c *Client) { c.backoff, c.maxBackoff = first, limit }
}

// WithMaxRetryAfter sets the longest Retry-After the client is willing to wait; a longer one
// ends the call with the *Error (its RetryAfter says how long). The default is 16 minutes,
// above DocSpace's 15-minute window for its retry routes.
func WithMaxRetryAfter(d time.Duration) Option { return func(c *Client) { c.maxRetryAfter = d } }

// WithRetryNotify sets a function told before each wait to repeat a request.
func WithRetryNotify(f RetryNotifyFunc) Option { return func(c *Client) { c.notify = f } }

// WithUserAgent sets the User-Agent header.
func WithUserAgent(ua string) Option { return func(c *Client) { c.userAgent = ua } }

// New returns a client of the server at baseURL (e.g. http://127.0.0.1:8080 or
// https://yourportal.onlyoffice.com) authenticating with key: a hookd or DocSpace API key
// (sk-...), sent as "Authorization: Bearer sk-...". An empty key sends no Authorization.
func New(baseURL, key string, opts ...Option) (*Client, error) {
	u, err := url.Parse(strings.TrimSpace(baseURL))
	if err != nil {
		return nil, fmt.Errorf("server URL %q: %w", baseURL, err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("server URL %q: want http://host[:port] or https://host", baseURL)
	}
	u.Path = strings.TrimRight(u.Path, "/")
	u.RawQuery, u.Fragment = "", ""
	c := &Client{
		base:          u,
		key:           strings.TrimSpace(key),
		hc:            &http.Client{Timeout: 60 * time.Second},
		userAgent:     "hookd-client",
		maxRetries:    4,
		backoff:       500 * time.Millisecond,
		maxBackoff:    10 * time.Second,
		maxRetryAfter: 16 * time.Minute,
		sleep:         sleepCtx,
	}
	for _, o := range opts {
		o(c)
	}
	return c, nil
}

// BaseURL returns the server URL the client talks to.
func (c *Client) BaseURL() string { return c.base.String() }

// authorization returns the Authorization header for the key: API keys and JWTs go as Bearer
// tokens; a value that already names its scheme, or a DocSpace session token, goes as it is.
func (c *Client) authorization() string {
	k := c.key
	switch {
	case k == "":
		return ""
	case strings.Contains(k, " "):
		return k // "Bearer ...", "Basic ..."
	case strings.HasPrefix(k, "sk-"), strings.Count(k, ".") == 2:
		return "Bearer " + k
	}
	return k
}

// retryPolicy says which failures of a request may be repeated.
type retryPolicy int

const (
	retryNever    retryPolicy = iota
	retryIdempote             // GET: 429, 5xx and dropped connections
	retryRateOnly             // retry PUTs: 429 only, which means nothing was done
)

// request is one API call.
type request struct {
	method string
	path   string // under the base URL, e.g. /api/2.0/settings/webhook
	query  url.Values
	body   any
	retry  retryPolicy
}

// envelope is DocSpace's answer wrapper (spec §2).
type envelope struct {
	Response   json.RawMessage `json:"response"`
	Count      *int64          `json:"count"`
	Total      *int64          `json:"total"`
	Status     int             `json:"status"`
	StatusCode int             `json:"statusCode"`
	Error      *struct {
		Message string `json:"message"`
	} `json:"error"`
}

// do sends req, repeating it as its policy allows, and decodes the envelope's response into
// out (when out is not nil).
func (c *Client) do(ctx context.Context, req request, out any) (*envelope, error) {
	var body []byte
	if req.body != nil {
		var err error
		if body, err = json.Marshal(req.body); err != nil {
			return nil, fmt.Errorf("%s %s: encode body: %w", req.method, req.path, err)
		}
	}
	for try := 0; ; try++ {
		env, err := c.send(ctx, req, body)
		if err == nil {
			if out != nil && len(env.Response) > 0 {
				if err := json.Unmarshal(env.Response, out); err != nil {
					return nil, fmt.Errorf("%s %s: decode answer: %w", req.method, req.path, err)
				}
			}
			return env, nil
		}
		wait, ok := c.retryWait(req.retry, try, err)
		if !ok || ctx.Err() != nil {
			return nil, err
		}
		if c.notify != nil {
			c.notify(req.method, req.path, err, wait)
		}
		if serr := c.sleep(ctx, wait); serr != nil {
			return nil, err
		}
	}
}

// retryWait decides whether a failed try may be repeated, and after how long.
func (c *Client) retryWait(p retryPolicy, try int, err error) (time.Duration, bool) {
	if p == retryNever || try >= c.maxRetries {
		return 0, false
	}
	var e *Error
	if errors.As(err, &e) {
		retryable := e.StatusCode == http.StatusTooManyRequests ||
			(p == retryIdempote && e.StatusCode >= 500)
		if !retryable {
			return 0, false
		}
		if e.RetryAfter > 0 {
			return e.RetryAfter, e.RetryAfter <= c.maxRetryAfter
		}
	} else if p != retryIdempote || isDialError(err) {
		// A refused connection will not heal in a second; other transport failures of an
		// idempotent request (reset, timeout) are worth another try.
		return 0, false
	}
	d := c.backoff << try
	if d > c.maxBackoff || d <= 0 {
		d = c.maxBackoff
	}
	return time.Duration(float64(d) * (0.8 + 0.4*rand.Float64())), true
}

func isDialError(err error) bool {
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return true
	}
	var dns *net.DNSError
	return errors.As(err, &dns)
}

// send makes one HTTP request and reads its envelope; a non-success answer is an *Error.
func (c *Client) send(ctx context.Context, req request, body []byte) (*envelope, error) {
	u := *c.base
	u.Path += req.path
	if len(req.query) > 0 {
		u.RawQuery = req.query.Encode()
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	hr, err := http.NewRequestWithContext(ctx, req.method, u.String(), rd)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", req.method, req.path, err)
	}
	hr.Header.Set("Accept", "application/json")
	hr.Header.Set("User-Agent", c.userAgent)
	if body != nil {
		hr.Header.Set("Content-Type", "application/json")
	}
	if a := c.authorization(); a != "" {
		hr.Header.Set("Authorization", a)
	}
	resp, err := c.hc.Do(hr)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", req.method, req.path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, MaxResponseBytes+1))
	if err != nil {
		return nil, fmt.Errorf("%s %s: read answer: %w", req.method, req.path, err)
	}
	if len(raw) > MaxResponseBytes {
		return nil, fmt.Errorf("%s %s: answer larger than %d bytes", req.method, req.path, MaxResponseBytes)
	}
	var env envelope
	jsonErr := json.Unmarshal(raw, &env)
	status := resp.StatusCode
	if status >= 200 && status < 300 && jsonErr == nil && env.Status != 1 {
		return &env, nil
	}
	if status >= 200 && status < 300 {
		if jsonErr != nil {
			return nil, fmt.Errorf("%s %s: answer is not a JSON envelope: %w", req.method, req.path, jsonErr)
		}
		if env.StatusCode >= 400 {
			status = env.StatusCode // DocSpace's validation envelope: status 1 in a 2xx answer
		} else {
			status = http.StatusBadRequest
		}
	}
	return nil, &Error{
		Method:     req.method,
		Path:       req.path,
		StatusCode: status,
		Message:    errorMessage(raw, &env, jsonErr == nil),
		RetryAfter: parseRetryAfter(resp.Header.Get("Retry-After"), time.Now()),
	}
}

// errorMessage finds the server's explanation in an error answer: error.message, the details
// of a validation failure, or a short plain-text body.
func errorMessage(raw []byte, env *envelope, isJSON bool) string {
	if isJSON {
		if env.Error != nil && env.Error.Message != "" {
			return env.Error.Message
		}
		var problem struct {
			Title  string              `json:"title"`
			Errors map[string][]string `json:"errors"`
		}
		if len(env.Response) > 0 && json.Unmarshal(env.Response, &problem) == nil && (problem.Title != "" || len(problem.Errors) > 0) {
			msg := problem.Title
			for field, msgs := range problem.Errors {
				msg = strings.TrimSpace(msg + " " + field + ": " + strings.Join(msgs, " "))
			}
			return msg
		}
		return ""
	}
	s := strings.TrimSpace(string(raw))
	if s == "" || strings.HasPrefix(s, "<") || strings.ContainsAny(s, "\n\r") || len(s) > 200 {
		return "" // an HTML page from a proxy, or something too long to be a message
	}
	return s
}

// parseRetryAfter reads a Retry-After header: seconds or an HTTP date.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if n, err := strconv.Atoi(v); err == nil && n >= 0 {
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
