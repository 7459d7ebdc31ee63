package demo

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestOptionsRefused: Run refuses each option it cannot run with, before running anything, with an
// *OptionError naming the Options field, so that the command line can name its flag.
func TestOptionsRefused(t *testing.T) {
	cases := []struct {
		option string
		change func(o *Options)
	}{
		{"Sensors", func(o *Options) { o.Sensors = 1 }},
		{"Step", func(o *Options) { o.Step = 10 * time.Millisecond }},
		{"Step", func(o *Options) { o.Step = 1500 * time.Millisecond }},
		{"Hours", func(o *Options) { o.Hours = 0 }},
		{"Hours", func(o *Options) { o.Hours = 1 }}, // 30 readings: not past the streaming warm-up
		{"FaultRate", func(o *Options) { o.FaultRate = 1 }},
		{"SmokeEpisodes", func(o *Options) { o.SmokeEpisodes = -1 }},
		{"Contamination", func(o *Options) { o.Contamination = 0.7 }},
		{"Profile", func(o *Options) { o.Profile = "gritty" }},
		{"Sensors", func(o *Options) { o.Sensors, o.Hours = 100_000, 240 }},
	}
	for _, c := range cases {
		o := DefaultOptions()
		c.change(&o)
		began := time.Now()
		res, err := Run(context.Background(), o)
		var oe *OptionError
		if !errors.As(err, &oe) || oe.Option != c.option || res != nil {
			t.Errorf("%+v: result %v, error %v; want an OptionError for %s", o, res, err, c.option)
			continue
		}
		if time.Since(began) > time.Second {
			t.Errorf("%s: refused after %s; it should be refused before the run", c.option, time.Since(began))
		}
	}
	if err := DefaultOptions().validate(); err != nil {
		t.Errorf("the default options are refused: %v", err)
	}
}
