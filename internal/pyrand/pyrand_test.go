package pyrand

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"math"
	"math/big"
	"os"
	"strconv"
	"testing"
)

// fixture mirrors testdata/pyrand.json, written by testdata/gen_pyrand.py with CPython's random.
type fixture struct {
	Python string `json:"python"`
	Cases  []struct {
		Seed         string     `json:"seed"`
		Uint32       []uint32   `json:"uint32"`
		RandomFirst  []string   `json:"random_first"`
		RandomSHA256 string     `json:"random_sha256"`
		Uniform      [][]string `json:"uniform"`
		Choices      []struct {
			Weights []string `json:"weights"`
			Picks   []int    `json:"picks"`
		} `json:"choices"`
	} `json:"cases"`
}

func loadFixture(t *testing.T) fixture {
	t.Helper()
	b, err := os.ReadFile("testdata/pyrand.json")
	if err != nil {
		t.Fatal(err)
	}
	var f fixture
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	if len(f.Cases) == 0 {
		t.Fatal("fixture has no cases")
	}
	return f
}

func parseFloat(t *testing.T, s string) float64 {
	t.Helper()
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func newFromDecimal(t *testing.T, s string) *Rand {
	t.Helper()
	n, ok := new(big.Int).SetString(s, 10)
	if !ok {
		t.Fatalf("bad seed %q", s)
	}
	return NewBig(n)
}

// TestMatchesCPython compares every stream against CPython 3's random.Random bit for bit.
func TestMatchesCPython(t *testing.T) {
	f := loadFixture(t)
	for _, c := range f.Cases {
		t.Run("seed="+c.Seed, func(t *testing.T) {
			r := newFromDecimal(t, c.Seed)
			for i, want := range c.Uint32 {
				if got := r.Uint32(); got != want {
					t.Fatalf("getrandbits(32) #%d = %d, CPython %d", i, got, want)
				}
			}

			r = newFromDecimal(t, c.Seed)
			h := sha256.New()
			var buf [8]byte
			for i := 0; i < 2000; i++ {
				v := r.Random()
				if i < len(c.RandomFirst) {
					if want := parseFloat(t, c.RandomFirst[i]); math.Float64bits(v) != math.Float64bits(want) {
						t.Fatalf("random() #%d = %s, CPython %s", i, strconv.FormatFloat(v, 'g', -1, 64), c.RandomFirst[i])
					}
				}
				binary.LittleEndian.PutUint64(buf[:], math.Float64bits(v))
				h.Write(buf[:])
			}
			if got := hex.EncodeToString(h.Sum(nil)); got != c.RandomSHA256 {
				t.Errorf("SHA-256 of 2000 random() = %s, CPython %s", got, c.RandomSHA256)
			}

			r = newFromDecimal(t, c.Seed)
			for _, u := range c.Uniform {
				a, b, want := parseFloat(t, u[0]), parseFloat(t, u[1]), parseFloat(t, u[2])
				if got := r.Uniform(a, b); math.Float64bits(got) != math.Float64bits(want) {
					t.Errorf("uniform(%s, %s) = %v, CPython %s", u[0], u[1], got, u[2])
				}
			}

			r = newFromDecimal(t, c.Seed)
			for _, ch := range c.Choices {
				w := make([]float64, len(ch.Weights))
				for i, s := range ch.Weights {
					w[i] = parseFloat(t, s)
				}
				cum := make([]float64, len(w))
				for i, want := range ch.Picks {
					if got := r.ChoiceWeighted(w, cum); got != want {
						t.Fatalf("choices(weights=%v) draw %d = %d, CPython %d", ch.Weights, i, got, want)
					}
				}
			}
		})
	}
}

// TestSeedConstructorsAgree checks the int64/uint64 constructors against the word-array form
// CPython uses (abs value, 32-bit words least significant first).
func TestSeedConstructorsAgree(t *testing.T) {
	tests := []struct {
		name string
		a, b *Rand
	}{
		{"0", New(0), NewFromWords([]uint32{0})},
		{"42", New(42), NewBig(big.NewInt(42))},
		{"-42 is 42", New(-42), New(42)},
		{"2**32+5", New(1<<32 + 5), NewFromWords([]uint32{5, 1})},
		{"MinInt64", New(math.MinInt64), NewUint64(1 << 63)},
		{"MaxUint64", NewUint64(math.MaxUint64), NewBig(new(big.Int).SetUint64(math.MaxUint64))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for i := 0; i < 700; i++ { // past one twist
				if x, y := tt.a.Uint32(), tt.b.Uint32(); x != y {
					t.Fatalf("draw %d: %d != %d", i, x, y)
				}
			}
		})
	}
}

func TestChoiceWeightedSingleWeightStillDraws(t *testing.T) {
	a, b := New(3), New(3)
	if got := a.ChoiceWeighted([]float64{7}, nil); got != 0 {
		t.Fatalf("single weight picked %d", got)
	}
	b.Random()
	if x, y := a.Random(), b.Random(); x != y {
		t.Fatalf("ChoiceWeighted with one weight did not consume exactly one random(): %v vs %v", x, y)
	}
}

func TestChoiceWeightedDoesNotAllocate(t *testing.T) {
	r := New(1)
	w := []float64{1, 2, 3}
	cum := make([]float64, 3)
	if n := testing.AllocsPerRun(100, func() { r.ChoiceWeighted(w, cum) }); n != 0 {
		t.Fatalf("allocs per call = %v, want 0", n)
	}
}

func BenchmarkRandom(b *testing.B) {
	r := New(42)
	var s float64
	for b.Loop() {
		s += r.Random()
	}
	_ = s
}
