package iforest

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math"
)

// Binary form of a fitted Forest, little-endian:
//
//	magic "HWIF", version uint16, flags uint16 (0)
//	cols, maxSamples, trees, nodes uint32
//	offset, contamination float64 bits
//	per tree: node count uint32, depth uint8
//	per node: thr float32 bits, feat int32, left int32, path length float64 bits
//	CRC-32 (IEEE) of everything before it, uint32
//
// The heap-order copy used for scoring is derived again on load rather
// than stored. Every field is checked on load, so a file that passes can
// be scored without out-of-range accesses, and re-encoding it gives the
// same bytes.
const (
	magic      = "HWIF"
	version    = 1
	headerSize = 4 + 2 + 2 + 4*4 + 8 + 8
	treeSize   = 4 + 1
	nodeSize   = 4 + 4 + 4 + 8
	maxDepth   = 62 // deeper than any forest of ≤ 2^31 rows; keeps 1<<depth safe
)

// errCorrupt is wrapped by every decoding error.
var errCorrupt = errors.New("iforest: corrupt isolation forest encoding")

// MarshalBinary encodes the fitted model for caching (see UnmarshalBinary).
func (f *Forest) MarshalBinary() ([]byte, error) {
	if len(f.treeDepth) == 0 {
		return nil, errors.New("iforest: cannot encode an unfitted isolation forest")
	}
	size := headerSize + len(f.treeDepth)*treeSize + len(f.nodes)*nodeSize + 4
	b := make([]byte, 0, size)
	b = append(b, magic...)
	b = binary.LittleEndian.AppendUint16(b, version)
	b = binary.LittleEndian.AppendUint16(b, 0)
	b = binary.LittleEndian.AppendUint32(b, uint32(f.cols))
	b = binary.LittleEndian.AppendUint32(b, uint32(f.maxSamples))
	b = binary.LittleEndian.AppendUint32(b, uint32(len(f.treeDepth)))
	b = binary.LittleEndian.AppendUint32(b, uint32(len(f.nodes)))
	b = binary.LittleEndian.AppendUint64(b, math.Float64bits(f.offset))
	b = binary.LittleEndian.AppendUint64(b, math.Float64bits(f.contamination))
	for t, d := range f.treeDepth {
		b = binary.LittleEndian.AppendUint32(b, uint32(f.treeStart[t+1]-f.treeStart[t]))
		b = append(b, d)
	}
	for i, n := range f.nodes {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(n.thr))
		b = binary.LittleEndian.AppendUint32(b, uint32(n.feat))
		b = binary.LittleEndian.AppendUint32(b, uint32(n.left))
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(f.pathLen[i]))
	}
	b = binary.LittleEndian.AppendUint32(b, crc32.ChecksumIEEE(b))
	return b, nil
}

// UnmarshalBinary replaces f with the model encoded in data. It rejects
// anything that is not exactly what MarshalBinary writes (wrong magic,
// version or checksum, truncation, trailing bytes, or a tree that is not
// a valid tree) with an error, leaving f unchanged.
func (f *Forest) UnmarshalBinary(data []byte) error {
	corrupt := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", errCorrupt, fmt.Sprintf(format, args...))
	}
	if len(data) < headerSize+4 {
		return corrupt("%d bytes is shorter than the header", len(data))
	}
	if string(data[:4]) != magic {
		return corrupt("bad magic %q", data[:4])
	}
	le := binary.LittleEndian
	if v := le.Uint16(data[4:]); v != version {
		return corrupt("unsupported version %d (this build reads %d)", v, version)
	}
	body, sum := data[:len(data)-4], le.Uint32(data[len(data)-4:])
	if got := crc32.ChecksumIEEE(body); got != sum {
		return corrupt("checksum %08x, want %08x", got, sum)
	}
	if flags := le.Uint16(data[6:]); flags != 0 {
		return corrupt("unknown flags %#x", flags)
	}
	cols := int(le.Uint32(data[8:]))
	maxSamples := int(le.Uint32(data[12:]))
	nTrees := int(le.Uint32(data[16:]))
	nNodes := int(le.Uint32(data[20:]))
	offset := math.Float64frombits(le.Uint64(data[24:]))
	contamination := math.Float64frombits(le.Uint64(data[32:]))
	switch {
	case cols < 1 || cols > math.MaxInt32/chunkRows:
		return corrupt("column count %d", cols)
	case maxSamples < 1 || maxSamples > math.MaxInt32:
		return corrupt("max_samples %d", maxSamples)
	case nTrees < 1:
		return corrupt("no trees")
	case math.IsNaN(offset) || math.IsInf(offset, 0):
		return corrupt("offset %v", offset)
	case contamination != 0 && !(contamination > 0 && contamination <= 0.5):
		return corrupt("contamination %v", contamination)
	}
	// Check the length before allocating anything it implies.
	if want := uint64(headerSize) + uint64(nTrees)*treeSize + uint64(nNodes)*nodeSize + 4; uint64(len(data)) != want {
		return corrupt("%d bytes, want %d for %d trees and %d nodes", len(data), want, nTrees, nNodes)
	}

	g := &Forest{
		cols:          cols,
		maxSamples:    maxSamples,
		offset:        offset,
		contamination: contamination,
		workers:       f.workers,
		nodes:         make([]treeNode, nNodes),
		pathLen:       make([]float64, nNodes),
		treeStart:     make([]int32, nTrees+1),
		treeDepth:     make([]uint8, nTrees),
	}
	p := headerSize
	total := 0
	for t := range nTrees {
		count := int(le.Uint32(data[p:]))
		depth := data[p+4]
		p += treeSize
		if count < 1 || count > nNodes-total {
			return corrupt("tree %d: %d nodes", t, count)
		}
		if depth > maxDepth {
			return corrupt("tree %d: depth %d", t, depth)
		}
		g.treeStart[t] = int32(total)
		g.treeDepth[t] = depth
		total += count
	}
	if total != nNodes {
		return corrupt("trees hold %d nodes, header says %d", total, nNodes)
	}
	g.treeStart[nTrees] = int32(total)
	for i := range g.nodes {
		g.nodes[i] = treeNode{
			thr:  math.Float32frombits(le.Uint32(data[p:])),
			feat: int32(le.Uint32(data[p+4:])),
			left: int32(le.Uint32(data[p+8:])),
		}
		g.pathLen[i] = math.Float64frombits(le.Uint64(data[p+12:]))
		p += nodeSize
	}
	depths := make([]int, 0, 64)
	for t := range nTrees {
		if err := g.checkTree(t, &depths); err != nil {
			return corrupt("tree %d: %v", t, err)
		}
	}
	g.buildHeap()
	*f = *g
	return nil
}

// checkTree verifies that tree t is a tree as the builder makes them:
// children after their parent and inside the tree, every node but the
// root the child of exactly one node (so walks terminate and the heap
// copy is bounded), columns in range, leaves marked as leaves, and the
// stored depth the depth of its deepest leaf.
func (f *Forest) checkTree(t int, depths *[]int) error {
	nodes := f.nodes[f.treeStart[t]:f.treeStart[t+1]]
	pathLen := f.pathLen[f.treeStart[t]:f.treeStart[t+1]]
	d := (*depths)[:0]
	d = append(d, make([]int, len(nodes))...)
	for i := range d {
		d[i] = -1
	}
	*depths = d
	d[0] = 0
	deepest := 0
	for i, n := range nodes {
		if d[i] < 0 {
			return fmt.Errorf("node %d has no parent", i)
		}
		if n.left == 0 {
			if !math.IsInf(float64(n.thr), 1) || n.feat != 0 {
				return fmt.Errorf("leaf %d: threshold %v, column %d", i, n.thr, n.feat)
			}
			if l := pathLen[i]; !(l >= 0 && l <= math.MaxFloat32) {
				return fmt.Errorf("leaf %d: path length %v", i, l)
			}
			deepest = max(deepest, d[i])
			continue
		}
		if n.left < 0 || int64(i)+int64(n.left)+1 >= int64(len(nodes)) {
			return fmt.Errorf("node %d: child offset %d", i, n.left)
		}
		if n.thr-n.thr != 0 {
			return fmt.Errorf("node %d: threshold %v", i, n.thr)
		}
		if n.feat < 0 || int(n.feat) >= f.cols {
			return fmt.Errorf("node %d: column %d of %d", i, n.feat, f.cols)
		}
		if pathLen[i] != 0 {
			return fmt.Errorf("node %d: internal node with path length %v", i, pathLen[i])
		}
		c := i + int(n.left)
		if d[c] >= 0 || d[c+1] >= 0 {
			return fmt.Errorf("node %d: child shared with another node", i)
		}
		if d[i]+1 > int(f.treeDepth[t]) {
			return fmt.Errorf("node %d: deeper than the stored depth %d", i, f.treeDepth[t])
		}
		d[c], d[c+1] = d[i]+1, d[i]+1
	}
	if deepest != int(f.treeDepth[t]) {
		return fmt.Errorf("deepest leaf at %d, stored depth %d", deepest, f.treeDepth[t])
	}
	return nil
}
