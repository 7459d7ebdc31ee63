package qa

import (
	"errors"
	"math/rand/v2"
	"reflect"
	"strconv"
	"testing"
)

// A detector saved and loaded goes on exactly as one that never stopped.
func TestStateRoundTrip(t *testing.T) {
	run := func(d *Detector, from, to int) []Result {
		rng := rand.New(rand.NewPCG(uint64(from), 9))
		var out []Result
		for i := from; i < to; i++ {
			for s := range 5 {
				r := healthy(i, 10+float64(s), rng)
				r.Lat, r.Lon = 37+0.01*float64(s), -122
				if s == 2 && i > 300 {
					r.A *= 2.5 // a divergence that begins before the restart and goes on after it
				}
				out = append(out, d.Observe(strconv.Itoa(s), r))
			}
		}
		return out
	}
	a, b := newDetector(t), newDetector(t)
	run(a, 0, 320)
	run(b, 0, 320)
	saved, err := b.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	again, _ := b.MarshalBinary()
	if !reflect.DeepEqual(saved, again) {
		t.Error("saving the same detector twice gave different bytes")
	}
	c := newDetector(t)
	if err := c.UnmarshalBinary(saved); err != nil {
		t.Fatal(err)
	}
	want, got := run(a, 320, 700), run(c, 320, 700)
	for i := range want {
		if want[i].Score != got[i].Score || want[i].Reason != got[i].Reason || want[i].Detail != got[i].Detail || !want[i].Since.Equal(got[i].Since) {
			t.Fatalf("result %d after loading: %+v, without a restart: %+v", i, got[i], want[i])
		}
	}
	if c.Sensors() != 5 {
		t.Errorf("%d sensors loaded, want 5", c.Sensors())
	}
}

func TestStateRefusesWhatItCannotUse(t *testing.T) {
	d := newDetector(t)
	d.Observe("1", healthy(0, 10, rand.New(rand.NewPCG(1, 1))))
	saved, _ := d.MarshalBinary()
	flipped := append([]byte(nil), saved...)
	flipped[len(flipped)/2] ^= 1
	opt := DefaultOptions()
	opt.WindowSize = 100
	other, _ := New(opt)
	for _, c := range []struct {
		name string
		d    *Detector
		b    []byte
		want error
	}{
		{"a flipped bit", newDetector(t), flipped, ErrStateCorrupt},
		{"cut short", newDetector(t), saved[:len(saved)-7], ErrStateCorrupt},
		{"not a state", newDetector(t), []byte("hello, world"), ErrStateCorrupt},
		{"another window_size", other, saved, ErrStateOptions},
	} {
		before := c.d.Sensors()
		if err := c.d.UnmarshalBinary(c.b); !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
		if c.d.Sensors() != before {
			t.Errorf("%s: a refused state changed the detector", c.name)
		}
	}
}
