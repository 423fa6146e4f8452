package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/internal/server"
)

func newMigrateCmd(a *app) *cobra.Command {
	var db string
	cmd := &cobra.Command{
		Use:   "migrate",
		Short: "Create or upgrade the database schema",
		Long:  "Create or upgrade the database schema. serve does this on start unless --no-migrate is given; several nodes migrating at once is safe.",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			store, err := server.OpenStore(cmd.Context(), db, hookd.SystemClock{})
			if err != nil {
				return err
			}
			defer store.Close()
			if err := store.Migrate(cmd.Context()); err != nil {
				return fmt.Errorf("migrate: %w", err)
			}
			fmt.Fprintln(a.stdout, "database schema is up to date")
			return nil
		},
	}
	cmd.Flags().StringVar(&db, "db", a.env("HOOKD_DB", "sqlite:hookd.db"), "database URL: sqlite:PATH or postgres://... (HOOKD_DB)")
	return cmd
}
