package cli

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// version and commit override what the Go toolchain records, for builds outside a Git
// checkout or from a tagged release:
//
//	go build -ldflags "-X github.com/hookd/hookd/internal/cli.version=v1.2.0 -X github.com/hookd/hookd/internal/cli.commit=$(git rev-parse HEAD)" ./cmd/hookd
var version, commit string

// buildInfo says which hookd this is.
type buildInfo struct {
	Version  string // the -X version, the module version of `go install ...@v1.2.0`, or "devel"
	Commit   string // the -X commit, or the VCS revision Go recorded, or "unknown"
	Modified bool   // the build had uncommitted changes
	Go       string // the Go version and platform
}

// readBuildInfo reads what the linker and the toolchain recorded in this binary.
func readBuildInfo() buildInfo {
	bi, _ := debug.ReadBuildInfo()
	return makeBuildInfo(bi, version, commit)
}

// makeBuildInfo prefers the -X values, then what bi records (nil: nothing).
func makeBuildInfo(bi *debug.BuildInfo, xVersion, xCommit string) buildInfo {
	out := buildInfo{Version: xVersion, Commit: xCommit, Go: runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH}
	if bi != nil {
		if out.Version == "" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			out.Version = bi.Main.Version
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				if out.Commit == "" {
					out.Commit = s.Value
				}
			case "vcs.modified":
				out.Modified = s.Value == "true" && xCommit == ""
			}
		}
	}
	if out.Version == "" {
		out.Version = "devel"
	}
	if out.Commit == "" {
		out.Commit = "unknown"
	}
	return out
}

// String renders the build as `hookd version` prints it.
func (b buildInfo) String() string {
	c := b.Commit
	if b.Modified {
		c += " (modified)"
	}
	return fmt.Sprintf("hookd %s\ncommit %s\n%s\n", b.Version, c, b.Go)
}

func newVersionCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print hookd's version, the commit it was built from, and the Go version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, err := fmt.Fprint(a.stdout, readBuildInfo())
			return err
		},
	}
}
