package store

import (
	"encoding/binary"
	"errors"
	"math"
)

// A journal record is one accepted message: its timestamp and, for each
// field, the series it belongs to and the value. Sensor values are usually
// short decimals (21.53, 1013.2, 87), so a value is stored as a decimal
// mantissa and scale when that round-trips exactly (2-4 bytes instead of 8):
// the journal is written for every point and SD cards wear by the byte.
//
//	uvarint ts (ms) | uvarint n | n × (uvarint series | scale byte | value)
//
// scale 0..maxScale: value = zigzag-varint mantissa / 10^scale;
// scale rawScale: 8 bytes little-endian IEEE 754.
const (
	maxScale = 9
	rawScale = 0xff
)

var pow10 = [maxScale + 1]float64{1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9}

var errRecord = errors.New("malformed journal record")

// row is one point: a series, a timestamp in ms and a value.
type row struct {
	ts  int64
	val float64
	sid uint32
}

// appendRecord encodes rows that share rows[0].ts.
func appendRecord(b []byte, ts int64, rows []row) []byte {
	b = binary.AppendUvarint(b, uint64(ts))
	b = binary.AppendUvarint(b, uint64(len(rows)))
	for _, r := range rows {
		b = binary.AppendUvarint(b, uint64(r.sid))
		b = appendValue(b, r.val)
	}
	return b
}

func appendValue(b []byte, v float64) []byte {
	if v == 0 && !math.Signbit(v) {
		return append(b, 0, 0)
	}
	for k := 0; k <= maxScale; k++ {
		m := math.Round(v * pow10[k])
		if math.Abs(m) >= 1<<53 {
			break
		}
		if m/pow10[k] == v && (m != 0 || !math.Signbit(v)) {
			b = append(b, byte(k))
			return binary.AppendVarint(b, int64(m))
		}
	}
	b = append(b, rawScale)
	return binary.LittleEndian.AppendUint64(b, math.Float64bits(v))
}

// decodeRecord decodes a record into dst (reset), returning the timestamp.
func decodeRecord(b []byte, dst []row) (int64, []row, error) {
	dst = dst[:0]
	ts, n := binary.Uvarint(b)
	if n <= 0 || ts > math.MaxInt64 {
		return 0, dst, errRecord
	}
	b = b[n:]
	cnt, n := binary.Uvarint(b)
	if n <= 0 || cnt == 0 || cnt > uint64(len(b)) {
		return 0, dst, errRecord
	}
	b = b[n:]
	for i := uint64(0); i < cnt; i++ {
		sid, n := binary.Uvarint(b)
		if n <= 0 || sid > math.MaxUint32 || len(b) < n+1 {
			return 0, dst, errRecord
		}
		scale := b[n]
		b = b[n+1:]
		var v float64
		switch {
		case scale == rawScale:
			if len(b) < 8 {
				return 0, dst, errRecord
			}
			v = math.Float64frombits(binary.LittleEndian.Uint64(b))
			b = b[8:]
		case scale <= maxScale:
			m, n := binary.Varint(b)
			if n <= 0 {
				return 0, dst, errRecord
			}
			b = b[n:]
			v = float64(m) / pow10[scale]
		default:
			return 0, dst, errRecord
		}
		dst = append(dst, row{ts: int64(ts), val: v, sid: uint32(sid)})
	}
	if len(b) != 0 {
		return 0, dst, errRecord
	}
	return int64(ts), dst, nil
}

// appendSeries encodes a series definition for the series log.
func appendSeries(b []byte, id uint32, k seriesKey) []byte {
	b = binary.AppendUvarint(b, uint64(id))
	for _, s := range [...]string{k.field, k.device, k.topic} {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	return b
}

func decodeSeries(b []byte) (uint32, seriesKey, error) {
	id, n := binary.Uvarint(b)
	if n <= 0 || id > math.MaxUint32 {
		return 0, seriesKey{}, errRecord
	}
	b = b[n:]
	var parts [3]string
	for i := range parts {
		l, n := binary.Uvarint(b)
		if n <= 0 || l > uint64(len(b)-n) {
			return 0, seriesKey{}, errRecord
		}
		parts[i] = string(b[n : n+int(l)])
		b = b[n+int(l):]
	}
	if len(b) != 0 {
		return 0, seriesKey{}, errRecord
	}
	return uint32(id), seriesKey{field: parts[0], device: parts[1], topic: parts[2]}, nil
}
