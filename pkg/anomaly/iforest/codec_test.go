package iforest

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"math"
	"testing"
)

func TestMarshalRoundTrip(t *testing.T) {
	x, _ := gaussianWithOutliers(2000, 20, 3)
	tests := []struct {
		name string
		opt  Options
	}{
		{"reference options", withDefaults(Options{Contamination: 0.01, Seed: 42})},
		{"bootstrap, one column per tree", withDefaults(Options{Bootstrap: true, MaxFeatures: Count(1), Seed: 1})},
		{"deep trees (pointer walk)", withDefaults(Options{MaxSamples: Count(2000), NEstimators: 10, Seed: 2})},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := mustFit(t, x, 2, tc.opt)
			b, err := f.MarshalBinary()
			if err != nil {
				t.Fatal(err)
			}
			var g Forest
			if err := g.UnmarshalBinary(b); err != nil {
				t.Fatal(err)
			}
			if g.NumFeatures() != 2 || g.MaxSamples() != f.MaxSamples() || g.Offset() != f.Offset() || g.NumTrees() != f.NumTrees() {
				t.Errorf("loaded model: %d cols, max_samples %d, offset %v, %d trees; want %d, %d, %v, %d",
					g.NumFeatures(), g.MaxSamples(), g.Offset(), g.NumTrees(), 2, f.MaxSamples(), f.Offset(), f.NumTrees())
			}
			if (g.heapKey == nil) != (f.heapKey == nil) {
				t.Errorf("heap layout present: loaded %v, fitted %v", g.heapKey != nil, f.heapKey != nil)
			}
			want, got := scoresOf(t, f, x, 2), scoresOf(t, &g, x, 2)
			for i := range want {
				if got[i] != want[i] {
					t.Fatalf("row %d: loaded model scores %v, fitted %v", i, got[i], want[i])
				}
			}
			b2, err := g.MarshalBinary()
			if err != nil || !bytes.Equal(b, b2) {
				t.Errorf("re-encoding differs (err %v)", err)
			}
		})
	}
}

func TestUnmarshalRejectsCorruption(t *testing.T) {
	x, _ := gaussianWithOutliers(300, 5, 3)
	f := mustFit(t, x, 2, withDefaults(Options{NEstimators: 3, MaxSamples: Count(16), Contamination: 0.1}))
	good, err := f.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	// resum recomputes the checksum, so structural checks are reached.
	resum := func(b []byte) []byte {
		binary.LittleEndian.PutUint32(b[len(b)-4:], crc32.ChecksumIEEE(b[:len(b)-4]))
		return b
	}
	edit := func(fn func(b []byte)) []byte {
		b := bytes.Clone(good)
		fn(b)
		return resum(b)
	}
	node := func(i int) int { return headerSize + f.NumTrees()*treeSize + i*nodeSize }
	firstLeaf := 0
	for i, n := range f.nodes {
		if n.left == 0 {
			firstLeaf = i
			break
		}
	}
	tests := []struct {
		name string
		data []byte
	}{
		{"empty", nil},
		{"truncated", good[:len(good)-1]},
		{"trailing byte", resum(append(bytes.Clone(good), 0, 0, 0, 0, 0))},
		{"bad checksum", flipped(good, len(good)/2)},
		{"bad magic", edit(func(b []byte) { b[0] = 'X' })},
		{"future version", edit(func(b []byte) { b[4] = 2 })},
		{"flags", edit(func(b []byte) { b[6] = 1 })},
		{"zero columns", edit(func(b []byte) { binary.LittleEndian.PutUint32(b[8:], 0) })},
		{"zero max_samples", edit(func(b []byte) { binary.LittleEndian.PutUint32(b[12:], 0) })},
		{"no trees", edit(func(b []byte) { binary.LittleEndian.PutUint32(b[16:], 0) })},
		{"node count", edit(func(b []byte) { binary.LittleEndian.PutUint32(b[20:], 1<<31) })},
		{"NaN offset", edit(func(b []byte) { binary.LittleEndian.PutUint64(b[24:], math.Float64bits(math.NaN())) })},
		{"contamination", edit(func(b []byte) { binary.LittleEndian.PutUint64(b[32:], math.Float64bits(0.9)) })},
		{"tree size", edit(func(b []byte) { binary.LittleEndian.PutUint32(b[headerSize:], 1) })},
		{"tree depth", edit(func(b []byte) { b[headerSize+4]++ })},
		{"column out of range", edit(func(b []byte) { binary.LittleEndian.PutUint32(b[node(0)+4:], 2) })},
		{"child out of range", edit(func(b []byte) { binary.LittleEndian.PutUint32(b[node(0)+8:], 1000) })},
		{"child loops back", edit(func(b []byte) { binary.LittleEndian.PutUint32(b[node(0)+8:], uint32(0xffffffff)) })},
		{"NaN threshold", edit(func(b []byte) { binary.LittleEndian.PutUint32(b[node(0):], math.Float32bits(float32(math.NaN()))) })},
		{"leaf with finite threshold", edit(func(b []byte) { binary.LittleEndian.PutUint32(b[node(firstLeaf):], math.Float32bits(1)) })},
		{"negative path length", edit(func(b []byte) {
			binary.LittleEndian.PutUint64(b[node(firstLeaf)+12:], math.Float64bits(-1))
		})},
		{"internal path length", edit(func(b []byte) { binary.LittleEndian.PutUint64(b[node(0)+12:], math.Float64bits(1)) })},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g := *f
			err := g.UnmarshalBinary(tc.data)
			if !errors.Is(err, errCorrupt) {
				t.Fatalf("err = %v, want a corrupt-encoding error", err)
			}
			if g.offset != f.offset || len(g.nodes) != len(f.nodes) {
				t.Error("failed UnmarshalBinary changed the model")
			}
		})
	}
	// Every single-bit flip is caught (by the checksum at least).
	for i := range good {
		b := bytes.Clone(good)
		b[i] ^= 1 << (i % 8)
		var g Forest
		if err := g.UnmarshalBinary(b); err == nil {
			t.Fatalf("bit flip in byte %d accepted", i)
		}
	}
}

// flipped is b with one bit of byte i flipped and the checksum left stale.
func flipped(b []byte, i int) []byte {
	b = bytes.Clone(b)
	b[i] ^= 0x10
	return b
}

func FuzzUnmarshal(f *testing.F) {
	x, _ := gaussianWithOutliers(200, 5, 1)
	for _, opt := range []Options{
		withDefaults(Options{NEstimators: 2, MaxSamples: Count(8)}),
		withDefaults(Options{NEstimators: 3, MaxSamples: Count(32), MaxFeatures: Count(1), Bootstrap: true, Contamination: 0.2}),
	} {
		m, err := Fit(f.Context(), x, 2, opt)
		if err != nil {
			f.Fatal(err)
		}
		b, _ := m.MarshalBinary()
		f.Add(b, false)
		f.Add(b, true)
	}
	f.Add([]byte("HWIF"), true)
	f.Fuzz(func(t *testing.T, data []byte, fixChecksum bool) {
		// With fixChecksum the fuzzer's mutations get past the CRC and
		// reach the structural checks.
		if fixChecksum && len(data) >= 4 {
			data = bytes.Clone(data)
			binary.LittleEndian.PutUint32(data[len(data)-4:], crc32.ChecksumIEEE(data[:len(data)-4]))
		}
		var m Forest
		if err := m.UnmarshalBinary(data); err != nil {
			return
		}
		// Accepted: it must re-encode to the same bytes and score any
		// finite rows without panicking, within scikit-learn's range.
		b, err := m.MarshalBinary()
		if err != nil || !bytes.Equal(b, data) {
			t.Fatalf("accepted encoding does not round-trip (err %v)", err)
		}
		cols := m.NumFeatures()
		if cols > 64 {
			return
		}
		rows := make([]float64, 3*cols)
		for i := range rows {
			rows[i] = float64(i%7) - 3
		}
		out := make([]float64, 3)
		if err := m.ScoreSamples(rows, cols, out); err != nil {
			t.Fatal(err)
		}
		for _, s := range out {
			if !(s >= -1 && s <= 0) {
				t.Fatalf("score %v outside [-1, 0]", s)
			}
		}
	})
}
