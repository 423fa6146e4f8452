package cli

import "github.com/spf13/cobra"

// clientCommands returns the commands that talk to a server through package client.
func clientCommands(a *app) []*cobra.Command {
	return nil
}
