package webui

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/hookd/hookd"
)

// Bodies above either limit are shown cut, with a link to the whole raw text (DocSpace's UI
// hides bodies over 4000 characters or 100 lines).
const (
	maxShownChars = 4000
	maxShownLines = 100
)

// detailsPage is the data of one delivery's details.
type detailsPage struct {
	base
	D            *hookd.Delivery
	Webhook      *hookd.Webhook
	Badge        badge
	Live         bool
	Request      bodyView
	Response     *bodyView // nil when no answer came
	ResponseNote string    // why there is no response to show
	Attempts     []attemptView
	HistoryURL   string
}

// attemptView is one attempt of the timeline.
type attemptView struct {
	*hookd.Attempt
	Badge    badge
	Request  bodyView
	Response *bodyView
}

// header is one request or response header line.
type header struct{ Name, Value string }

// bodyView is a request or response as the page shows it: headers, and the body pretty
// printed when it is JSON, cut when long.
type bodyView struct {
	Headers []header
	Text    string
	Size    int
	Lines   int
	Cut     bool
	RawURL  string
}

func newBodyView(headers map[string][]string, body []byte, rawURL string) bodyView {
	v := bodyView{Size: len(body), RawURL: rawURL}
	names := make([]string, 0, len(headers))
	for name := range headers {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		for _, value := range headers[name] {
			v.Headers = append(v.Headers, header{name, value})
		}
	}
	text := string(body)
	if json.Valid(body) {
		var buf bytes.Buffer
		if json.Indent(&buf, body, "", "  ") == nil {
			text = buf.String()
		}
	}
	if !utf8.ValidString(text) {
		text = strings.ToValidUTF8(text, "\uFFFD")
	}
	v.Lines = strings.Count(text, "\n") + 1
	if len(text) > maxShownChars || v.Lines > maxShownLines {
		v.Cut = true
		lines := strings.SplitN(text, "\n", maxShownLines+1)
		text = strings.Join(lines[:min(len(lines), maxShownLines)], "\n")
		if len(text) > maxShownChars {
			text = strings.ToValidUTF8(text[:maxShownChars], "")
		}
	}
	v.Text = text
	return v
}

// handleDetails shows one delivery: its DocSpace view (status, trigger, times, the last
// request and response) and the timeline of every attempt.
func (u *UI) handleDetails(w http.ResponseWriter, r *http.Request, s *session) error {
	d, err := u.pathDelivery(r, s.key)
	if err != nil {
		return err
	}
	hook, err := u.store.WebhookGet(r.Context(), d.WebhookID)
	if err != nil {
		return fmt.Errorf("get webhook %d: %w", d.WebhookID, err)
	}
	attempts, err := u.store.AttemptList(r.Context(), d.ID)
	if err != nil {
		return fmt.Errorf("list attempts of %d: %w", d.ID, err)
	}
	p := detailsPage{
		base:       newBase(s, fmt.Sprintf("Delivery %d", d.ID), "history"),
		D:          d,
		Webhook:    hook,
		Badge:      deliveryBadge(d),
		Live:       live(d.State),
		HistoryURL: fmt.Sprintf("/webhooks/%d/history", d.WebhookID),
	}
	raw := func(n int, part string) string {
		return fmt.Sprintf("/deliveries/%d/raw?attempt=%d&part=%s", d.ID, n, part)
	}
	for _, a := range attempts {
		av := attemptView{Attempt: a, Badge: attemptBadge(a), Request: newBodyView(a.RequestHeaders, a.RequestBody, raw(a.Number, "request"))}
		if a.Status != 0 {
			resp := newBodyView(a.ResponseHeaders, a.ResponseBody, raw(a.Number, "response"))
			av.Response = &resp
		}
		p.Attempts = append(p.Attempts, av)
	}
	if n := len(p.Attempts); n > 0 {
		last := p.Attempts[n-1]
		p.Request, p.Response = last.Request, last.Response
		if last.Response == nil {
			p.ResponseNote = "Failed to connect: " + firstNonEmpty(last.Error, d.LastError, "no answer.")
		}
	} else {
		body, err := hookd.BuildBody(d.Event, hook, 0, nil)
		if err != nil {
			return fmt.Errorf("compose body of %d: %w", d.ID, err)
		}
		p.Request = newBodyView(nil, body, raw(0, "request"))
		p.ResponseNote = "Not sent yet."
		if d.State == hookd.DeliveryStateFailed {
			p.ResponseNote = "Never sent: " + firstNonEmpty(d.LastError, "the delivery was given up.")
		}
	}
	u.render(w, r, http.StatusOK, "details", p)
	return nil
}

// handleRaw shows one request or response body as plain text, whole. attempt 0 is the body a
// delivery not yet tried would send. The text is sandboxed so that a receiver's HTML answer
// cannot run in the UI's origin.
func (u *UI) handleRaw(w http.ResponseWriter, r *http.Request, s *session) error {
	d, err := u.pathDelivery(r, s.key)
	if err != nil {
		return err
	}
	n, err := strconv.Atoi(r.URL.Query().Get("attempt"))
	part := r.URL.Query().Get("part")
	if err != nil || n < 0 || (part != "request" && part != "response") {
		return errPageNotFound
	}
	var body []byte
	if n == 0 {
		if part != "request" {
			return errPageNotFound
		}
		hook, err := u.store.WebhookGet(r.Context(), d.WebhookID)
		if err != nil {
			return fmt.Errorf("get webhook %d: %w", d.WebhookID, err)
		}
		if body, err = hookd.BuildBody(d.Event, hook, 0, nil); err != nil {
			return fmt.Errorf("compose body of %d: %w", d.ID, err)
		}
	} else {
		attempts, err := u.store.AttemptList(r.Context(), d.ID)
		if err != nil {
			return fmt.Errorf("list attempts of %d: %w", d.ID, err)
		}
		i := sort.Search(len(attempts), func(i int) bool { return attempts[i].Number >= n })
		if i == len(attempts) || attempts[i].Number != n {
			return errPageNotFound
		}
		body = attempts[i].RequestBody
		if part == "response" {
			body = attempts[i].ResponseBody
		}
	}
	h := w.Header()
	h.Set("Content-Security-Policy", "sandbox; default-src 'none'")
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	_, _ = w.Write(body)
	return nil
}

func firstNonEmpty(values ...string) string {
	for _, v := range values {
		if v != "" {
			return v
		}
	}
	return ""
}
