// Package shimconfig checks an external plugin's configuration file for options the plugin does not
// have. Telegraf itself refuses such a file; the execd shim's loader ignores them silently, so a
// misspelt option (`window = 72` for `window_size`) would run with its default and nobody would know.
package shimconfig

import (
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/BurntSushi/toml"
	"github.com/influxdata/telegraf"
	"github.com/influxdata/telegraf/plugins/inputs"
	"github.com/influxdata/telegraf/plugins/processors"
)

// file is the layout the shim reads: one plugin block of a kind.
type file struct {
	Inputs     map[string][]toml.Primitive `toml:"inputs"`
	Processors map[string][]toml.Primitive `toml:"processors"`
}

// CheckUnused returns an error naming every key of the file at path that neither the file's layout nor
// its plugins' options use. Environment variables are expanded as the shim expands them. An empty
// path (all defaults) has nothing to check.
func CheckUnused(path string) error {
	if path == "" {
		return nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	// As the shim does, so that the file parses the same: values are escaped for a TOML string.
	escape := strings.NewReplacer(`\`, `\\`, `"`, `\"`)
	data := os.Expand(string(b), func(k string) string { return escape.Replace(os.Getenv(k)) })

	var f file
	md, err := toml.Decode(data, &f)
	if err != nil {
		return err
	}
	decode := func(kind, name string, blocks []toml.Primitive, plugin func() (any, bool)) error {
		for _, block := range blocks {
			p, ok := plugin()
			if !ok {
				return fmt.Errorf("unknown plugin [[%s.%s]]", kind, name)
			}
			if err := md.PrimitiveDecode(block, p); err != nil {
				return fmt.Errorf("[[%s.%s]]: %w", kind, name, err)
			}
		}
		return nil
	}
	for name, blocks := range f.Inputs {
		if err := decode("inputs", name, blocks, func() (any, bool) {
			create, ok := inputs.Inputs[name]
			if !ok {
				return nil, false
			}
			return create(), true
		}); err != nil {
			return err
		}
	}
	for name, blocks := range f.Processors {
		if err := decode("processors", name, blocks, func() (any, bool) {
			create, ok := processors.Processors[name]
			if !ok {
				return nil, false
			}
			var p telegraf.PluginDescriber = create()
			if u, ok := p.(processors.HasUnwrap); ok {
				p = u.Unwrap()
			}
			return p, true
		}); err != nil {
			return err
		}
	}

	var unused []string
	for _, k := range md.Undecoded() {
		unused = append(unused, strconvQuote(k.String()))
	}
	if len(unused) == 0 {
		return nil
	}
	sort.Strings(unused)
	return fmt.Errorf("unknown option %s: the plugin has no such option (misspelt?)", strings.Join(unused, ", "))
}

func strconvQuote(s string) string { return `"` + s + `"` }
