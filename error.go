package hookd

import (
	"errors"
	"fmt"
)

// Error codes of domain failures. The HTTP layer maps each to one status code.
const (
	ECONFLICT       = "conflict"     // the request conflicts with stored state
	EINTERNAL       = "internal"     // anything unexpected: the detail is logged, not shown
	EINVALID        = "invalid"      // the input is wrong: 400
	ENOTFOUND       = "not_found"    // no such record, or not visible to the caller: 404
	EUNAUTHORIZED   = "unauthorized" // no valid credentials: 401
	EFORBIDDEN      = "forbidden"    // valid credentials, action not allowed: 403
	ETOOLARGE       = "too_large"    // request body over the limit: 413
	EUNAVAILABLE    = "unavailable"  // overloaded or shutting down, try later: 503
	ERATELIMITED    = "rate_limited" // too many requests: 429
	ENOTIMPLEMENTED = "not_implemented"
)

// Error is a domain failure whose Message can be shown to the user as it is.
type Error struct {
	Code    string
	Message string
}

// Error implements the error interface.
func (e *Error) Error() string {
	return fmt.Sprintf("hookd error: code=%s message=%s", e.Code, e.Message)
}

// Errorf returns an *Error with the code and a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of the first *Error in err's chain, EINTERNAL for any other
// non-nil error, and "" for nil.
func ErrorCode(err error) string {
	var e *Error
	if err == nil {
		return ""
	} else if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage returns the user-facing message of err: the Message of an *Error, or a generic
// text for internal errors, whose detail must not leak to clients.
func ErrorMessage(err error) string {
	var e *Error
	if err == nil {
		return ""
	} else if errors.As(err, &e) {
		return e.Message
	}
	return "Internal error."
}

// MessageNotFound is DocSpace's text for a missing record (spec §2.2).
const MessageNotFound = "The record could not be found"

// MessageAccessDenied is DocSpace's text for a forbidden action (spec §2.2).
const MessageAccessDenied = "Access denied"

// ErrNotFound is the DocSpace "record not found" error.
var ErrNotFound = &Error{Code: ENOTFOUND, Message: MessageNotFound}

// ErrAccessDenied is the DocSpace "Access denied" error.
var ErrAccessDenied = &Error{Code: EFORBIDDEN, Message: MessageAccessDenied}
