package cli

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"sort"
	"strings"

	"github.com/spf13/pflag"
	"go.yaml.in/yaml/v3"
)

// A `hookd serve` setting has up to three names, derived from each other: the flag
// (--attempt-timeout), the environment variable (HOOKD_ATTEMPT_TIMEOUT) and the key of the
// configuration file (attempt_timeout). A flag wins over the variable, the variable over the
// file, the file over the default. docs/configuration.md documents each one; a test checks it.

// fileOnlySettings are settings with a variable and a file key but no flag: a flag's value
// shows in the process list, which must not carry a key.
var fileOnlySettings = map[string]string{
	"admin_key": "HOOKD_ADMIN_KEY",
}

// envName returns the HOOKD_* variable of a flag.
func envName(flag string) string {
	return "HOOKD_" + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

// fileKey returns the configuration file key of a flag.
func fileKey(flag string) string { return strings.ReplaceAll(flag, "-", "_") }

// configFile is a parsed configuration file: its settings as text, as a flag would take them.
type configFile struct {
	path   string
	values map[string]string
	lines  map[string]int
}

// readConfigFile reads a YAML file of top-level `key: value` settings. A value is a scalar
// or a list of scalars (joined with commas, as the flags take lists). Keys must be known:
// known reports whether one is.
func readConfigFile(path string, known func(key string) bool) (*configFile, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config file: %w", err)
	}
	cf := &configFile{path: path, values: map[string]string{}, lines: map[string]int{}}
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return cf, nil // an empty file sets nothing
		}
		return nil, fmt.Errorf("config file %s: %w", path, err)
	}
	if len(doc.Content) == 0 {
		return cf, nil
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("%s:%d: want settings as `key: value` lines", path, root.Line)
	}
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		key := k.Value
		if !known(key) {
			return nil, fmt.Errorf("%s:%d: unknown setting %q (see docs/configuration.md)", path, k.Line, key)
		}
		if _, dup := cf.values[key]; dup {
			return nil, fmt.Errorf("%s:%d: setting %q given twice", path, k.Line, key)
		}
		val, err := scalarText(v)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %s: %w", path, v.Line, key, err)
		}
		cf.values[key], cf.lines[key] = val, k.Line
	}
	return cf, nil
}

// scalarText renders a YAML value as a flag's text: a scalar as it is, a list of scalars
// joined with commas.
func scalarText(v *yaml.Node) (string, error) {
	switch v.Kind {
	case yaml.ScalarNode:
		if v.Tag == "!!null" {
			return "", nil
		}
		return v.Value, nil
	case yaml.SequenceNode:
		parts := make([]string, 0, len(v.Content))
		for _, item := range v.Content {
			if item.Kind != yaml.ScalarNode {
				return "", errors.New("a list may hold plain values only")
			}
			parts = append(parts, item.Value)
		}
		return strings.Join(parts, ","), nil
	}
	return "", errors.New("want a value or a list of values, not a nested map")
}

// applySources sets every flag not given on the command line from its HOOKD_* variable, or
// else from the configuration file (nil: none). skip names flags that take no other source.
func applySources(fs *pflag.FlagSet, cf *configFile, getenv func(string) string, skip ...string) error {
	var errs []error
	fs.VisitAll(func(f *pflag.Flag) {
		if f.Changed || slices.Contains(skip, f.Name) {
			return
		}
		if v := strings.TrimSpace(getenv(envName(f.Name))); v != "" {
			if err := fs.Set(f.Name, v); err != nil {
				errs = append(errs, fmt.Errorf("%s=%q: %w", envName(f.Name), v, unwrapFlagError(err)))
			}
			return
		}
		if cf == nil {
			return
		}
		if v, ok := cf.values[fileKey(f.Name)]; ok && v != "" {
			if err := fs.Set(f.Name, v); err != nil {
				errs = append(errs, fmt.Errorf("%s:%d: %s: %q: %w", cf.path, cf.lines[fileKey(f.Name)], fileKey(f.Name), v, unwrapFlagError(err)))
			}
		}
	})
	return errors.Join(errs...)
}

// fileOnly returns a file-only setting: its variable, else its file value, else "".
func fileOnly(key string, cf *configFile, getenv func(string) string) string {
	if v := getenv(fileOnlySettings[key]); v != "" {
		return v
	}
	if cf != nil {
		return cf.values[key]
	}
	return ""
}

// knownKey reports whether key names a flag of fs (other than skip) or a file-only setting.
func knownKey(fs *pflag.FlagSet, skip ...string) func(string) bool {
	return func(key string) bool {
		if _, ok := fileOnlySettings[key]; ok {
			return true
		}
		name := strings.ReplaceAll(key, "_", "-")
		return fs.Lookup(name) != nil && !slices.Contains(skip, name) && key == fileKey(name)
	}
}

// settingNames lists every setting as (flag or "", variable, file key), sorted by file key,
// for the documentation test.
func settingNames(fs *pflag.FlagSet, skip ...string) [][3]string {
	var out [][3]string
	fs.VisitAll(func(f *pflag.Flag) {
		if !slices.Contains(skip, f.Name) {
			out = append(out, [3]string{"--" + f.Name, envName(f.Name), fileKey(f.Name)})
		}
	})
	for key, env := range fileOnlySettings {
		out = append(out, [3]string{"", env, key})
	}
	sort.Slice(out, func(i, j int) bool { return out[i][2] < out[j][2] })
	return out
}

// unwrapFlagError drops pflag's "invalid argument ... for ... flag" prefix, which names the
// flag even when the value came from elsewhere.
func unwrapFlagError(err error) error {
	if u := errors.Unwrap(err); u != nil {
		return u
	}
	return err
}
