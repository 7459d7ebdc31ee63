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

	"github.com/hazewatch/hazewatch/pkg/impute"
	"github.com/hazewatch/hazewatch/pkg/purpleair/qa"
)

// State layout (all integers little endian, lengths as unsigned varints), the same in state_file and in
// Telegraf's own statefile (where GetState's bytes are stored base64-encoded in Telegraf's JSON):
//
//	magic "HZANOMST" | version uint16 | config fingerprint uint64 | written at (Unix ns) uint64 |
//	flow byte (version 2 on: 0 = Half-Space Trees, 1 = preset "purpleair") | series count
//	Half-Space Trees, per series, most recently seen first:
//	  key length, key | last seen (Unix ns, varint) | tree state length, tree state (pkg/anomaly's format)
//	  per field: 0 (no imputer) or 1, imputer length, imputer state
//	preset, per series, most recently seen first:
//	  key length, key | last seen (Unix ns, varint) | last metric time (Unix ns, varint) | carried fields (uvarint)
//	  then once: detector length, detector (qa's MarshalBinary: versioned and checksummed itself)
//	CRC-32C of everything before it, uint32
//
// Version 1 (written before the preset could be saved) has no flow byte and is read as Half-Space
// Trees. The fingerprint covers every option the saved models depend on (tree options, fields,
// imputers, key_tags; with the preset, window_size and key_tags); a state with another fingerprint is
// incompatible, not corrupt. The time of writing lets a load leave the downtime out of series_ttl (a
// restart after a long stop does not forget every series), and tells which of state_file and
// Telegraf's statefile is the newer when both are set.
const (
	stateMagic   = "HZANOMST"
	stateVersion = 2
)

// flows, as the state's flow byte.
const (
	flowTrees  = 0
	flowPreset = 1
)

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// errIncompatible marks a state that is intact but was written for another configuration.
var errIncompatible = errors.New("incompatible state")

// stateFingerprint hashes the configuration a saved state is only valid for.
func (p *Anomaly) stateFingerprint() uint64 {
	h := fnv.New64a()
	var b [8]byte
	if p.qa != nil {
		// The detector's learned model depends on window_size only (qa checks it again on load);
		// threshold and epa_correction change what is reported, not what is kept.
		h.Write([]byte("preset\x00" + PresetPurpleAir + "\x00"))
		binary.LittleEndian.PutUint64(b[:], uint64(p.qa.Options().WindowSize))
		h.Write(b[:])
		h.Write([]byte(strings.Join(p.KeyTags, "\x00")))
		return h.Sum64()
	}
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
	if p.qa != nil {
		return p.encodePreset(buf)
	}
	buf = append(buf, flowTrees)
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

// encodePreset appends the preset's series and its detector to the header in buf.
func (p *Anomaly) encodePreset(buf []byte) ([]byte, error) {
	buf = append(buf, flowPreset)
	buf = binary.AppendUvarint(buf, uint64(p.table.len()))
	p.table.each(func(s *series) {
		buf = binary.AppendUvarint(buf, uint64(len(s.key)))
		buf = append(buf, s.key...)
		buf = binary.AppendVarint(buf, s.lastSeen)
		buf = binary.AppendVarint(buf, s.lastTime)
		buf = binary.AppendUvarint(buf, uint64(s.carried))
	})
	det, err := p.qa.MarshalBinary()
	if err != nil {
		return nil, fmt.Errorf("preset detector: %w", err)
	}
	buf = binary.AppendUvarint(buf, uint64(len(det)))
	buf = append(buf, det...)
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

// savedState is a decoded state, ready to install.
type savedState struct {
	series    []*series // newest first
	writtenAt int64     // Unix ns
	detector  *qa.Detector
}

// decodeState parses b. Errors wrapping errIncompatible mean "intact but for another configuration";
// any other error means the state is damaged. Nothing of p changes.
func (p *Anomaly) decodeState(b []byte) (*savedState, error) {
	const header = len(stateMagic) + 2 + 8 + 8
	if len(b) < header+4 || string(b[:len(stateMagic)]) != stateMagic {
		return nil, errors.New("not an anomaly state file (bad header)")
	}
	body, sum := b[:len(b)-4], binary.LittleEndian.Uint32(b[len(b)-4:])
	if crc32.Checksum(body, crcTable) != sum {
		return nil, errors.New("checksum mismatch")
	}
	version := binary.LittleEndian.Uint16(b[len(stateMagic):])
	if version != 1 && version != stateVersion {
		return nil, fmt.Errorf("%w: state format version %d, this build reads 1 and %d", errIncompatible, version, stateVersion)
	}
	if fp := binary.LittleEndian.Uint64(b[len(stateMagic)+2:]); fp != p.stateFP {
		if p.qa != nil {
			return nil, fmt.Errorf("%w: written for another configuration (another preset or none, window_size or key_tags)", errIncompatible)
		}
		return nil, fmt.Errorf("%w: written for another configuration of fields, limits, trees, height, window_size, seed, impute or key_tags", errIncompatible)
	}
	st := &savedState{writtenAt: int64(binary.LittleEndian.Uint64(b[len(stateMagic)+2+8:]))}
	r := &stateReader{b: body[header:]}
	flow := byte(flowTrees)
	if version >= 2 {
		flow = r.byte()
	}
	if r.err != nil {
		return nil, r.err
	}
	wantFlow := byte(flowTrees)
	if p.qa != nil {
		wantFlow = flowPreset
	}
	if flow != wantFlow {
		// The fingerprints of the two flows differ, so an intact state cannot get here.
		return nil, fmt.Errorf("flow %d where the fingerprint says %d", flow, wantFlow)
	}
	var err error
	if flow == flowPreset {
		err = p.decodePreset(r, st)
	} else {
		err = p.decodeTrees(r, st)
	}
	if err != nil {
		return nil, err
	}
	return st, nil
}

// decodeTrees reads the Half-Space Trees flow's series into st.
func (p *Anomaly) decodeTrees(r *stateReader, st *savedState) error {
	n := r.uvarint()
	if r.err == nil && n > uint64(len(r.b)) { // each series takes several bytes; guards the allocation
		r.err = fmt.Errorf("claims %d series in %d bytes", n, len(r.b))
	}
	out := make([]*series, 0, min(n, 1<<20))
	for i := uint64(0); i < n && r.err == nil; i++ {
		s := &series{imputers: make(impute.Record, len(p.Fields))}
		s.key = string(r.bytes(r.uvarint()))
		s.lastSeen = r.varint()
		treeState := r.bytes(r.uvarint())
		if r.err != nil {
			break
		}
		hs, err := p.hst.UnmarshalState(treeState)
		if err != nil {
			return fmt.Errorf("series %d (%q): tree state: %w", i, s.key, err)
		}
		s.state = hs
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
				imp, err := impute.NewStreaming(p.settings.imputers[f], p.EWMAAlpha)
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
		return r.err
	}
	if len(r.b) != 0 {
		return fmt.Errorf("%d unexpected bytes after the last series", len(r.b))
	}
	if len(p.KeyTags) == 0 && (len(out) > 1 || len(out) == 1 && out[0].key != "") {
		return errors.New("global model state holds keyed series")
	}
	st.series = out
	return nil
}

// decodePreset reads the preset's series and detector into st.
func (p *Anomaly) decodePreset(r *stateReader, st *savedState) error {
	n := r.uvarint()
	if r.err == nil && n > uint64(len(r.b)) {
		r.err = fmt.Errorf("claims %d series in %d bytes", n, len(r.b))
	}
	out := make([]*series, 0, min(n, 1<<20))
	seen := make(map[string]bool, min(n, 1<<20))
	for i := uint64(0); i < n && r.err == nil; i++ {
		s := &series{}
		s.key = string(r.bytes(r.uvarint()))
		s.lastSeen = r.varint()
		s.lastTime = r.varint()
		s.carried = qa.Fields(r.uvarint())
		if r.err == nil && seen[s.key] {
			r.err = fmt.Errorf("series %q saved twice", s.key)
		}
		seen[s.key] = true
		out = append(out, s)
	}
	blob := r.bytes(r.uvarint())
	if r.err != nil {
		return r.err
	}
	if len(r.b) != 0 {
		return fmt.Errorf("%d unexpected bytes after the detector", len(r.b))
	}
	d, err := qa.New(p.settings.qaOptions)
	if err != nil {
		return err // validated in Init
	}
	if err := d.UnmarshalBinary(blob); err != nil {
		if errors.Is(err, qa.ErrStateVersion) || errors.Is(err, qa.ErrStateOptions) {
			return fmt.Errorf("%w: preset detector: %v", errIncompatible, err)
		}
		return fmt.Errorf("preset detector: %w", err)
	}
	st.series, st.detector = out, d
	return nil
}

// install replaces the models with st's. Caller holds p.mu.
func (p *Anomaly) install(st *savedState) {
	p.table.init(p.MaxSeries)
	if st.detector != nil {
		p.qa = st.detector
	}
	// The time the processor was down does not count towards series_ttl.
	if downtime := p.now().UnixNano() - st.writtenAt; downtime > 0 {
		for _, s := range st.series {
			s.lastSeen += downtime
		}
	}
	if len(p.KeyTags) == 0 {
		if len(st.series) == 1 {
			p.table.global = st.series[0]
		}
	} else {
		dropped := 0
		for _, s := range st.series {
			if p.table.len() >= p.MaxSeries {
				dropped++
				p.forget(s)
				continue
			}
			p.table.append(s)
		}
		if dropped > 0 {
			p.Log.Infof("the saved state holds %d series, more than max_series = %d: kept the %d most recently seen", len(st.series), p.MaxSeries, p.MaxSeries)
		}
	}
	p.restoredAt = st.writtenAt
	p.dirty = false
}

// loadState reads state_file into the models. It never fails Start: a missing file starts fresh (or
// keeps what Telegraf's statefile restored), an incompatible one starts fresh with a warning, a
// damaged one is moved aside with an error. When SetState restored a state from Telegraf's statefile
// too, the newer of the two is kept: state_file is written every state_interval, Telegraf's statefile
// only when Telegraf stops cleanly. Caller holds p.mu.
func (p *Anomaly) loadState() {
	b, err := os.ReadFile(p.StateFile)
	if errors.Is(err, os.ErrNotExist) {
		if p.restoredAt == 0 {
			p.Log.Infof("no state file %s yet: starting with fresh models", p.StateFile)
		}
		return
	}
	if err != nil {
		p.Log.Errorf("reading state file: %v; starting with fresh models", err)
		return
	}
	st, err := p.decodeState(b)
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
	if p.restoredAt != 0 && st.writtenAt <= p.restoredAt {
		p.Log.Infof("state file %s is older than the state restored from Telegraf's statefile: kept the latter", p.StateFile)
		p.dirty = true // bring state_file up to date at the next write
		return
	}
	p.install(st)
	p.Log.Debugf("loaded %d series from %s", len(st.series), p.StateFile)
}

// GetState implements telegraf.StatefulPlugin: Telegraf's agent calls it when it stops (with statefile
// set in [agent]) and keeps the bytes in its statefile. They are the state_file format. Telegraf cannot
// take an error here: a state that cannot be encoded is logged and saved as nothing.
//
// Telegraf also registers the copy of every processor it keeps for after the aggregators, which it
// never initialises when skip_processors_after_aggregators is set: such a copy has no state.
//
// "No state" is an empty, non-nil slice: nil would be JSON null, which Telegraf's persister decodes
// into a nil interface and then panics on at the next start (persister.Load, v1.37.2).
func (p *Anomaly) GetState() any {
	if p.hst == nil && p.qa == nil {
		return []byte{}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	b, err := p.encodeState()
	if err != nil {
		p.Log.Errorf("saving the state for Telegraf's statefile: %v; the models will start afresh", err)
		return []byte{}
	}
	return b
}

// SetState implements telegraf.StatefulPlugin: Telegraf's agent calls it after Init and before Start
// with what GetState returned in the previous run. Like loadState it never stops Telegraf: an
// incompatible state starts fresh with a warning, a damaged one with an error (it cannot be moved aside:
// Telegraf's statefile holds every plugin's state, and ours is replaced when Telegraf next stops).
func (p *Anomaly) SetState(state any) error {
	b, ok := state.([]byte)
	if !ok {
		return fmt.Errorf("state of type %T, want []byte", state)
	}
	if len(b) == 0 {
		return nil
	}
	if p.hst == nil && p.qa == nil {
		// A copy Telegraf never initialised (see GetState); failing would stop Telegraf.
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	st, err := p.decodeState(b)
	if errors.Is(err, errIncompatible) {
		p.Log.Warnf("state in Telegraf's statefile: %v; starting with fresh models", err)
		return nil
	}
	if err != nil {
		p.Log.Errorf("state in Telegraf's statefile is corrupt (%v); starting with fresh models", err)
		return nil
	}
	p.install(st)
	p.Log.Debugf("restored %d series from Telegraf's statefile", len(st.series))
	return nil
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
