package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/hookd/hookd/client"
)

// maxPayloadBytes caps a payload read from a file or stdin; the server refuses more anyway.
const maxPayloadBytes = 8 << 20

func newPublishCmd(a *app) *cobra.Command {
	c := &conn{}
	var trigger, payload, targetID, createBy string
	cmd := &cobra.Command{
		Use:   "publish --trigger TRIGGER --payload @FILE.json|-|JSON [--target-id ID]",
		Short: "Publish an event: one delivery per enabled webhook that subscribes to it (hookd only)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			t, err := client.ParseTrigger(trigger)
			if err != nil || t == client.TriggerAll || len(t.Names()) != 1 {
				return withExit(ExitUsage, fmt.Errorf("--trigger %q: give one trigger such as file.created (see hookd triggers)", trigger))
			}
			body, err := readPayload(a, payload)
			if err != nil {
				return err
			}
			cl, err := c.client(a)
			if err != nil {
				return err
			}
			res, err := cl.Publish(cmd.Context(), client.PublishParams{Trigger: t, Payload: body, TargetID: targetID, CreateBy: createBy})
			if err != nil {
				return c.explain(err, "")
			}
			if c.json() {
				if res.Deliveries == nil {
					res.Deliveries = []client.PublishedDelivery{}
				}
				return writeJSON(a.stdout, res)
			}
			fmt.Fprintf(a.stdout, "event %d (%s): %d deliveries queued\n", res.EventID, res.Trigger, len(res.Deliveries))
			if len(res.Deliveries) == 0 {
				return nil
			}
			tb := newTable(a.stdout, "DELIVERY", "WEBHOOK")
			for _, d := range res.Deliveries {
				tb.row(strconv.FormatInt(d.ID, 10), strconv.FormatInt(d.ConfigID, 10))
			}
			return tb.flush()
		},
	}
	addConnFlags(a, cmd, c)
	fl := cmd.Flags()
	fl.StringVar(&trigger, "trigger", "", "the event's trigger, e.g. file.created")
	fl.StringVar(&payload, "payload", "", "the event's payload: @file.json, - for stdin, or the JSON itself")
	fl.StringVar(&targetID, "target-id", "", "id of the entity, matched against webhooks' --target-id")
	fl.StringVar(&createBy, "create-by", "", "uuid of the acting user, sent as event.createBy")
	return cmd
}

// readPayload reads --payload: @FILE, - for stdin, or inline JSON; it must be valid JSON.
func readPayload(a *app, arg string) (json.RawMessage, error) {
	var b []byte
	var err error
	switch {
	case arg == "":
		return nil, withExit(ExitUsage, errors.New("--payload is required: @file.json, - for stdin, or the JSON itself"))
	case arg == "-":
		b, err = io.ReadAll(io.LimitReader(a.stdin, maxPayloadBytes+1))
	case strings.HasPrefix(arg, "@"):
		var f *os.File
		if f, err = os.Open(arg[1:]); err == nil {
			b, err = io.ReadAll(io.LimitReader(f, maxPayloadBytes+1))
			f.Close()
		}
	default:
		b = []byte(arg)
	}
	if err != nil {
		return nil, withExit(ExitUsage, fmt.Errorf("read --payload: %w", err))
	}
	if len(b) > maxPayloadBytes {
		return nil, withExit(ExitUsage, fmt.Errorf("--payload is larger than %d bytes", maxPayloadBytes))
	}
	if !json.Valid(b) {
		return nil, withExit(ExitUsage, errors.New("--payload is not valid JSON"))
	}
	return json.RawMessage(b), nil
}
