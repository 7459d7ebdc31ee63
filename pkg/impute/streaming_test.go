package impute

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"hash/crc32"
	"math"
	"os"
	"path/filepath"
	"testing"
)

// streamingFixtures is testdata/streaming_fixtures.json (gen_streaming_fixtures.py): River's
// Mean and EWMean update rules evaluated in Python floats, as bit patterns.
type streamingFixtures struct {
	Mean struct {
		X       []uint64 `json:"x"`
		Want    []uint64 `json:"want"`
		OldForm []uint64 `json:"old_form"`
	} `json:"mean"`
	EWMean []struct {
		Name  string   `json:"name"`
		Alpha float64  `json:"alpha"`
		X     []uint64 `json:"x"`
		Want  []uint64 `json:"want"`
	} `json:"ewmean"`
}

func loadStreamingFixtures(t *testing.T) streamingFixtures {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "streaming_fixtures.json"))
	if err != nil {
		t.Fatal(err)
	}
	var f streamingFixtures
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	if len(f.Mean.X) == 0 || len(f.Mean.X) != len(f.Mean.Want) || len(f.EWMean) == 0 {
		t.Fatal("incomplete streaming fixtures")
	}
	return f
}

func TestMeanMatchesRiverBitForBit(t *testing.T) {
	f := loadStreamingFixtures(t)
	var m Mean
	oldN, oldM := 0.0, 0.0 // River's pre-0.15 form, mean += w·(x − mean)/n
	oldDiffers := false
	for i, xb := range f.Mean.X {
		x := math.Float64frombits(xb)
		m.Update(x)
		if got := math.Float64bits(m.Value()); got != f.Mean.Want[i] {
			t.Fatalf("step %d: mean %v (%#x), River form %v (%#x)", i, m.Value(), got,
				math.Float64frombits(f.Mean.Want[i]), f.Mean.Want[i])
		}
		oldN++
		oldM += float64(1*(x-oldM)) / oldN
		if math.Float64bits(oldM) != f.Mean.OldForm[i] {
			t.Fatalf("step %d: Go and Python disagree on the old form", i)
		}
		oldDiffers = oldDiffers || math.Float64bits(oldM) != f.Mean.Want[i]
	}
	if !oldDiffers {
		t.Fatal("the fixture does not distinguish River's two Mean forms")
	}
	if m.N != float64(len(f.Mean.X)) {
		t.Fatalf("N = %v after %d values", m.N, len(f.Mean.X))
	}
}

func TestStreamingImputers(t *testing.T) {
	nan := math.NaN()
	tests := []struct {
		name string
		imp  Streaming
		in   []float64
		want []float64 // Value after each Update
	}{
		// River's documented stats.Mean example.
		{"mean river doc", &Mean{}, []float64{-5, -3, -1, 1, 3, 5}, []float64{-5, -4, -3, -2, -1, 0}},
		{"mean ignores NaN", &Mean{}, []float64{nan, 2, nan, 4}, []float64{0, 2, 2, 3}},
		// River's documented stats.EWMean example (alpha 0.5).
		{"ewma river doc", &EWMA{Alpha: 0.5}, []float64{1, 3, 5, 4, 6, 8, 7, 9, 11},
			[]float64{1, 2, 3.5, 3.75, 4.875, 6.4375, 6.71875, 7.859375, 9.4296875}},
		// River restarts from the next value whenever the mean is exactly 0.
		{"ewma zero restarts", &EWMA{Alpha: 0.5}, []float64{0, 2, -2, 7}, []float64{0, 2, 0, 7}},
		{"ewma ignores NaN", &EWMA{Alpha: 0.25}, []float64{nan, 4, nan, 8}, []float64{0, 4, 4, 5}},
		{"last", &Last{}, []float64{nan, 3, nan, -1, nan}, []float64{0, 3, 3, -1, -1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if v := tc.imp.Value(); v != 0 {
				t.Fatalf("Value before data = %v, want 0", v)
			}
			for i, x := range tc.in {
				tc.imp.Update(x)
				if got := tc.imp.Value(); got != tc.want[i] {
					t.Fatalf("after %v: %v, want %v", tc.in[:i+1], got, tc.want[i])
				}
			}
		})
	}
}

// River's StatImputer documentation: learn_one then transform_one on each record; the
// missing temperature becomes the mean of 1, 8, 3.
func TestStatImputerLearnThenTransform(t *testing.T) {
	nan := math.NaN()
	in := []float64{1, 8, 3, nan, 4}
	want := []float64{1, 8, 3, 4, 4}
	var m Mean
	for i, x := range in {
		m.Update(x) // learn_one: only present values
		got := x    // transform_one: fill the missing one
		if math.IsNaN(x) {
			got = m.Value()
		}
		if got != want[i] {
			t.Fatalf("record %d: %v, want %v", i, got, want[i])
		}
	}
}

func TestEWMAMatchesRiverBitForBit(t *testing.T) {
	for _, tc := range loadStreamingFixtures(t).EWMean {
		t.Run(tc.Name, func(t *testing.T) {
			e := EWMA{Alpha: tc.Alpha}
			for i, xb := range tc.X {
				e.Update(math.Float64frombits(xb))
				if got := math.Float64bits(e.Value()); got != tc.Want[i] {
					t.Fatalf("step %d: %v, River %v", i, e.Value(), math.Float64frombits(tc.Want[i]))
				}
			}
		})
	}
}

func TestNewStreaming(t *testing.T) {
	tests := []struct {
		kind    string
		alpha   float64
		want    Streaming
		wantErr bool
	}{
		{"mean", 0, &Mean{}, false},
		{"ewma", 0.3, &EWMA{Alpha: 0.3}, false},
		{"ewma", 0, nil, true}, // would never move from the first value
		{"ewma", 1, &EWMA{Alpha: 1}, false},
		{"ewma", -0.1, nil, true},
		{"ewma", 1.5, nil, true},
		{"ewma", math.NaN(), nil, true},
		{"last", 0, &Last{}, false},
		{"none", 0, nil, false},
		{"median", 0, nil, true},
		{"Mean", 0, nil, true},
	}
	for _, tc := range tests {
		got, err := NewStreaming(tc.kind, tc.alpha)
		if (err != nil) != tc.wantErr {
			t.Errorf("NewStreaming(%q, %v) err = %v", tc.kind, tc.alpha, err)
			continue
		}
		switch want := tc.want.(type) {
		case nil:
			if got != nil {
				t.Errorf("NewStreaming(%q, %v) = %#v, want nil", tc.kind, tc.alpha, got)
			}
		case *Mean:
			if g, ok := got.(*Mean); !ok || *g != *want {
				t.Errorf("NewStreaming(%q) = %#v", tc.kind, got)
			}
		case *EWMA:
			if g, ok := got.(*EWMA); !ok || *g != *want {
				t.Errorf("NewStreaming(%q, %v) = %#v", tc.kind, tc.alpha, got)
			}
		case *Last:
			if g, ok := got.(*Last); !ok || *g != *want {
				t.Errorf("NewStreaming(%q) = %#v", tc.kind, got)
			}
		}
	}
}

func TestStreamingMarshalRoundTrip(t *testing.T) {
	stream := []float64{3.25, -1e300, 7, math.NaN(), 0.1, 1e-310, 42}
	tests := []struct {
		name       string
		make       func() Streaming
		fresh      func() Streaming
		updatesPre int
	}{
		{"mean empty", func() Streaming { return &Mean{} }, func() Streaming { return &Mean{} }, 0},
		{"mean", func() Streaming { return &Mean{} }, func() Streaming { return &Mean{} }, 5},
		{"ewma", func() Streaming { return &EWMA{Alpha: 0.3} }, func() Streaming { return &EWMA{} }, 4},
		{"last empty", func() Streaming { return &Last{} }, func() Streaming { return &Last{} }, 0},
		{"last", func() Streaming { return &Last{} }, func() Streaming { return &Last{} }, 6},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := tc.make()
			for _, x := range stream[:tc.updatesPre] {
				a.Update(x)
			}
			buf, err := a.MarshalBinary()
			if err != nil {
				t.Fatal(err)
			}
			b := tc.fresh()
			if err := b.UnmarshalBinary(buf); err != nil {
				t.Fatal(err)
			}
			buf2, _ := b.MarshalBinary()
			if !bytes.Equal(buf, buf2) {
				t.Fatalf("re-marshalled state differs:\n%x\n%x", buf, buf2)
			}
			// The restored imputer must continue exactly like the original.
			for _, x := range stream {
				a.Update(x)
				b.Update(x)
				if math.Float64bits(a.Value()) != math.Float64bits(b.Value()) {
					t.Fatalf("diverged after %v: %v vs %v", x, a.Value(), b.Value())
				}
			}
		})
	}
}

func TestStreamingUnmarshalRejects(t *testing.T) {
	valid, _ := (&Mean{N: 3, M: 1.5}).MarshalBinary()
	reseal := func(b []byte) []byte { // recompute the checksum after an edit
		out := bytes.Clone(b)
		binary.LittleEndian.PutUint32(out[18:], crc32.ChecksumIEEE(out[:18]))
		return out
	}
	edit := func(i int, v byte) []byte { b := bytes.Clone(valid); b[i] = v; return reseal(b) }
	flipped := bytes.Clone(valid)
	flipped[5] ^= 1
	negN := marshalState('M', -1, 0)
	fracN := marshalState('M', 2.5, 0)
	badAlpha := marshalState('E', 1.5, 0)
	badSeen := marshalState('L', 1, 2)
	negZeroSeen := marshalState('L', 1, math.Copysign(0, -1))

	tests := []struct {
		name   string
		target Streaming
		buf    []byte
	}{
		{"empty", &Mean{}, nil},
		{"truncated", &Mean{}, valid[:10]},
		{"trailing byte", &Mean{}, append(bytes.Clone(valid), 0)},
		{"bit flip", &Mean{}, flipped},
		{"wrong kind", &EWMA{}, valid},
		{"future version", &Mean{}, edit(1, 2)},
		{"negative count", &Mean{}, negN},
		{"fractional count", &Mean{}, fracN},
		{"alpha out of range", &EWMA{}, badAlpha},
		{"seen flag", &Last{}, badSeen},
		{"seen flag -0", &Last{}, negZeroSeen},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before, _ := tc.target.MarshalBinary()
			err := tc.target.UnmarshalBinary(tc.buf)
			if !errors.Is(err, ErrState) {
				t.Fatalf("err = %v, want ErrState", err)
			}
			after, _ := tc.target.MarshalBinary()
			if !bytes.Equal(before, after) {
				t.Fatal("target modified by a failed UnmarshalBinary")
			}
		})
	}
}

func FuzzUnmarshalBinary(f *testing.F) {
	for _, s := range []Streaming{&Mean{N: 2, M: 0.5}, &EWMA{Alpha: 0.5, M: 3}, &Last{V: 9, Seen: true}, &Last{}} {
		b, _ := s.MarshalBinary()
		f.Add(b)
	}
	f.Add([]byte{})
	f.Add([]byte("M\x01garbage"))
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, s := range []Streaming{&Mean{}, &EWMA{}, &Last{}} {
			before, _ := s.MarshalBinary()
			if err := s.UnmarshalBinary(data); err != nil {
				if !errors.Is(err, ErrState) {
					t.Fatalf("%T: error not wrapping ErrState: %v", s, err)
				}
				after, _ := s.MarshalBinary()
				if !bytes.Equal(before, after) {
					t.Fatalf("%T modified by a failed UnmarshalBinary", s)
				}
				continue
			}
			again, _ := s.MarshalBinary()
			if !bytes.Equal(again, data) {
				t.Fatalf("%T accepted %x but marshals back to %x", s, data, again)
			}
		}
	})
}

func BenchmarkMeanUpdate(b *testing.B) {
	var m Mean
	x := 0.0
	for b.Loop() {
		m.Update(x)
		x += 0.5
	}
	if m.N == 0 {
		b.Fatal("no updates")
	}
}
