package client

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"
)

// flexTime decodes the date-times DocSpace and hookd write: RFC 3339 with or without
// fractional seconds, and the offset-less form some DocSpace versions emit (read as UTC).
type flexTime struct{ t time.Time }

var naiveLayouts = []string{"2006-01-02T15:04:05.9999999", "2006-01-02 15:04:05.9999999"}

func (f *flexTime) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("date-time %s: %w", b, err)
	}
	if s == "" {
		return nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		f.t = t
		return nil
	}
	for _, layout := range naiveLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			f.t = t
			return nil
		}
	}
	return fmt.Errorf("date-time %q is not RFC 3339", s)
}

// ptr returns the time, or nil when it was absent.
func (f flexTime) ptr() *time.Time {
	if f.t.IsZero() {
		return nil
	}
	t := f.t
	return &t
}

// flexText decodes a field that DocSpace sends as JSON text in a string (requestHeaders,
// requestPayload) but that a server might also send as a JSON value: either way the result is
// the JSON text.
type flexText string

func (f *flexText) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case string(b) == "null":
		*f = ""
	case len(b) > 0 && b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*f = flexText(s)
	default:
		*f = flexText(b)
	}
	return nil
}
