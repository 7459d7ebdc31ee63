package anomaly

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
)

// Serialized HSTState, version 1 (little-endian):
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
	hstStateMagic   = "HSTS"
	hstStateVersion = 1
	hstFlagWarm     = 1
)

// Errors UnmarshalState wraps; test with errors.Is.
var (
	// ErrHSTStateCorrupt: the bytes are not an intact serialized state (truncated, bad checksum,
	// inconsistent masses).
	ErrHSTStateCorrupt = errors.New("anomaly: half-space trees state is corrupt")
	// ErrHSTStateVersion: the state was written by an unknown format version.
	ErrHSTStateVersion = errors.New("anomaly: half-space trees state has an unsupported version")
	// ErrHSTStateFingerprint: the state belongs to a model with other options or features.
	ErrHSTStateFingerprint = errors.New("anomaly: half-space trees state belongs to a different model")
)

// MarshalState serializes s compactly (see the format above). s must come from h.
func (h *HalfSpaceTrees) MarshalState(s *HSTState) ([]byte, error) {
	if s.fp != h.fp || len(s.mass) != h.trees()*h.nodes {
		return nil, fmt.Errorf("%w: state has fingerprint %016x, model %016x", ErrHSTStateFingerprint, s.fp, h.fp)
	}
	b := make([]byte, 0, 64)
	b = append(b, hstStateMagic...)
	b = append(b, hstStateVersion)
	var flags byte
	if s.warm {
		flags |= hstFlagWarm
	}
	b = append(b, flags)
	b = binary.LittleEndian.AppendUint64(b, h.fp)
	b = binary.AppendUvarint(b, uint64(s.counter))
	for _, right := range []bool{false, true} {
		b = h.appendLeaves(b, s, right)
	}
	return binary.LittleEndian.AppendUint32(b, crc32.ChecksumIEEE(b)), nil
}

func (h *HalfSpaceTrees) appendLeaves(b []byte, s *HSTState, right bool) []byte {
	leaves := h.branches + 1
	mass := func(tree, leaf int) uint16 {
		m := s.mass[tree*h.nodes+h.branches+leaf]
		if right {
			return m.r
		}
		return m.l
	}
	nonZero := 0
	for t := 0; t < h.trees(); t++ {
		for i := 0; i < leaves; i++ {
			if mass(t, i) != 0 {
				nonZero++
			}
		}
	}
	b = binary.AppendUvarint(b, uint64(nonZero))
	gap := 0
	for t := 0; t < h.trees(); t++ {
		for i := 0; i < leaves; i++ {
			if v := mass(t, i); v != 0 {
				b = binary.AppendUvarint(b, uint64(gap))
				b = binary.AppendUvarint(b, uint64(v))
				gap = 0
			} else {
				gap++
			}
		}
	}
	return b
}

// UnmarshalState restores a state written by MarshalState for a model with the same fingerprint.
// Errors wrap ErrHSTStateCorrupt, ErrHSTStateVersion or ErrHSTStateFingerprint.
func (h *HalfSpaceTrees) UnmarshalState(b []byte) (*HSTState, error) {
	const header = len(hstStateMagic) + 2 + 8
	if len(b) < header+4 || string(b[:len(hstStateMagic)]) != hstStateMagic {
		return nil, fmt.Errorf("%w: not a serialized state (%d bytes, want magic %q)", ErrHSTStateCorrupt, len(b), hstStateMagic)
	}
	body := b[:len(b)-4]
	if want, got := binary.LittleEndian.Uint32(b[len(b)-4:]), crc32.ChecksumIEEE(body); want != got {
		return nil, fmt.Errorf("%w: checksum %08x, stored %08x", ErrHSTStateCorrupt, got, want)
	}
	if v := body[4]; v != hstStateVersion {
		return nil, fmt.Errorf("%w: version %d, this build reads version %d", ErrHSTStateVersion, v, hstStateVersion)
	}
	flags := body[5]
	if flags&^hstFlagWarm != 0 {
		return nil, fmt.Errorf("%w: unknown flags %#x", ErrHSTStateCorrupt, flags)
	}
	if fp := binary.LittleEndian.Uint64(body[6:]); fp != h.fp {
		return nil, fmt.Errorf("%w: state fingerprint %016x, model %016x (saved with other trees, height, window, seed, limits or features)", ErrHSTStateFingerprint, fp, h.fp)
	}
	r := stateReader{b: body[header:]}
	counter := r.uvarint()
	s := h.NewState()
	s.warm = flags&hstFlagWarm != 0
	for _, right := range []bool{false, true} {
		h.readLeaves(&r, s, right)
	}
	if r.err != nil {
		return nil, r.err
	}
	if len(r.b) != 0 {
		return nil, fmt.Errorf("%w: %d trailing bytes", ErrHSTStateCorrupt, len(r.b))
	}
	if counter >= uint64(h.opt.WindowSize) {
		return nil, fmt.Errorf("%w: window counter %d not below window size %d", ErrHSTStateCorrupt, counter, h.opt.WindowSize)
	}
	s.counter = uint32(counter)

	// Rebuild branch masses bottom-up and check each tree saw exactly the records the counters say.
	for t := 0; t < h.trees(); t++ {
		m := s.mass[t*h.nodes : (t+1)*h.nodes]
		for i := h.branches - 1; i >= 0; i-- {
			l := uint32(m[2*i+1].l) + uint32(m[2*i+2].l)
			rr := uint32(m[2*i+1].r) + uint32(m[2*i+2].r)
			if l > hstMaxWindow || rr > hstMaxWindow {
				return nil, fmt.Errorf("%w: tree %d masses exceed the window", ErrHSTStateCorrupt, t)
			}
			m[i] = nodeMass{l: uint16(l), r: uint16(rr)}
		}
		wantR := uint32(0)
		if s.warm {
			wantR = uint32(h.opt.WindowSize)
		}
		if uint32(m[0].l) != s.counter || uint32(m[0].r) != wantR {
			return nil, fmt.Errorf("%w: tree %d holds %d current and %d previous-window records, want %d and %d",
				ErrHSTStateCorrupt, t, m[0].l, m[0].r, s.counter, wantR)
		}
	}
	return s, nil
}

func (h *HalfSpaceTrees) readLeaves(r *stateReader, s *HSTState, right bool) {
	leaves := h.branches + 1
	total := h.trees() * leaves
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
		m := &s.mass[pos/leaves*h.nodes+h.branches+pos%leaves]
		if right {
			m.r = uint16(v)
		} else {
			m.l = uint16(v)
		}
		pos++
	}
}

type stateReader struct {
	b   []byte
	err error
}

func (r *stateReader) fail(format string, args ...any) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: %s", ErrHSTStateCorrupt, fmt.Sprintf(format, args...))
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

func (h *HalfSpaceTrees) trees() int { return h.opt.Trees }
