package client

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
)

const pathTriggers = "/api/2.0/settings/webhook/triggers"

// TriggerInfo is one trigger the server offers (DocSpace WebhookTriggerDto).
type TriggerInfo struct {
	Name string  `json:"name"` // wire name, e.g. "file.created"; "*" for every event
	ID   Trigger `json:"id"`   // the bit, 0 for "*"
	// Available says whether the caller may subscribe to it. DocSpace up to v3.6 does not
	// say; those answers read as available.
	Available bool `json:"available"`
}

// Triggers lists the triggers of the server in its order. It reads both shapes of the answer:
// the v3.7 array of {name, id, available} and the v3.1–v3.6 object mapping name to value.
func (c *Client) Triggers(ctx context.Context) ([]TriggerInfo, error) {
	var raw json.RawMessage
	if _, err := c.do(ctx, request{method: http.MethodGet, path: pathTriggers, retry: retryIdempote}, &raw); err != nil {
		return nil, err
	}
	out, err := decodeTriggers(raw)
	if err != nil {
		return nil, fmt.Errorf("GET %s: decode answer: %w", pathTriggers, err)
	}
	return out, nil
}

func decodeTriggers(raw json.RawMessage) ([]TriggerInfo, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || raw[0] == '[' {
		var out []TriggerInfo
		err := json.Unmarshal(raw, &out)
		return out, err
	}
	// An object: walk its tokens to keep the server's order, which a map would lose.
	dec := json.NewDecoder(bytes.NewReader(raw))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, fmt.Errorf("triggers: want an array or an object")
	}
	var out []TriggerInfo
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		name, _ := tok.(string)
		var v Trigger
		if err := dec.Decode(&v); err != nil {
			return nil, fmt.Errorf("trigger %q: %w", name, err)
		}
		out = append(out, TriggerInfo{Name: name, ID: v, Available: true})
	}
	return out, nil
}
