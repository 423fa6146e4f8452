package hookd

import (
	"sort"
	"strconv"
	"strings"
)

// Trigger is a DocSpace WebhookTrigger: a single event kind is one bit, a webhook's
// subscription is a mask of bits, and 0 means every event. Values reach 2^35, so it is int64.
type Trigger int64

// TriggerAll is the mask that subscribes to every event (wire name "*").
const TriggerAll Trigger = 0

// TriggerInfo describes one trigger of the DocSpace enum (spec §4.2).
type TriggerInfo struct {
	Name  string  // wire name, e.g. "file.created"
	Value Trigger // the bit; 0 for "*"
	Order int     // sort key of GET /webhook/triggers
	User  bool    // available to accounts of role "user"
}

// Triggers is the DocSpace trigger enum in the order GET /webhook/triggers returns it.
var Triggers = sortedTriggers([]TriggerInfo{
	{"*", 0, 0, true},
	{"user.created", 1 << 0, 10, false},
	{"user.invited", 1 << 1, 11, false},
	{"user.updated", 1 << 2, 12, true},
	{"user.deleted", 1 << 3, 13, true},
	{"group.created", 1 << 4, 20, false},
	{"group.updated", 1 << 5, 21, false},
	{"group.deleted", 1 << 6, 22, false},
	{"file.created", 1 << 7, 30, true},
	{"file.uploaded", 1 << 8, 31, true},
	{"file.updated", 1 << 9, 32, true},
	{"file.trashed", 1 << 10, 33, true},
	{"file.deleted", 1 << 11, 34, true},
	{"file.restored", 1 << 12, 35, true},
	{"file.copied", 1 << 13, 36, true},
	{"file.moved", 1 << 14, 37, true},
	{"folder.created", 1 << 15, 40, true},
	{"folder.updated", 1 << 16, 41, true},
	{"folder.trashed", 1 << 17, 42, true},
	{"folder.deleted", 1 << 18, 43, true},
	{"folder.restored", 1 << 19, 44, true},
	{"folder.copied", 1 << 20, 45, true},
	{"folder.moved", 1 << 21, 46, true},
	{"room.created", 1 << 22, 50, false},
	{"room.updated", 1 << 23, 51, true},
	{"room.archived", 1 << 24, 52, true},
	{"room.deleted", 1 << 25, 53, true},
	{"room.restored", 1 << 26, 54, true},
	{"room.copied", 1 << 27, 55, false},
	{"form.submit", 1 << 28, 60, true},
	{"form.filled.out", 1 << 29, 61, true},
	{"form.stopped", 1 << 30, 62, true},
	{"agent.created", 1 << 31, 70, false},
	{"agent.updated", 1 << 32, 71, true},
	{"agent.deleted", 1 << 33, 72, true},
	{"file.downloaded", 1 << 34, 38, true},
	{"folder.downloaded", 1 << 35, 47, true},
})

// TriggerMaskAll is the union of every defined trigger bit.
var TriggerMaskAll = func() Trigger {
	var m Trigger
	for _, t := range Triggers {
		m |= t.Value
	}
	return m
}()

var (
	triggerByName  = map[string]TriggerInfo{}
	triggerByValue = map[Trigger]TriggerInfo{}
)

func init() {
	for _, t := range Triggers {
		triggerByName[t.Name] = t
		triggerByValue[t.Value] = t
	}
}

func sortedTriggers(ts []TriggerInfo) []TriggerInfo {
	sort.SliceStable(ts, func(i, j int) bool { return ts[i].Order < ts[j].Order })
	return ts
}

// Name returns the wire name of a single trigger, or "" when t is not one defined value.
func (t Trigger) Name() string {
	return triggerByValue[t].Name
}

// Single reports whether t is exactly one defined trigger bit (not "*", not a combination).
func (t Trigger) Single() bool {
	info, ok := triggerByValue[t]
	return ok && info.Value != 0
}

// ValidMask reports whether every bit of t is a defined trigger.
func (t Trigger) ValidMask() bool {
	return t >= 0 && t&^TriggerMaskAll == 0
}

// Matches reports whether a webhook subscribed to mask t receives an event of trigger ev.
func (t Trigger) Matches(ev Trigger) bool {
	return t == TriggerAll || t&ev != 0
}

// Names returns the wire names of the bits in mask t in enum order, or ["*"] for 0, as the
// delivery body's webhook.triggers field lists them.
func (t Trigger) Names() []string {
	if t == TriggerAll {
		return []string{"*"}
	}
	var names []string
	for _, info := range Triggers {
		if info.Value != 0 && t&info.Value != 0 {
			names = append(names, info.Name)
		}
	}
	return names
}

// UserUnavailable returns the bits of t that an account of role "user" may not subscribe to.
func (t Trigger) UserUnavailable() Trigger {
	var bad Trigger
	for _, info := range Triggers {
		if !info.User && t&info.Value != 0 {
			bad |= info.Value
		}
	}
	return bad
}

// ParseTrigger reads one trigger given as a wire name ("file.created", case-insensitive), as a
// Go-style member name ("FileCreated") or as its number. It returns an EINVALID error for
// anything that is not one defined value.
func ParseTrigger(s string) (Trigger, error) {
	s = strings.TrimSpace(s)
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		if _, ok := triggerByValue[Trigger(n)]; ok {
			return Trigger(n), nil
		}
		return 0, Errorf(EINVALID, "Unknown trigger %d: use one value listed by GET /api/2.0/settings/webhook/triggers.", n)
	}
	if info, ok := triggerByName[strings.ToLower(s)]; ok {
		return info.Value, nil
	}
	folded := strings.ToLower(strings.NewReplacer(".", "", "_", "", "-", "").Replace(s))
	for _, info := range Triggers {
		if strings.ReplaceAll(info.Name, ".", "") == folded || (info.Value == 0 && folded == "all") {
			return info.Value, nil
		}
	}
	return 0, Errorf(EINVALID, "Unknown trigger %q: use a name such as \"file.created\" or a value listed by GET /api/2.0/settings/webhook/triggers.", s)
}
