// Check and Load read a command's configuration file, catching what the execd shim's loader silently
// ignores: options the plugin does not have (Telegraf itself refuses them; a misspelt option,
// `window = 72` for `window_size`, would run with its default and nobody would know), and plugin blocks
// after the first (the shim loads one plugin; a second block's settings would never take effect).

package execd

import (
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"
	"github.com/influxdata/telegraf"
	"github.com/influxdata/telegraf/models"
	"github.com/influxdata/telegraf/plugins/common/shim"
	"github.com/influxdata/telegraf/plugins/inputs"
	"github.com/influxdata/telegraf/plugins/processors"
)

// file is the layout the shim reads: one plugin block of a kind.
type file struct {
	Inputs     map[string][]toml.Primitive `toml:"inputs"`
	Processors map[string][]toml.Primitive `toml:"processors"`
}

// Check returns an error when the file at path holds more than one plugin block, or naming every key
// that neither the file's layout nor its plugins' options use. Environment variables are expanded as
// the shim expands them. An empty path (all defaults) has nothing to check.
func Check(path string) error {
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
	var blocks []string
	for _, kind := range []struct {
		name   string
		blocks map[string][]toml.Primitive
	}{{"inputs", f.Inputs}, {"processors", f.Processors}} {
		for name, bs := range kind.blocks {
			for range bs {
				blocks = append(blocks, "[["+kind.name+"."+name+"]]")
			}
		}
	}
	if len(blocks) > 1 {
		sort.Strings(blocks)
		return fmt.Errorf("%d plugin blocks (%s): the file must hold exactly one, as one process runs one plugin; "+
			"for another configuration, give it a file of its own and an execd block of its own in Telegraf's configuration",
			len(blocks), strings.Join(blocks, ", "))
	}
	for _, kind := range []struct {
		name   string
		blocks map[string][]toml.Primitive
	}{{"inputs", f.Inputs}, {"processors", f.Processors}} {
		for name, blocks := range kind.blocks {
			for _, block := range blocks {
				p := newPlugin(kind.name, name)
				if p == nil {
					return fmt.Errorf("unknown plugin [[%s.%s]]", kind.name, name)
				}
				if err := md.PrimitiveDecode(block, p); err != nil {
					return fmt.Errorf("[[%s.%s]]: %w", kind.name, name, err)
				}
			}
		}
	}

	var unused []string
	for _, k := range md.Undecoded() {
		unused = append(unused, strconv.Quote(k.String()))
	}
	if len(unused) == 0 {
		return nil
	}
	sort.Strings(unused)
	return fmt.Errorf("unknown option %s: the plugin has no such option (misspelt?)", strings.Join(unused, ", "))
}

// newPlugin is a fresh instance of a registered plugin to decode its options into (for a wrapped
// processor, the plugin inside, as the shim decodes it), or nil for an unknown one.
func newPlugin(kind, name string) any {
	switch kind {
	case "inputs":
		if create, ok := inputs.Inputs[name]; ok {
			return create()
		}
	case "processors":
		if create, ok := processors.Processors[name]; ok {
			var p telegraf.PluginDescriber = create()
			if u, ok := p.(processors.HasUnwrap); ok {
				p = u.Unwrap()
			}
			return p
		}
	}
	return nil
}

// loadFile reads an external plugin's configuration file as the shim does, then Checks it; it returns
// the one plugin the file configures (an input or a processor). The errors name the file.
func loadFile(path string) (telegraf.Input, telegraf.StreamingProcessor, error) {
	loaded, err := shim.LoadConfig(&path)
	if err != nil {
		return nil, nil, fmt.Errorf("loading %q: %w", path, err)
	}
	if err := Check(path); err != nil {
		return nil, nil, fmt.Errorf("configuration %q: %w", path, err)
	}
	return loaded.Input, loaded.Processor, nil
}

// LoadInput returns the service input [[inputs.<name>]] in configFile configures (without a file, the
// input's defaults), with logger as its log and initialised. The errors name the file and the block.
func LoadInput(name, configFile string, logger telegraf.Logger) (telegraf.ServiceInput, error) {
	in, err := load("inputs", name, configFile, logger,
		func() telegraf.Input { return inputs.Inputs[name]() },
		func(in telegraf.Input, _ telegraf.StreamingProcessor) telegraf.Input { return in })
	if err != nil {
		return nil, err
	}
	si, ok := in.(telegraf.ServiceInput)
	if !ok {
		return nil, fmt.Errorf("inputs.%s is not a service input", name)
	}
	return si, nil
}

// LoadProcessor is LoadInput for the streaming processor [[processors.<name>]].
func LoadProcessor(name, configFile string, logger telegraf.Logger) (telegraf.StreamingProcessor, error) {
	return load("processors", name, configFile, logger,
		func() telegraf.StreamingProcessor { return processors.Processors[name]() },
		func(_ telegraf.Input, p telegraf.StreamingProcessor) telegraf.StreamingProcessor { return p })
}

// load is LoadInput and LoadProcessor without the kind: defaults makes the registered plugin, pick
// takes it from what the file holds.
func load[P telegraf.PluginDescriber](kind, name, configFile string, logger telegraf.Logger,
	defaults func() P, pick func(telegraf.Input, telegraf.StreamingProcessor) P) (P, error) {
	var p P
	if configFile == "" {
		// Not through the shim's loader, which announces the defaults on stderr without a level.
		p = defaults()
	} else {
		in, proc, err := loadFile(configFile)
		if err != nil {
			return p, err
		}
		p = pick(in, proc)
	}
	if any(p) == nil {
		return p, fmt.Errorf("%q holds no [[%s.%s]] block", configFile, kind, name)
	}
	return p, initialise(p, kind+"."+name, configFile, logger)
}

// initialise gives the plugin our logger, not the shim's (which writes a timestamp before the level,
// which execd cannot map, and keeps every message in memory until Telegraf's logging is set up), then
// runs its Init.
func initialise(p telegraf.PluginDescriber, block, configFile string, logger telegraf.Logger) error {
	models.SetLoggerOnPlugin(p, logger)
	if i, ok := p.(telegraf.Initializer); ok {
		if err := i.Init(); err != nil {
			return fmt.Errorf("configuration %q: %s: %w", configFile, block, err)
		}
	}
	return nil
}
