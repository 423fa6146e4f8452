package cli

import (
	"fmt"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/internal/server"
)

func newKeyCmd(a *app) *cobra.Command {
	var db string
	cmd := &cobra.Command{
		Use:   "key",
		Short: "Create, list and revoke API keys (works on the database directly)",
	}
	cmd.PersistentFlags().StringVar(&db, "db", a.env("HOOKD_DB", "sqlite:hookd.db"), "database URL: sqlite:PATH or postgres://... (HOOKD_DB)")
	cmd.AddCommand(newKeyCreateCmd(a, &db), newKeyListCmd(a, &db), newKeyRevokeCmd(a, &db))
	return cmd
}

// openMigrated opens the store of a database URL and brings its schema up to date, so that
// key commands work on a fresh install before the first serve.
func openMigrated(cmd *cobra.Command, db string) (hookd.Store, error) {
	store, err := server.OpenStore(cmd.Context(), db, hookd.SystemClock{})
	if err != nil {
		return nil, err
	}
	if err := store.Migrate(cmd.Context()); err != nil {
		store.Close()
		return nil, fmt.Errorf("migrate: %w", err)
	}
	return store, nil
}

func newKeyCreateCmd(a *app, db *string) *cobra.Command {
	var name, role, scope string
	var expiresIn time.Duration
	cmd := &cobra.Command{
		Use:   "create --name NAME [--role admin|user] [--scope '*:write'|'*:read']",
		Short: "Create an API key and print it (the last line of the output)",
		Long: `Create an API key and print it as the last line of the output. The key is shown once:
hookd stores only its hash. Use it as "Authorization: Bearer sk-...".`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if strings.TrimSpace(name) == "" {
				return withExit(ExitUsage, fmt.Errorf("--name is required: say what the key is for, e.g. --name ci"))
			}
			r := hookd.Role(role)
			if r != hookd.RoleAdmin && r != hookd.RoleUser {
				return withExit(ExitUsage, fmt.Errorf("--role %q: use admin or user", role))
			}
			s := hookd.Scope(scope)
			if s != hookd.ScopeWrite && s != hookd.ScopeRead {
				return withExit(ExitUsage, fmt.Errorf("--scope %q: use '*:write' or '*:read'", scope))
			}
			store, err := openMigrated(cmd, *db)
			if err != nil {
				return err
			}
			defer store.Close()
			secret := hookd.NewKeySecret()
			k := &hookd.Key{
				Name: name, Hash: hookd.HashKey(secret), Hint: hookd.KeyHint(secret),
				Role: r, Scope: s, UserID: hookd.NewUserID(),
			}
			if expiresIn > 0 {
				t := time.Now().UTC().Add(expiresIn)
				k.ExpiresOn = &t
			}
			k, err = store.KeyCreate(cmd.Context(), k)
			if err != nil {
				return fmt.Errorf("create key: %w", err)
			}
			fmt.Fprintf(a.stdout, "Created key %d %q (role %s, scope %s, user %s). It is shown only once:\n", k.ID, k.Name, k.Role, k.Scope, k.UserID)
			fmt.Fprintln(a.stdout, secret)
			return nil
		},
	}
	cmd.Flags().StringVar(&name, "name", "", "what the key is for (required)")
	cmd.Flags().StringVar(&role, "role", "admin", "admin (sees everything) or user (sees only its own webhooks)")
	cmd.Flags().StringVar(&scope, "scope", string(hookd.ScopeWrite), "'*:write' (every route) or '*:read' (GET routes only)")
	cmd.Flags().DurationVar(&expiresIn, "expires-in", 0, "lifetime of the key, e.g. 720h; 0 = never expires")
	return cmd
}

func newKeyListCmd(a *app, db *string) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List API keys (never the keys themselves)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			store, err := openMigrated(cmd, *db)
			if err != nil {
				return err
			}
			defer store.Close()
			keys, err := store.KeyList(cmd.Context())
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(a.stdout, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tNAME\tHINT\tROLE\tSCOPE\tUSER\tCREATED\tSTATE")
			now := time.Now()
			for _, k := range keys {
				state := "active"
				if k.RevokedOn != nil {
					state = "revoked"
				} else if !k.Valid(now) {
					state = "expired"
				}
				fmt.Fprintf(tw, "%d\t%s\t%s…\t%s\t%s\t%s\t%s\t%s\n", k.ID, k.Name, k.Hint, k.Role, k.Scope, k.UserID, k.CreatedOn.Local().Format(time.DateTime), state)
			}
			return tw.Flush()
		},
	}
}

func newKeyRevokeCmd(a *app, db *string) *cobra.Command {
	return &cobra.Command{
		Use:   "revoke ID",
		Short: "Revoke an API key: it stops working at once",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := strconv.ParseInt(args[0], 10, 64)
			if err != nil {
				return withExit(ExitUsage, fmt.Errorf("key id %q is not a number; see hookd key list", args[0]))
			}
			store, err := openMigrated(cmd, *db)
			if err != nil {
				return err
			}
			defer store.Close()
			if err := store.KeyRevoke(cmd.Context(), id); err != nil {
				if hookd.ErrorCode(err) == hookd.ENOTFOUND {
					return withExit(ExitNotFound, fmt.Errorf("no key with id %d", id))
				}
				return err
			}
			fmt.Fprintf(a.stdout, "Revoked key %d\n", id)
			return nil
		},
	}
}
