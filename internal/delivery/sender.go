package delivery

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"syscall"
	"time"

	"github.com/hookd/hookd"
)

// Version is the hookd version sent in the User-Agent header ("hookd/<Version>"); the build
// sets it with -ldflags "-X github.com/hookd/hookd/internal/delivery.Version=...".
var Version = "dev"

// Defaults of SenderConfig.
const (
	DefaultAttemptTimeout   = 30 * time.Second
	DefaultMaxResponseBytes = 64 << 10
	probeTimeout            = 10 * time.Second
	// drainLimit is how much of an answer past the cap is read and thrown away so that the
	// connection can be reused; a longer answer costs the connection instead.
	drainLimit = 256 << 10
)

// SenderConfig tunes a Sender. The zero value of a field means its default.
type SenderConfig struct {
	// Timeout bounds one attempt from dialling to the last byte of the answer read.
	// Default 30 s.
	Timeout time.Duration
	// MaxResponseBytes caps how much of a receiver's answer is read and kept; the rest is
	// discarded. Default 64 KiB.
	MaxResponseBytes int64
	// MaxIdleConnsPerHost is how many idle connections to one receiver are kept for reuse;
	// set it to the worker's Concurrency so that a burst to one receiver does not close and
	// redial connections past the cap. Default DefaultConcurrency (64).
	MaxIdleConnsPerHost int
}

// Sender POSTs signed deliveries to receivers through a Guard. It holds two reused HTTP
// clients, one that verifies certificates (webhooks with ssl=true) and one that accepts any
// (ssl=false, as DocSpace does); neither follows redirects. A Sender is safe for concurrent use.
type Sender struct {
	cfg      SenderConfig
	verify   *http.Client
	noVerify *http.Client
}

// NewSender returns a sender whose connections are dialled by guard.
func NewSender(guard *Guard, cfg SenderConfig) *Sender {
	setDefault(&cfg.Timeout, DefaultAttemptTimeout)
	setDefault(&cfg.MaxResponseBytes, DefaultMaxResponseBytes)
	setDefault(&cfg.MaxIdleConnsPerHost, DefaultConcurrency)
	return &Sender{
		cfg:      cfg,
		verify:   newClient(guard, &tls.Config{MinVersion: tls.VersionTLS12}, cfg.MaxIdleConnsPerHost),
		noVerify: newClient(guard, &tls.Config{InsecureSkipVerify: true}, cfg.MaxIdleConnsPerHost), //nolint:gosec // ssl=false means "accept any certificate" (DocSpace)
	}
}

func newClient(guard *Guard, tlsConf *tls.Config, idlePerHost int) *http.Client {
	return &http.Client{
		Transport: &http.Transport{
			Proxy:                 nil, // a proxy would dial for us, past the guard
			DialContext:           guard.DialContext,
			TLSClientConfig:       tlsConf,
			TLSHandshakeTimeout:   10 * time.Second,
			MaxIdleConns:          max(256, idlePerHost), // never below the per-host cap
			MaxIdleConnsPerHost:   idlePerHost,
			IdleConnTimeout:       90 * time.Second,
			ExpectContinueTimeout: time.Second,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse // a 3xx is recorded as the answer, never followed
		},
	}
}

// Timeout returns the per-attempt timeout in force.
func (s *Sender) Timeout() time.Duration { return s.cfg.Timeout }

// Close closes the idle connections of the sender's clients.
func (s *Sender) Close() {
	s.verify.CloseIdleConnections()
	s.noVerify.CloseIdleConnections()
}

func (s *Sender) client(ssl bool) *http.Client {
	if ssl {
		return s.verify
	}
	return s.noVerify
}

// Send makes one attempt of the claimed delivery at time now: it builds the DocSpace body
// (with the retry fields when the delivery was tried before), signs it with the webhook
// secret (and, per webhook, with the Standard Webhooks scheme, timestamped now), POSTs it and
// reads a capped answer. It never fails: what went wrong is in the
// returned Attempt's Error, and Status is 0 when no HTTP answer came.
func (s *Sender) Send(ctx context.Context, c *hookd.Claim, now time.Time) hookd.Attempt {
	d, w := c.Delivery, c.Webhook
	att := hookd.Attempt{DeliveryID: d.ID, Number: d.Attempts + 1, StartedAt: now}
	if d.Event == nil || w == nil {
		att.Error = "delivery has no event or webhook"
		return att
	}
	body, err := hookd.BuildBody(d.Event, w, d.ID, retryInfo(d, w, now))
	if err != nil {
		att.Error = fmt.Sprintf("build body: %v", err)
		return att
	}
	att.RequestBody = body
	att.RequestHeaders = map[string][]string{
		"Accept":     {"*/*"},
		"User-Agent": {"hookd/" + Version},
	}
	// The DocSpace signature always; the Standard Webhooks headers when the webhook asks for
	// them; the previous secret's signatures while a rotation overlaps (docs/signing.md).
	for k, v := range hookd.SignatureHeaders(w, d.ID, body, now) {
		att.RequestHeaders[http.CanonicalHeaderKey(k)] = []string{v}
	}
	if _, err := parseReceiverURL(w.URI, w.SSL); err != nil {
		att.Error = hookd.ErrorMessage(err)
		return att
	}
	s.exchange(ctx, &att, w.URI, w.SSL)
	return att
}

// retryInfo returns the retry fields of the body for an automatic retry (a delivery tried
// before), nil for a first attempt; manual retries are new deliveries, so they have none.
func retryInfo(d *hookd.Delivery, w *hookd.Webhook, now time.Time) *hookd.RetryInfo {
	if d.Attempts == 0 {
		return nil
	}
	r := &hookd.RetryInfo{
		Count:              d.Attempts,
		On:                 now,
		LastFailureOn:      now,
		LastFailureContent: d.LastError,
		LastSuccessOn:      w.LastSuccessOn,
	}
	if d.DeliveredOn != nil {
		r.LastFailureOn = *d.DeliveredOn
	}
	return r
}

// exchange POSTs att's body with its headers to uri within the attempt timeout and fills in
// the answer, the duration and, unless a 2xx came, the error.
func (s *Sender) exchange(ctx context.Context, att *hookd.Attempt, uri string, ssl bool) {
	start := time.Now() // before the timeout starts, so that a timed-out attempt lasts at least the timeout
	defer func() { att.Duration = time.Since(start) }()
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, uri, bytes.NewReader(att.RequestBody))
	if err != nil {
		att.Error = "invalid request: " + unwrapURLError(err).Error()
		return
	}
	for k, v := range att.RequestHeaders {
		req.Header[k] = v
	}
	req.Header.Set("Content-Type", "application/json; charset=utf-8")

	resp, err := s.client(ssl).Do(req)
	if err != nil {
		att.Error = describeErr(ctx, err, s.cfg.Timeout)
		return
	}
	att.Status = resp.StatusCode
	att.ResponseHeaders = resp.Header.Clone()
	// A broken or slow answer body does not undo the status: what was read is kept.
	att.ResponseBody, err = io.ReadAll(io.LimitReader(resp.Body, s.cfg.MaxResponseBytes))
	if err == nil {
		// Read on a little so that a slightly long answer leaves a reusable connection.
		_, _ = io.CopyN(io.Discard, resp.Body, drainLimit)
	}
	resp.Body.Close()
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		return // the status is the receiver's acknowledgement, even if its body was cut off
	case resp.StatusCode >= 300 && resp.StatusCode < 400:
		att.Error = fmt.Sprintf("receiver answered %d; redirects are not followed", resp.StatusCode)
	default:
		att.Error = "receiver answered " + strconv.Itoa(resp.StatusCode)
	}
	if err != nil {
		att.Error += "; answer body incomplete: " + describeErr(ctx, err, s.cfg.Timeout)
	}
}

// Probe is DocSpace's liveness check of a receiver: a HEAD request through the guard, 10 s at
// most, no redirects followed, certificates verified when ssl is true, that must be answered
// with a 2xx. Failures are hookd EINVALID errors.
func (s *Sender) Probe(ctx context.Context, uri string, ssl bool) error {
	if _, err := parseReceiverURL(uri, ssl); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodHead, uri, nil)
	if err != nil {
		return hookd.Errorf(hookd.EINVALID, "Invalid URL: %s", unwrapURLError(err))
	}
	req.Header.Set("User-Agent", "hookd/"+Version)
	resp, err := s.client(ssl).Do(req)
	if err != nil {
		return hookd.Errorf(hookd.EINVALID, "The receiver did not answer the HEAD request: %s", describeErr(ctx, err, probeTimeout))
	}
	resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode >= 300 {
		return hookd.Errorf(hookd.EINVALID, "The receiver answered the HEAD request with %d; it must answer 2xx", resp.StatusCode)
	}
	return nil
}

// describeErr turns a transport error into a short sentence for the attempt's Error: a
// guard refusal as the guard says it, then the common causes by name, else the error
// without the URL (which may hold a token).
func describeErr(ctx context.Context, err error, timeout time.Duration) string {
	var herr *hookd.Error
	var certErr *tls.CertificateVerificationError
	var unknownAuth x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	var invalidCert x509.CertificateInvalidError
	var netErr net.Error
	switch {
	case errors.As(err, &herr):
		return herr.Message
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		return "timeout after " + timeout.String()
	case ctx.Err() != nil:
		return "attempt cancelled"
	case errors.As(err, &certErr), errors.As(err, &unknownAuth), errors.As(err, &hostErr), errors.As(err, &invalidCert):
		return "TLS certificate verification failed: " + unwrapURLError(err).Error()
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.ECONNRESET):
		return "connection reset by receiver"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "connection closed by receiver before it answered"
	case errors.As(err, &netErr) && netErr.Timeout():
		return "timeout: " + unwrapURLError(err).Error()
	}
	return unwrapURLError(err).Error()
}

// unwrapURLError drops the "Post \"https://...\":" prefix that net/http puts on errors.
func unwrapURLError(err error) error {
	var uerr *url.Error
	if errors.As(err, &uerr) {
		return uerr.Err
	}
	return err
}
