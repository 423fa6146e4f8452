package cli

import (
	"strings"
	"testing"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/client"
)

func TestTriggers(t *testing.T) {
	t.Parallel()
	e := startServer(t)
	ts := decodeJSON[[]client.TriggerInfo](t, mustRun(t, e, "triggers", "-o", "json"))
	if len(ts) != len(hookd.Triggers) {
		t.Fatalf("got %d triggers, want %d", len(ts), len(hookd.Triggers))
	}
	for i, info := range hookd.Triggers {
		if ts[i].Name != info.Name || int64(ts[i].ID) != int64(info.Value) {
			t.Errorf("trigger %d: got %s=%d, want %s=%d", i, ts[i].Name, ts[i].ID, info.Name, info.Value)
		}
	}
	table := mustRun(t, e, "triggers").stdout
	if !strings.Contains(table, "folder.downloaded") || !strings.Contains(table, "34359738368") {
		t.Errorf("triggers table %q lacks folder.downloaded = 2^35", table)
	}
	// A user may not subscribe to user.created (spec §4.2).
	userKey := e.NewKey(t, hookd.RoleUser, hookd.ScopeRead)
	r := runCLI(t, e.URL, userKey, "", "triggers", "-o", "json")
	for _, tr := range decodeJSON[[]client.TriggerInfo](t, r) {
		if tr.Name == "user.created" && tr.Available {
			t.Errorf("user.created is available to a user key")
		}
	}
}
