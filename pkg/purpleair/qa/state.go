package qa

import (
	"bytes"
	"encoding/binary"
	"encoding/gob"
	"errors"
	"fmt"
	"hash/crc32"
	"slices"
)

// A saved Detector, version 1:
//
//	"HWQA" | version u8 = 1 | learned model's fingerprint u64 | gob of []savedSensor |
//	CRC-32 (IEEE) of everything before, u32
//
// The learned model's fingerprint covers WindowSize (the trees are fixed); the other options do not
// change what is learned, so a state loads under another threshold, correction or neighbour count.
const (
	stateMagic   = "HWQA"
	stateVersion = 1
)

// Errors UnmarshalBinary wraps; test with errors.Is.
var (
	ErrStateCorrupt = errors.New("qa: saved state is corrupt")
	ErrStateVersion = errors.New("qa: saved state has an unsupported version")
	ErrStateOptions = errors.New("qa: saved state was made with another window_size")
)

type savedSensor struct {
	Key   string
	State sensorState
	HST   []byte
}

// MarshalBinary saves every sensor's state, in key order (the same detector saves to the same
// bytes).
func (d *Detector) MarshalBinary() ([]byte, error) {
	keys := make([]string, 0, len(d.sensors))
	for k := range d.sensors {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	saved := make([]savedSensor, len(keys))
	for i, k := range keys {
		s := d.sensors[k]
		h, err := d.hst.MarshalState(s.hst)
		if err != nil {
			return nil, fmt.Errorf("qa: sensor %q: %w", k, err)
		}
		saved[i] = savedSensor{Key: k, State: s.sensorState, HST: h}
	}
	var b bytes.Buffer
	b.WriteString(stateMagic)
	b.WriteByte(stateVersion)
	b.Write(binary.LittleEndian.AppendUint64(nil, d.hst.Fingerprint()))
	if err := gob.NewEncoder(&b).Encode(saved); err != nil {
		return nil, fmt.Errorf("qa: saving state: %w", err)
	}
	return binary.LittleEndian.AppendUint32(b.Bytes(), crc32.ChecksumIEEE(b.Bytes())), nil
}

// UnmarshalBinary replaces the detector's sensors with the saved ones; on error it keeps what it
// had.
func (d *Detector) UnmarshalBinary(b []byte) error {
	head := len(stateMagic) + 1 + 8
	if len(b) < head+4 || string(b[:len(stateMagic)]) != stateMagic {
		return fmt.Errorf("%w: not a saved detector", ErrStateCorrupt)
	}
	body, sum := b[:len(b)-4], binary.LittleEndian.Uint32(b[len(b)-4:])
	if crc32.ChecksumIEEE(body) != sum {
		return fmt.Errorf("%w: checksum mismatch", ErrStateCorrupt)
	}
	if v := b[len(stateMagic)]; v != stateVersion {
		return fmt.Errorf("%w: version %d", ErrStateVersion, v)
	}
	if fp := binary.LittleEndian.Uint64(b[len(stateMagic)+1:]); fp != d.hst.Fingerprint() {
		return ErrStateOptions
	}
	var saved []savedSensor
	if err := gob.NewDecoder(bytes.NewReader(body[head:])).Decode(&saved); err != nil {
		return fmt.Errorf("%w: %v", ErrStateCorrupt, err)
	}
	sensors := make(map[string]*sensor, len(saved))
	for _, sv := range saved {
		h, err := d.hst.UnmarshalState(sv.HST)
		if err != nil {
			return fmt.Errorf("%w: sensor %q: %v", ErrStateCorrupt, sv.Key, err)
		}
		if _, dup := sensors[sv.Key]; dup {
			return fmt.Errorf("%w: sensor %q saved twice", ErrStateCorrupt, sv.Key)
		}
		sensors[sv.Key] = &sensor{sensorState: sv.State, key: sv.Key, hst: h}
	}
	d.sensors, d.placed, d.high = sensors, nil, 0
	for _, sv := range saved { // in key order: neighbour lists come out the same every load
		s := sensors[sv.Key]
		if s.AirHigh {
			d.high++
		}
		if s.Placed {
			d.place(s, s.Lat, s.Lon)
		}
	}
	return nil
}
