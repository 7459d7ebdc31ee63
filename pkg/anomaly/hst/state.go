package hst

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
)

// Serialized State, version 1 (little-endian):
//
//	"HSTS" | version u8 = 1 | flags u8 (bit 0: first window complete) | model fingerprint u64 |
//	counter uvarint | leaf l_mass list | leaf r_mass list | CRC-32 (IEEE) of everything before, u32
//
// Only leaves are stored: every learned record adds one to each node of a root-to-leaf path, so a
// branch's mass is always the sum of its children's and is rebuilt on load. Each leaf list is the
// number of non-zero leaves (uvarint) then, per non-zero leaf in tree-major leaf order, the gap of
// zero leaves skipped since the previous one (uvarint) and the mass (uvarint). A window of 72
// records leaves at most 72 non-zero leaves per tree, so a state is a few KiB at most.

const (
	stateMagic   = "HSTS"
	stateVersion = 1
	flagWarm     = 1
)

// Errors UnmarshalState wraps; test with errors.Is.
var (
	// ErrStateCorrupt: the bytes are not an intact serialized state (truncated, bad checksum,
	// inconsistent masses).
	ErrStateCorrupt = errors.New("hst: state is corrupt")
	// ErrStateVersion: the state was written by an unknown format version.
	ErrStateVersion = errors.New("hst: state has an unsupported version")
	// ErrStateFingerprint: the state belongs to a model with other options or features.
	ErrStateFingerprint = errors.New("hst: state belongs to a different model")
)

// MarshalState serializes s compactly (see the format above). s must come from h.
func (h *Model) MarshalState(s *State) ([]byte, error) {
	if s.fp != h.fp || len(s.m8)+len(s.m16) != h.slots {
		return nil, fmt.Errorf("%w: state has fingerprint %016x, model %016x", ErrStateFingerprint, s.fp, h.fp)
	}
	b := make([]byte, 0, 64)
	b = append(b, stateMagic...)
	b = append(b, stateVersion)
	var flags byte
	if s.warm {
		flags |= flagWarm
	}
	b = append(b, flags)
	b = binary.LittleEndian.AppendUint64(b, h.fp)
	b = binary.AppendUvarint(b, uint64(s.counter))
	// The state stores no leaf as such (see the layout in hst.go): rebuild each tree's node masses
	// once, keeping its leaves' for the two lists.
	leaves := h.branches + 1
	slots := make([]int, h.branches)
	nodes := make([][2]uint32, h.nodes)
	leafMass := make([][2]uint16, h.trees()*leaves) // masses are at most 65535
	for t := 0; t < h.trees(); t++ {
		h.treeSlots(t, slots)
		h.treeMasses(s, slots, nodes)
		for i, m := range nodes[h.branches:] {
			leafMass[t*leaves+i] = [2]uint16{uint16(m[0]), uint16(m[1])}
		}
	}
	for side := range 2 { // l_mass, then r_mass
		b = appendLeaves(b, leafMass, side)
	}
	return binary.LittleEndian.AppendUint32(b, crc32.ChecksumIEEE(b)), nil
}

// appendLeaves appends one leaf list: side 0 is l_mass, 1 r_mass.
func appendLeaves(b []byte, leafMass [][2]uint16, side int) []byte {
	nonZero := 0
	for _, m := range leafMass {
		if m[side] != 0 {
			nonZero++
		}
	}
	b = binary.AppendUvarint(b, uint64(nonZero))
	gap := 0
	for _, m := range leafMass {
		if v := m[side]; v != 0 {
			b = binary.AppendUvarint(b, uint64(gap))
			b = binary.AppendUvarint(b, uint64(v))
			gap = 0
		} else {
			gap++
		}
	}
	return b
}

// UnmarshalState restores a state written by MarshalState for a model with the same fingerprint.
// Errors wrap ErrStateCorrupt, ErrStateVersion or ErrStateFingerprint.
func (h *Model) UnmarshalState(b []byte) (*State, error) {
	const header = len(stateMagic) + 2 + 8
	if len(b) < header+4 || string(b[:len(stateMagic)]) != stateMagic {
		return nil, fmt.Errorf("%w: not a serialized state (%d bytes, want magic %q)", ErrStateCorrupt, len(b), stateMagic)
	}
	body := b[:len(b)-4]
	if want, got := binary.LittleEndian.Uint32(b[len(b)-4:]), crc32.ChecksumIEEE(body); want != got {
		return nil, fmt.Errorf("%w: checksum %08x, stored %08x", ErrStateCorrupt, got, want)
	}
	if v := body[4]; v != stateVersion {
		return nil, fmt.Errorf("%w: version %d, this build reads version %d", ErrStateVersion, v, stateVersion)
	}
	flags := body[5]
	if flags&^flagWarm != 0 {
		return nil, fmt.Errorf("%w: unknown flags %#x", ErrStateCorrupt, flags)
	}
	if fp := binary.LittleEndian.Uint64(body[6:]); fp != h.fp {
		return nil, fmt.Errorf("%w: state fingerprint %016x, model %016x (saved with other trees, height, window, seed, limits or features)", ErrStateFingerprint, fp, h.fp)
	}
	r := stateReader{b: body[header:]}
	counter := r.uvarint()
	// The leaves as written, l_mass and r_mass per leaf (tree-major): masses are at most 65535.
	leaves := h.branches + 1
	leafMass := make([][2]uint16, h.trees()*leaves)
	for side := range 2 {
		h.readLeaves(&r, leafMass, side)
	}
	if r.err != nil {
		return nil, r.err
	}
	if len(r.b) != 0 {
		return nil, fmt.Errorf("%w: %d trailing bytes", ErrStateCorrupt, len(r.b))
	}
	if counter >= uint64(h.opt.WindowSize) {
		return nil, fmt.Errorf("%w: window counter %d not below window size %d", ErrStateCorrupt, counter, h.opt.WindowSize)
	}
	s := h.NewState()
	s.warm = flags&flagWarm != 0
	s.counter = uint32(counter)
	wantL, wantR := h.rootMasses(s)

	// Per tree: the branch masses bottom-up (a branch's mass is the sum of its children's),
	// storing each branch's left child; each tree must have seen exactly the records the counter
	// and the flag say, which bounds every node by the window.
	window := uint32(h.opt.WindowSize)
	level := make([][2]uint32, leaves) // masses of one level's nodes, leaves first
	slots := make([]int, h.branches)
	for t := 0; t < h.trees(); t++ {
		h.treeSlots(t, slots)
		for i, m := range leafMass[t*leaves : (t+1)*leaves] {
			level[i] = [2]uint32{uint32(m[0]), uint32(m[1])}
		}
		for d := h.opt.Height - 1; d >= 0; d-- {
			for i := 0; i < 1<<d; i++ {
				left, right := level[2*i], level[2*i+1]
				sum := [2]uint32{left[0] + right[0], left[1] + right[1]} // each ≤ window: no overflow
				if sum[0] > window || sum[1] > window {
					return nil, fmt.Errorf("%w: tree %d masses exceed the window", ErrStateCorrupt, t)
				}
				s.setPair(slots[1<<d-1+i], left[0], left[1])
				level[i] = sum
			}
		}
		if level[0][0] != wantL || level[0][1] != wantR {
			return nil, fmt.Errorf("%w: tree %d holds %d current and %d previous-window records, want %d and %d",
				ErrStateCorrupt, t, level[0][0], level[0][1], wantL, wantR)
		}
	}
	return s, nil
}

// readLeaves reads one leaf list into side (0 l_mass, 1 r_mass) of leafMass.
func (h *Model) readLeaves(r *stateReader, leafMass [][2]uint16, side int) {
	total := len(leafMass)
	n := r.uvarint()
	if r.err == nil && n > uint64(total) {
		r.fail("%d non-zero leaves, model has %d leaves", n, total)
	}
	pos := 0
	for k := uint64(0); k < n && r.err == nil; k++ {
		gap := r.uvarint()
		v := r.uvarint()
		if r.err != nil {
			return
		}
		if gap >= uint64(total-pos) {
			r.fail("leaf index past the last leaf")
			return
		}
		pos += int(gap)
		if v == 0 || v > uint64(h.opt.WindowSize) {
			r.fail("leaf mass %d outside [1, window size %d]", v, h.opt.WindowSize)
			return
		}
		leafMass[pos][side] = uint16(v)
		pos++
	}
}

type stateReader struct {
	b   []byte
	err error
}

func (r *stateReader) fail(format string, args ...any) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: %s", ErrStateCorrupt, fmt.Sprintf(format, args...))
	}
}

func (r *stateReader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.fail("truncated or overlong number")
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (h *Model) trees() int { return h.opt.Trees }
