// Package pyrand reproduces the pseudo-random stream of CPython's random.Random, so that models
// seeded in Go (Half-Space Trees) draw exactly the numbers River draws from random.Random(seed).
//
// Only what River's tree construction needs is implemented: integer seeding, random(), uniform()
// and weighted choices(). The generator is MT19937 seeded the way CPython's random_seed() does for
// an int: the absolute value split into 32-bit words (least significant first) and fed to
// init_by_array.
package pyrand

import (
	"math/big"
)

const (
	mtN       = 624
	mtM       = 397
	matrixA   = 0x9908b0df
	upperMask = 0x80000000
	lowerMask = 0x7fffffff
)

// Rand is a Mersenne Twister with CPython's seeding and float conversion. Not safe for concurrent use.
type Rand struct {
	mt  [mtN]uint32
	mti int
}

// New returns the generator CPython builds for random.Random(seed) with an int seed.
// Negative seeds use their absolute value, as CPython does.
func New(seed int64) *Rand {
	var mag uint64
	if seed < 0 {
		mag = uint64(-(seed + 1)) + 1 // also right for math.MinInt64
	} else {
		mag = uint64(seed)
	}
	return NewUint64(mag)
}

// NewUint64 returns the generator for random.Random(seed), seed ≥ 0 below 2**64.
func NewUint64(seed uint64) *Rand {
	lo, hi := uint32(seed), uint32(seed>>32)
	if hi == 0 {
		return NewFromWords([]uint32{lo})
	}
	return NewFromWords([]uint32{lo, hi})
}

// NewBig returns the generator for random.Random(seed) with an arbitrarily large int seed
// (its absolute value is used).
func NewBig(seed *big.Int) *Rand {
	abs := new(big.Int).Abs(seed)
	if abs.Sign() == 0 {
		return NewFromWords([]uint32{0})
	}
	var words []uint32
	mask := big.NewInt(0xffffffff)
	w := new(big.Int)
	for abs.Sign() > 0 {
		words = append(words, uint32(w.And(abs, mask).Uint64()))
		abs.Rsh(abs, 32)
	}
	return NewFromWords(words)
}

// NewFromWords seeds with init_by_array over key, the seed's 32-bit words least significant first
// (CPython passes one zero word for seed 0).
func NewFromWords(key []uint32) *Rand {
	r := &Rand{}
	r.initByArray(key)
	return r
}

func (r *Rand) initGenrand(s uint32) {
	r.mt[0] = s
	for i := 1; i < mtN; i++ {
		r.mt[i] = 1812433253*(r.mt[i-1]^(r.mt[i-1]>>30)) + uint32(i)
	}
	r.mti = mtN
}

func (r *Rand) initByArray(key []uint32) {
	r.initGenrand(19650218)
	i, j := 1, 0
	k := max(mtN, len(key))
	for ; k > 0; k-- {
		r.mt[i] = (r.mt[i] ^ ((r.mt[i-1] ^ (r.mt[i-1] >> 30)) * 1664525)) + key[j] + uint32(j)
		i++
		j++
		if i >= mtN {
			r.mt[0] = r.mt[mtN-1]
			i = 1
		}
		if j >= len(key) {
			j = 0
		}
	}
	for k = mtN - 1; k > 0; k-- {
		r.mt[i] = (r.mt[i] ^ ((r.mt[i-1] ^ (r.mt[i-1] >> 30)) * 1566083941)) - uint32(i)
		i++
		if i >= mtN {
			r.mt[0] = r.mt[mtN-1]
			i = 1
		}
	}
	r.mt[0] = 0x80000000 // MSB is 1, assuring a non-zero initial array
}

// Uint32 returns the next 32-bit output of MT19937 (CPython's genrand_uint32).
func (r *Rand) Uint32() uint32 {
	if r.mti >= mtN {
		r.twist()
	}
	y := r.mt[r.mti]
	r.mti++
	y ^= y >> 11
	y ^= (y << 7) & 0x9d2c5680
	y ^= (y << 15) & 0xefc60000
	y ^= y >> 18
	return y
}

func (r *Rand) twist() {
	mag := [2]uint32{0, matrixA}
	var kk int
	for kk = 0; kk < mtN-mtM; kk++ {
		y := (r.mt[kk] & upperMask) | (r.mt[kk+1] & lowerMask)
		r.mt[kk] = r.mt[kk+mtM] ^ (y >> 1) ^ mag[y&1]
	}
	for ; kk < mtN-1; kk++ {
		y := (r.mt[kk] & upperMask) | (r.mt[kk+1] & lowerMask)
		r.mt[kk] = r.mt[kk+(mtM-mtN)] ^ (y >> 1) ^ mag[y&1]
	}
	y := (r.mt[mtN-1] & upperMask) | (r.mt[0] & lowerMask)
	r.mt[mtN-1] = r.mt[mtM-1] ^ (y >> 1) ^ mag[y&1]
	r.mti = 0
}

// Random returns random.random(): a float in [0, 1) with 53 random bits built from two outputs.
func (r *Rand) Random() float64 {
	a := r.Uint32() >> 5
	b := r.Uint32() >> 6
	return (float64(a)*67108864.0 + float64(b)) * (1.0 / 9007199254740992.0)
}

// Uniform returns random.uniform(a, b) = a + (b-a)*random(), in that arithmetic order.
func (r *Rand) Uniform(a, b float64) float64 {
	// The explicit conversion forbids fusing into an FMA, which would round differently from CPython.
	return a + float64((b-a)*r.Random())
}

// ChoiceWeighted returns the index random.choices(population, weights)[0] picks: cumulative weights
// summed left to right (itertools.accumulate), then bisect_right over all but the last of them at
// random()*total. It draws one random() even for a single weight, as CPython does. It panics on an
// empty slice; the caller guarantees a positive, finite total (CPython raises ValueError otherwise).
// cum is scratch space of len(weights) so the call does not allocate; nil allocates.
func (r *Rand) ChoiceWeighted(weights, cum []float64) int {
	if len(weights) == 0 {
		panic("pyrand: ChoiceWeighted with no weights")
	}
	if cum == nil {
		cum = make([]float64, len(weights))
	}
	cum = cum[:len(weights)]
	acc := 0.0
	for i, w := range weights {
		if i == 0 {
			acc = w
		} else {
			acc += w
		}
		cum[i] = acc
	}
	total := cum[len(cum)-1] + 0.0
	x := r.Random() * total
	// bisect_right(cum, x, 0, hi=n-1): first index in [0, n-1) whose value is > x, else n-1.
	lo, hi := 0, len(cum)-1
	for lo < hi {
		mid := (lo + hi) / 2
		if x < cum[mid] {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	return lo
}
