package cli

import (
	"context"
	"io"
	"runtime/debug"
	"strings"
	"testing"
)

func TestMakeBuildInfo(t *testing.T) {
	t.Parallel()
	vcs := &debug.BuildInfo{
		Main: debug.Module{Path: "github.com/hookd/hookd", Version: "(devel)"},
		Settings: []debug.BuildSetting{
			{Key: "vcs", Value: "git"},
			{Key: "vcs.revision", Value: "0e943ad1f2"},
			{Key: "vcs.modified", Value: "true"},
		},
	}
	installed := &debug.BuildInfo{Main: debug.Module{Path: "github.com/hookd/hookd", Version: "v1.4.0"}}
	for _, tc := range []struct {
		name           string
		bi             *debug.BuildInfo
		xVersion, xSHA string
		want           buildInfo
	}{
		{"Nothing", nil, "", "", buildInfo{Version: "devel", Commit: "unknown"}},
		{"GitCheckout", vcs, "", "", buildInfo{Version: "devel", Commit: "0e943ad1f2", Modified: true}},
		{"LinkerWins", vcs, "v2.0.0", "abc123", buildInfo{Version: "v2.0.0", Commit: "abc123"}},
		{"LinkerVersionOnly", vcs, "v2.0.0", "", buildInfo{Version: "v2.0.0", Commit: "0e943ad1f2", Modified: true}},
		{"GoInstall", installed, "", "", buildInfo{Version: "v1.4.0", Commit: "unknown"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := makeBuildInfo(tc.bi, tc.xVersion, tc.xSHA)
			got.Go = ""
			if got != tc.want {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestVersionCommand(t *testing.T) {
	t.Parallel()
	var out strings.Builder
	code := Run(context.Background(), []string{"version"}, envOf(nil), strings.NewReader(""), &out, io.Discard)
	want := readBuildInfo()
	if code != ExitOK || !strings.HasPrefix(out.String(), "hookd "+want.Version+"\ncommit "+want.Commit) || !strings.Contains(out.String(), "go1.") {
		t.Errorf("hookd version: got exit %d and %q, want 0 and the version, commit and Go version", code, out.String())
	}
}
