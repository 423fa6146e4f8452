package client

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// Trigger is a DocSpace WebhookTrigger. An event has one bit; a webhook's subscription is a
// mask of bits, 0 meaning every event. The enum reaches 2^35, so it is int64, and any
// combination of bits decodes (the official SDK's int32 enum fails on combined masks).
type Trigger int64

// The triggers of DocSpace v3.7 (spec §4.2).
const (
	TriggerAll              Trigger = 0
	TriggerUserCreated      Trigger = 1 << 0
	TriggerUserInvited      Trigger = 1 << 1
	TriggerUserUpdated      Trigger = 1 << 2
	TriggerUserDeleted      Trigger = 1 << 3
	TriggerGroupCreated     Trigger = 1 << 4
	TriggerGroupUpdated     Trigger = 1 << 5
	TriggerGroupDeleted     Trigger = 1 << 6
	TriggerFileCreated      Trigger = 1 << 7
	TriggerFileUploaded     Trigger = 1 << 8
	TriggerFileUpdated      Trigger = 1 << 9
	TriggerFileTrashed      Trigger = 1 << 10
	TriggerFileDeleted      Trigger = 1 << 11
	TriggerFileRestored     Trigger = 1 << 12
	TriggerFileCopied       Trigger = 1 << 13
	TriggerFileMoved        Trigger = 1 << 14
	TriggerFolderCreated    Trigger = 1 << 15
	TriggerFolderUpdated    Trigger = 1 << 16
	TriggerFolderTrashed    Trigger = 1 << 17
	TriggerFolderDeleted    Trigger = 1 << 18
	TriggerFolderRestored   Trigger = 1 << 19
	TriggerFolderCopied     Trigger = 1 << 20
	TriggerFolderMoved      Trigger = 1 << 21
	TriggerRoomCreated      Trigger = 1 << 22
	TriggerRoomUpdated      Trigger = 1 << 23
	TriggerRoomArchived     Trigger = 1 << 24
	TriggerRoomDeleted      Trigger = 1 << 25
	TriggerRoomRestored     Trigger = 1 << 26
	TriggerRoomCopied       Trigger = 1 << 27
	TriggerFormSubmit       Trigger = 1 << 28
	TriggerFormFilledOut    Trigger = 1 << 29
	TriggerFormStopped      Trigger = 1 << 30
	TriggerAgentCreated     Trigger = 1 << 31
	TriggerAgentUpdated     Trigger = 1 << 32
	TriggerAgentDeleted     Trigger = 1 << 33
	TriggerFileDownloaded   Trigger = 1 << 34
	TriggerFolderDownloaded Trigger = 1 << 35
)

// triggerNames lists the wire names of the single triggers in bit order.
var triggerNames = []string{
	"user.created", "user.invited", "user.updated", "user.deleted",
	"group.created", "group.updated", "group.deleted",
	"file.created", "file.uploaded", "file.updated", "file.trashed", "file.deleted",
	"file.restored", "file.copied", "file.moved",
	"folder.created", "folder.updated", "folder.trashed", "folder.deleted",
	"folder.restored", "folder.copied", "folder.moved",
	"room.created", "room.updated", "room.archived", "room.deleted", "room.restored", "room.copied",
	"form.submit", "form.filled.out", "form.stopped",
	"agent.created", "agent.updated", "agent.deleted",
	"file.downloaded", "folder.downloaded",
}

// Names returns the wire names of the bits of mask t ("*" alone for 0). A bit this package
// does not know (a trigger newer than it) is named by its number.
func (t Trigger) Names() []string {
	if t == TriggerAll {
		return []string{"*"}
	}
	var names []string
	for bit := 0; bit < 63; bit++ {
		if t&(1<<bit) == 0 {
			continue
		}
		if bit < len(triggerNames) {
			names = append(names, triggerNames[bit])
		} else {
			names = append(names, strconv.FormatInt(1<<bit, 10))
		}
	}
	return names
}

// String returns the names of the bits of t joined with commas, e.g. "file.created,file.uploaded".
func (t Trigger) String() string { return strings.Join(t.Names(), ",") }

// ParseTrigger reads one trigger: a wire name ("file.created", case-insensitive), "*" or
// "all", or a number. A number may be any mask of known bits.
func ParseTrigger(s string) (Trigger, error) {
	s = strings.TrimSpace(s)
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		if n < 0 || Trigger(n)&^triggerMaskAll != 0 {
			return 0, fmt.Errorf("unknown trigger value %d", n)
		}
		return Trigger(n), nil
	}
	low := strings.ToLower(s)
	if low == "*" || low == "all" {
		return TriggerAll, nil
	}
	for bit, name := range triggerNames {
		if name == low {
			return 1 << bit, nil
		}
	}
	return 0, fmt.Errorf("unknown trigger %q: use a name such as file.created (GET /api/2.0/settings/webhook/triggers lists them)", s)
}

// ParseTriggers reads a mask written as a comma-separated list of triggers, e.g.
// "file.created,file.uploaded" or "384".
func ParseTriggers(s string) (Trigger, error) {
	var mask Trigger
	for _, part := range strings.Split(s, ",") {
		if strings.TrimSpace(part) == "" {
			continue
		}
		t, err := ParseTrigger(part)
		if err != nil {
			return 0, err
		}
		mask |= t
	}
	return mask, nil
}

var triggerMaskAll = Trigger(1)<<len(triggerNames) - 1

// UnmarshalJSON accepts a number (any mask) or a trigger name in a string.
func (t *Trigger) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		if n, err := strconv.ParseInt(s, 10, 64); err == nil {
			*t = Trigger(n)
			return nil
		}
		v, err := ParseTrigger(s)
		if err != nil {
			return err
		}
		*t = v
		return nil
	}
	if string(b) == "null" {
		return nil
	}
	n, err := strconv.ParseInt(string(b), 10, 64)
	if err != nil {
		return fmt.Errorf("trigger %s: not an integer mask", b)
	}
	*t = Trigger(n)
	return nil
}

// GroupStatus is DocSpace's WebhookGroupStatus flags filter of the log: a union of status
// classes. 0 means no filter.
type GroupStatus int

// The status classes (spec §4.1), and hookd's Failed.
const (
	GroupStatusNotSent GroupStatus = 1  // no HTTP answer yet (status 0)
	GroupStatus2xx     GroupStatus = 2  // 200–299
	GroupStatus3xx     GroupStatus = 4  // 300–399
	GroupStatus4xx     GroupStatus = 8  // 400–499
	GroupStatus5xx     GroupStatus = 16 // 500 and above
	// GroupStatusFailed is a hookd extension: the last attempt did not succeed (no answer,
	// 3xx, 4xx, 5xx), deliveries never tried excluded. It is sent by name; DocSpace does not
	// know it and answers 400.
	GroupStatusFailed GroupStatus = 1 << 16
)

// GroupStatusDocSpaceFailed is the closest DocSpace filter to hookd's Failed: DocSpace records
// a delivery that got no answer with status 0, the same as one not sent yet.
const GroupStatusDocSpaceFailed = GroupStatusNotSent | GroupStatus3xx | GroupStatus4xx | GroupStatus5xx

var groupStatusNames = []struct {
	flag        GroupStatus
	wire, flag2 string
}{
	{GroupStatusNotSent, "NotSent", "not-sent"},
	{GroupStatus2xx, "Status2xx", "2xx"},
	{GroupStatus3xx, "Status3xx", "3xx"},
	{GroupStatus4xx, "Status4xx", "4xx"},
	{GroupStatus5xx, "Status5xx", "5xx"},
	{GroupStatusFailed, "Failed", "failed"},
}

// ParseGroupStatus reads one status class as the CLI writes it (failed, not-sent, 2xx, 3xx,
// 4xx, 5xx) or by its DocSpace name (NotSent, Status2xx, ...), case-insensitively.
func ParseGroupStatus(s string) (GroupStatus, error) {
	s = strings.TrimSpace(s)
	for _, n := range groupStatusNames {
		if strings.EqualFold(s, n.wire) || strings.EqualFold(s, n.flag2) {
			return n.flag, nil
		}
	}
	return 0, fmt.Errorf("unknown status %q: use failed, not-sent, 2xx, 3xx, 4xx or 5xx", s)
}

// queryValue renders g for the groupStatus query parameter: the numeric sum, as the DocSpace
// UI sends it, or a comma-separated list of names when it includes hookd's Failed.
func (g GroupStatus) queryValue() string {
	if g&GroupStatusFailed == 0 {
		return strconv.Itoa(int(g))
	}
	var names []string
	for _, n := range groupStatusNames {
		if g&n.flag != 0 {
			names = append(names, n.wire)
		}
	}
	return strings.Join(names, ",")
}

// String returns the CLI names of the classes in g joined with commas, "" for 0.
func (g GroupStatus) String() string {
	var names []string
	for _, n := range groupStatusNames {
		if g&n.flag != 0 {
			names = append(names, n.flag2)
		}
	}
	return strings.Join(names, ",")
}
