package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/hookd/hookd"
)

// envelope is DocSpace's success envelope (spec §2.1).
type envelope struct {
	Response   any    `json:"response,omitempty"`
	Count      int    `json:"count"`
	Total      *int64 `json:"total,omitempty"`
	Links      []link `json:"links"`
	Status     int    `json:"status"`
	StatusCode int    `json:"statusCode"`
}

// link is one element of the envelope's links: the request that produced the answer.
type link struct {
	Href   string `json:"href"`
	Action string `json:"action"`
}

// errorEnvelope is DocSpace's error shape (spec §2.2), used for every failure.
type errorEnvelope struct {
	Error      errorBody `json:"error"`
	Status     int       `json:"status"`
	StatusCode int       `json:"statusCode"`
}

type errorBody struct {
	Message string `json:"message"`
}

// errorStatus maps hookd error codes to HTTP status codes. Codes not listed are internal (500).
var errorStatus = map[string]int{
	hookd.EINVALID:        http.StatusBadRequest,
	hookd.ENOTFOUND:       http.StatusNotFound,
	hookd.EUNAUTHORIZED:   http.StatusUnauthorized,
	hookd.EFORBIDDEN:      http.StatusForbidden,
	hookd.ECONFLICT:       http.StatusBadRequest, // DocSpace answers 400 for duplicates
	hookd.ETOOLARGE:       http.StatusRequestEntityTooLarge,
	hookd.ERATELIMITED:    http.StatusTooManyRequests,
	hookd.EUNAVAILABLE:    http.StatusServiceUnavailable,
	hookd.ENOTIMPLEMENTED: http.StatusNotImplemented,
}

// handlerFunc is a handler that reports failure by returning an error; handle writes it.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

// handle adapts h to http.Handler: a returned error becomes the DocSpace error envelope. A
// body announced larger than the limit is refused before anything else runs, on every route.
func (a *API) handle(h handlerFunc) http.Handler { return a.handleBody(a.maxBody, h) }

// handleBody is handle with its own body limit, for the one route that takes more.
func (a *API) handleBody(limit int64, h handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > limit {
			a.writeError(w, r, bodyTooLarge(limit))
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, limit)
		if err := h(w, r); err != nil {
			a.writeError(w, r, err)
		}
	})
}

// writeError writes err in the error shape. Domain errors show their message; anything else
// is logged here, once, and answered with a generic message.
func (a *API) writeError(w http.ResponseWriter, r *http.Request, err error) {
	code := hookd.ErrorCode(err)
	status, ok := errorStatus[code]
	if !ok {
		status = http.StatusInternalServerError
		a.logger.ErrorContext(r.Context(), "api request failed",
			"method", r.Method, "path", r.URL.Path, "error", err)
	}
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", "Bearer")
	}
	if he, ok := errors.AsType[*headerError](err); ok {
		for k, v := range he.header {
			w.Header()[k] = v
		}
	}
	writeErrorStatus(w, status, hookd.ErrorMessage(err))
}

// writeErrorStatus writes the error shape with an explicit status.
func writeErrorStatus(w http.ResponseWriter, status int, message string) {
	writeJSON(w, status, errorEnvelope{Error: errorBody{Message: message}, Status: 1, StatusCode: status})
}

// writeOK writes response in the success envelope with status 200.
func writeOK(w http.ResponseWriter, r *http.Request, response any) error {
	return writeEnvelope(w, r, http.StatusOK, response, nil)
}

// writeEnvelope writes response in the success envelope. count is the length of an array
// response and 1 for anything else; total is set on paged listings only.
func writeEnvelope(w http.ResponseWriter, r *http.Request, status int, response any, total *int64) error {
	count := 1
	if l, ok := response.(interface{ len() int }); ok {
		count = l.len()
	}
	writeJSON(w, status, envelope{
		Response:   response,
		Count:      count,
		Total:      total,
		Links:      []link{{Href: requestURL(r), Action: r.Method}},
		Status:     0,
		StatusCode: status,
	})
	return nil
}

// list is a JSON array that knows its length for the envelope's count; it always encodes as
// an array, never null.
type list[T any] []T

func (l list[T]) len() int { return len(l) }

// MarshalJSON encodes a nil list as [].
func (l list[T]) MarshalJSON() ([]byte, error) {
	if l == nil {
		return []byte("[]"), nil
	}
	return json.Marshal([]T(l))
}

// writeJSON encodes v. Encoding errors cannot happen with the types of this package.
func writeJSON(w http.ResponseWriter, status int, v any) {
	var buf bytes.Buffer
	if err := json.NewEncoder(&buf).Encode(v); err != nil {
		buf.Reset()
		status = http.StatusInternalServerError
		fmt.Fprintf(&buf, `{"error":{"message":"Internal error."},"status":1,"statusCode":%d}`+"\n", status)
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// requestURL returns the absolute URL of the request, query included, for the envelope's
// links. The scheme is the connection's, or https when a TLS-terminating proxy in front says
// so with X-Forwarded-Proto. The link only echoes the request back to its client (as its Host
// does), so the header needs no trust.
func requestURL(r *http.Request) string {
	scheme := "http"
	if proto, _, _ := strings.Cut(r.Header.Get("X-Forwarded-Proto"), ","); r.TLS != nil || strings.EqualFold(strings.TrimSpace(proto), "https") {
		scheme = "https"
	}
	return scheme + "://" + r.Host + r.URL.RequestURI()
}

// decodeJSON reads the request body into v, at most the configured size. Keys match the
// struct's JSON names case-insensitively, as DocSpace's binder does.
func (a *API) decodeJSON(w http.ResponseWriter, r *http.Request, v any) error {
	return decodeJSONLimit(w, r, v, a.maxBody)
}

// decodeJSONLimit is decodeJSON with a body limit of its own.
func decodeJSONLimit(w http.ResponseWriter, r *http.Request, v any, limit int64) error {
	if r.ContentLength > limit {
		return bodyTooLarge(limit)
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			return bodyTooLarge(limit)
		}
		return hookd.Errorf(hookd.EINVALID, "Malformed JSON body: the body could not be read.")
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return hookd.Errorf(hookd.EINVALID, "Malformed JSON body: the body is empty.")
	}
	return decodeBytes(body, v)
}

// decodeBytes decodes one JSON value from body into v and turns decoding errors into
// EINVALID messages that say where the problem is.
func decodeBytes(body []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(v); err != nil {
		return jsonError(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return hookd.Errorf(hookd.EINVALID, "Malformed JSON body: unexpected data after the JSON value at offset %d.", dec.InputOffset())
	}
	return nil
}

// jsonError describes a decoding failure to the client.
func jsonError(err error) error {
	if e, ok := errors.AsType[*json.SyntaxError](err); ok {
		return hookd.Errorf(hookd.EINVALID, "Malformed JSON body: %s at offset %d.", e.Error(), e.Offset)
	}
	if e, ok := errors.AsType[*json.UnmarshalTypeError](err); ok {
		// e.Value may carry the literal ("number 12345678"): keep only its kind, since the
		// field could be the secret.
		got, _, _ := strings.Cut(e.Value, " ")
		if e.Field == "" {
			return hookd.Errorf(hookd.EINVALID, "Malformed JSON body: expected a JSON %s, got %s.", jsonKind(e.Type.Kind().String()), got)
		}
		return hookd.Errorf(hookd.EINVALID, "The value of %s has the wrong type: got %s, want %s.", e.Field, got, jsonKind(e.Type.Kind().String()))
	}
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return hookd.Errorf(hookd.EINVALID, "Malformed JSON body: unexpected end of input.")
	}
	if e, ok := errors.AsType[*hookd.Error](err); ok {
		return e // from a field's own UnmarshalJSON
	}
	return hookd.Errorf(hookd.EINVALID, "Malformed JSON body: %s.", strings.TrimPrefix(err.Error(), "json: "))
}

// jsonKind names a Go kind the way a JSON client thinks of it.
func jsonKind(kind string) string {
	switch {
	case strings.HasPrefix(kind, "int"), strings.HasPrefix(kind, "uint"):
		return "integer"
	case strings.HasPrefix(kind, "float"):
		return "number"
	case kind == "bool":
		return "boolean"
	case kind == "slice", kind == "array":
		return "array"
	case kind == "struct", kind == "map":
		return "object"
	}
	return kind
}

// bodyTooLarge is the 413 error.
func bodyTooLarge(limit int64) error {
	return hookd.Errorf(hookd.ETOOLARGE, "The request body is larger than %d bytes.", limit)
}
