package anomaly

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"hash/fnv"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// State file layout (all integers little endian, lengths as unsigned varints):
//
//	magic "HZANOMST" | version uint16 | config fingerprint uint64 | written at (Unix ns) uint64 | series count
//	per series, most recently seen first:
//	  key length, key | last seen (Unix ns, varint) | tree state length, tree state (pkg/anomaly's format)
//	  per field: 0 (no imputer) or 1, imputer length, imputer state
//	CRC-32C of everything before it, uint32
//
// The fingerprint covers every option the saved models depend on (tree options, fields, imputers,
// key_tags); a file with another fingerprint is incompatible, not corrupt. The time of writing lets a
// load leave the downtime out of series_ttl: a restart after a long stop does not forget every series.
const (
	stateMagic   = "HZANOMST"
	stateVersion = 1
)

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// errIncompatible marks a state file that is intact but was written for another configuration.
var errIncompatible = errors.New("incompatible state")

// stateFingerprint hashes the configuration a saved state is only valid for.
func (p *Anomaly) stateFingerprint() uint64 {
	h := fnv.New64a()
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], p.hst.Fingerprint())
	h.Write(b[:])
	h.Write([]byte(strings.Join(p.Fields, "\x00")))
	h.Write([]byte{0xff})
	h.Write([]byte(strings.Join(p.settings.imputers, "\x00")))
	h.Write([]byte{0xff})
	for _, kind := range p.settings.imputers {
		if kind == "ewma" {
			binary.LittleEndian.PutUint64(b[:], math.Float64bits(p.EWMAAlpha))
			h.Write(b[:])
			break
		}
	}
	h.Write([]byte(strings.Join(p.KeyTags, "\x00")))
	return h.Sum64()
}

// encodeState serialises every model. Caller holds p.mu.
func (p *Anomaly) encodeState() ([]byte, error) {
	buf := make([]byte, 0, 64+p.table.len()*256)
	buf = append(buf, stateMagic...)
	buf = binary.LittleEndian.AppendUint16(buf, stateVersion)
	buf = binary.LittleEndian.AppendUint64(buf, p.stateFP)
	buf = binary.LittleEndian.AppendUint64(buf, uint64(p.now().UnixNano()))
	n := p.table.len()
	if p.table.global != nil {
		n = 1
	}
	buf = binary.AppendUvarint(buf, uint64(n))
	var err error
	p.table.each(func(s *series) {
		if err != nil {
			return
		}
		buf = binary.AppendUvarint(buf, uint64(len(s.key)))
		buf = append(buf, s.key...)
		buf = binary.AppendVarint(buf, s.lastSeen)
		var b []byte
		if b, err = p.hst.MarshalState(s.state); err != nil {
			err = fmt.Errorf("series %q: tree state: %w", s.key, err)
			return
		}
		buf = binary.AppendUvarint(buf, uint64(len(b)))
		buf = append(buf, b...)
		for i, imp := range s.imputers {
			if imp == nil {
				buf = append(buf, 0)
				continue
			}
			if b, err = imp.MarshalBinary(); err != nil {
				err = fmt.Errorf("series %q: imputer for %q: %w", s.key, p.Fields[i], err)
				return
			}
			buf = append(buf, 1)
			buf = binary.AppendUvarint(buf, uint64(len(b)))
			buf = append(buf, b...)
		}
	})
	if err != nil {
		return nil, err
	}
	return binary.LittleEndian.AppendUint32(buf, crc32.Checksum(buf, crcTable)), nil
}

// stateReader walks an encoded state, remembering the first error.
type stateReader struct {
	b   []byte
	err error
}

func (r *stateReader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.err = errors.New("truncated length")
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *stateReader) varint() int64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.err = errors.New("truncated number")
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *stateReader) bytes(n uint64) []byte {
	if r.err != nil {
		return nil
	}
	if n > uint64(len(r.b)) {
		r.err = fmt.Errorf("record of %d bytes runs past the end", n)
		return nil
	}
	v := r.b[:n:n]
	r.b = r.b[n:]
	return v
}

func (r *stateReader) byte() byte {
	b := r.bytes(1)
	if b == nil {
		return 0
	}
	return b[0]
}

// decodeState parses b into series, newest first. Errors wrapping errIncompatible mean "intact but for
// another configuration"; any other error means the file is damaged.
func (p *Anomaly) decodeState(b []byte) (_ []*series, writtenAt int64, _ error) {
	const header = len(stateMagic) + 2 + 8 + 8
	if len(b) < header+4 || string(b[:len(stateMagic)]) != stateMagic {
		return nil, 0, errors.New("not an anomaly state file (bad header)")
	}
	body, sum := b[:len(b)-4], binary.LittleEndian.Uint32(b[len(b)-4:])
	if crc32.Checksum(body, crcTable) != sum {
		return nil, 0, errors.New("checksum mismatch")
	}
	if v := binary.LittleEndian.Uint16(b[len(stateMagic):]); v != stateVersion {
		return nil, 0, fmt.Errorf("%w: state format version %d, this build reads %d", errIncompatible, v, stateVersion)
	}
	if fp := binary.LittleEndian.Uint64(b[len(stateMagic)+2:]); fp != p.stateFP {
		return nil, 0, fmt.Errorf("%w: written for another configuration of fields, limits, trees, height, window_size, seed, impute or key_tags", errIncompatible)
	}
	writtenAt = int64(binary.LittleEndian.Uint64(b[len(stateMagic)+2+8:]))
	r := &stateReader{b: body[header:]}
	n := r.uvarint()
	if r.err == nil && n > uint64(len(r.b)) { // each series takes several bytes; guards the allocation
		r.err = fmt.Errorf("claims %d series in %d bytes", n, len(r.b))
	}
	out := make([]*series, 0, min(n, 1<<20))
	for i := uint64(0); i < n && r.err == nil; i++ {
		s := &series{imputers: make([]imputer, len(p.Fields))}
		s.key = string(r.bytes(r.uvarint()))
		s.lastSeen = r.varint()
		treeState := r.bytes(r.uvarint())
		if r.err != nil {
			break
		}
		st, err := p.hst.UnmarshalState(treeState)
		if err != nil {
			return nil, 0, fmt.Errorf("series %d (%q): tree state: %w", i, s.key, err)
		}
		s.state = st
		for f := range p.Fields {
			switch r.byte() {
			case 0:
				if p.settings.imputers[f] != "none" {
					r.err = fmt.Errorf("series %q: imputer for %q missing", s.key, p.Fields[f])
				}
			case 1:
				data := r.bytes(r.uvarint())
				if r.err != nil {
					break
				}
				imp, err := newImputer(p.settings.imputers[f], p.EWMAAlpha)
				if err != nil || imp == nil {
					r.err = fmt.Errorf("series %q: unexpected imputer for %q", s.key, p.Fields[f])
					break
				}
				if err := imp.UnmarshalBinary(data); err != nil {
					r.err = fmt.Errorf("series %q: imputer for %q: %w", s.key, p.Fields[f], err)
					break
				}
				s.imputers[f] = imp
			default:
				if r.err == nil {
					r.err = fmt.Errorf("series %q: bad imputer marker", s.key)
				}
			}
		}
		out = append(out, s)
	}
	if r.err != nil {
		return nil, 0, r.err
	}
	if len(r.b) != 0 {
		return nil, 0, fmt.Errorf("%d unexpected bytes after the last series", len(r.b))
	}
	if len(p.KeyTags) == 0 && (len(out) > 1 || len(out) == 1 && out[0].key != "") {
		return nil, 0, errors.New("global model state holds keyed series")
	}
	return out, writtenAt, nil
}

// loadState reads state_file into the (empty) models. It never fails Start: a missing file starts
// fresh, an incompatible one starts fresh with a warning, a damaged one is moved aside with an error.
// Caller holds p.mu.
func (p *Anomaly) loadState() {
	b, err := os.ReadFile(p.StateFile)
	if errors.Is(err, os.ErrNotExist) {
		p.Log.Infof("no state file %s yet: starting with fresh models", p.StateFile)
		return
	}
	if err != nil {
		p.Log.Errorf("reading state file: %v; starting with fresh models", err)
		return
	}
	loaded, writtenAt, err := p.decodeState(b)
	if errors.Is(err, errIncompatible) {
		p.Log.Warnf("state file %s: %v; starting with fresh models (the file is replaced at the next state write)", p.StateFile, err)
		return
	}
	if err != nil {
		aside := p.StateFile + ".corrupt-" + p.now().UTC().Format("20060102T150405.000Z")
		if rerr := os.Rename(p.StateFile, aside); rerr != nil {
			p.Log.Errorf("state file %s is corrupt (%v) and could not be moved aside: %v; starting with fresh models", p.StateFile, err, rerr)
			return
		}
		p.Log.Errorf("state file %s is corrupt (%v); moved it to %s and starting with fresh models", p.StateFile, err, aside)
		return
	}
	// The time the processor was down does not count towards series_ttl.
	if downtime := p.now().UnixNano() - writtenAt; downtime > 0 {
		for _, s := range loaded {
			s.lastSeen += downtime
		}
	}
	if len(p.KeyTags) == 0 {
		if len(loaded) == 1 {
			p.table.global = loaded[0]
		}
	} else {
		dropped := 0
		for _, s := range loaded {
			if p.table.len() >= p.MaxSeries {
				dropped++
				continue
			}
			p.table.append(s)
		}
		if dropped > 0 {
			p.Log.Infof("state file holds %d series, more than max_series = %d: kept the %d most recently seen", len(loaded), p.MaxSeries, p.MaxSeries)
		}
	}
	p.Log.Debugf("loaded %d series from %s", len(loaded), p.StateFile)
}

// SaveState writes the models to state_file now if they changed since the last write (temp file +
// rename, so a crash never leaves a half-written state). It is safe to call concurrently with Add; the
// command calls it on SIGTERM/SIGINT.
func (p *Anomaly) SaveState() error {
	if p.StateFile == "" {
		return nil
	}
	// One writer at a time, start to finish: a save on a signal must wait for a save in progress
	// rather than find nothing dirty and let the process exit mid-write.
	p.saveMu.Lock()
	defer p.saveMu.Unlock()
	p.mu.Lock()
	if !p.dirty {
		p.mu.Unlock()
		return nil
	}
	data, err := p.encodeState()
	p.dirty = false
	p.mu.Unlock()
	if err == nil {
		err = writeFileAtomic(p.StateFile, data)
	}
	if err != nil {
		p.mu.Lock()
		p.dirty = true // try again at the next write
		p.mu.Unlock()
		return fmt.Errorf("state file %s: %w", p.StateFile, err)
	}
	return nil
}

// writeLoop writes the state every interval until Stop.
func (p *Anomaly) writeLoop(interval time.Duration) {
	defer close(p.writerDone)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-p.stopWriter:
			return
		case <-t.C:
			if err := p.SaveState(); err != nil {
				p.mu.Lock()
				p.limiter.log(kindStateWrite, nil, err.Error())
				p.mu.Unlock()
			}
		}
	}
}

// writeFileAtomic replaces path with data: written to a temporary file in the same directory, synced,
// then renamed over path.
func writeFileAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, tempPattern(path))
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	if d, err := os.Open(dir); err == nil { // make the rename durable; best effort
		_ = d.Sync()
		d.Close()
	}
	return nil
}

// tempPattern is how writeFileAtomic names its temporary files next to the state file; os.CreateTemp
// replaces the "*" with decimal digits.
func tempPattern(path string) string { return filepath.Base(path) + ".tmp-*" }

// prepareStateFile makes sure the state can be written before any metric is processed: a state_file
// that is a directory, or in a directory the process cannot create or write, would otherwise be found
// out only at the first write, minutes later, or at stop, when the models are lost. It creates the
// directory, removes our own temporaries that a kill during a write left behind, and tries a write.
func prepareStateFile(path string) error {
	if fi, err := os.Stat(path); err == nil && !fi.Mode().IsRegular() {
		return fmt.Errorf("state_file %s is not a regular file (%s)", path, fi.Mode().Type())
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("state_file %s: creating its directory: %w", path, err)
	}
	removeStaleTemps(path)
	probe, err := os.CreateTemp(dir, tempPattern(path))
	if err != nil {
		return fmt.Errorf("state_file %s: the directory is not writable: %w", path, err)
	}
	_, err = probe.Write([]byte(stateMagic))
	if cerr := probe.Close(); err == nil {
		err = cerr
	}
	os.Remove(probe.Name())
	if err != nil {
		return fmt.Errorf("state_file %s: test write failed: %w", path, err)
	}
	return nil
}

// removeStaleTemps deletes the temporaries of earlier writes of this state file that never got renamed
// (a kill -9 mid-write). Only names writeFileAtomic makes for this very file are touched: the state
// file's name, ".tmp-", then digits only. One process owns a state file, so none of them is in use.
func removeStaleTemps(path string) {
	entries, err := os.ReadDir(filepath.Dir(path))
	if err != nil {
		return
	}
	prefix := filepath.Base(path) + ".tmp-"
	for _, e := range entries {
		name := e.Name()
		suffix, ok := strings.CutPrefix(name, prefix)
		if !ok || suffix == "" || strings.Trim(suffix, "0123456789") != "" || !e.Type().IsRegular() {
			continue
		}
		os.Remove(filepath.Join(filepath.Dir(path), name))
	}
}
