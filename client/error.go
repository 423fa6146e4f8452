package client

import (
	"errors"
	"fmt"
	"net/http"
	"time"
)

// Error is an answer of the server that is not a success: the HTTP status and the message the
// server gave, if any.
type Error struct {
	Method     string // HTTP method of the request
	Path       string // path of the request, without the query
	StatusCode int    // HTTP status code
	// Message is the server's explanation (error.message of the DocSpace envelope, or the
	// details of a validation failure); empty when the body carried none.
	Message string
	// RetryAfter is the wait the server asked for with Retry-After (429, 503), 0 if none.
	RetryAfter time.Duration
}

// Error implements the error interface: "GET /api/2.0/settings/webhook: 404 Not Found: The
// record could not be found".
func (e *Error) Error() string {
	s := fmt.Sprintf("%s %s: %d %s", e.Method, e.Path, e.StatusCode, http.StatusText(e.StatusCode))
	if e.Message != "" {
		s += ": " + e.Message
	}
	return s
}

// StatusCode returns the HTTP status of the first *Error in err's chain, or 0 when err is not
// an answer of the server (nil, or a transport failure).
func StatusCode(err error) int {
	var e *Error
	if errors.As(err, &e) {
		return e.StatusCode
	}
	return 0
}

// IsNotFound reports whether err is a 404 answer: no such webhook or delivery.
func IsNotFound(err error) bool { return StatusCode(err) == http.StatusNotFound }

// IsAuth reports whether err is a 401 or 403 answer: the key is missing, wrong, or not allowed
// to do this.
func IsAuth(err error) bool {
	c := StatusCode(err)
	return c == http.StatusUnauthorized || c == http.StatusForbidden
}
