package cli

import (
	"strconv"

	"github.com/spf13/cobra"

	"github.com/hookd/hookd/client"
)

func newTriggersCmd(a *app) *cobra.Command {
	c := &conn{}
	cmd := &cobra.Command{
		Use:   "triggers",
		Short: "List the events a webhook can subscribe to",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cl, err := c.client(a)
			if err != nil {
				return err
			}
			ts, err := cl.Triggers(cmd.Context())
			if err != nil {
				return c.explain(err, "")
			}
			if c.json() {
				if ts == nil {
					ts = []client.TriggerInfo{}
				}
				return writeJSON(a.stdout, ts)
			}
			t := newTable(a.stdout, "NAME", "VALUE", "AVAILABLE")
			for _, tr := range ts {
				t.row(tr.Name, strconv.FormatInt(int64(tr.ID), 10), yesNo(tr.Available))
			}
			return t.flush()
		},
	}
	addConnFlags(a, cmd, c)
	return cmd
}
