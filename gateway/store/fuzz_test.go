package store

import (
	"bytes"
	"math"
	"testing"
)

// The journal and series log are read back from disk at every start: their
// decoders must reject anything malformed without panicking, and what they
// accept must encode back to the same bytes.
func FuzzDecodeRecord(f *testing.F) {
	f.Add(appendRecord(nil, base, []row{{ts: base, val: 21.53, sid: 0}, {ts: base, val: -3e-9, sid: 7}, {ts: base, val: math.MaxFloat64, sid: 1 << 20}}))
	f.Add(appendSeries(nil, 3, seriesKey{"env.t", "greenhouse-1", "sensors/greenhouse-1/env"}))
	f.Add([]byte{0, 1, 0, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		if ts, rows, err := decodeRecord(b, nil); err == nil {
			if again := appendRecord(nil, ts, rows); !bytes.Equal(again, b) {
				// a value may have more than one encoding; its decoding must agree
				_, rows2, err := decodeRecord(again, nil)
				if err != nil || len(rows2) != len(rows) {
					t.Fatalf("re-encoding %x gives %x: %v", b, again, err)
				}
				for i := range rows {
					if rows[i] != rows2[i] && !(math.IsNaN(rows[i].val) && math.IsNaN(rows2[i].val)) {
						t.Fatalf("row %d: %+v then %+v", i, rows[i], rows2[i])
					}
				}
			}
		}
		if id, k, err := decodeSeries(b); err == nil {
			if again := appendSeries(nil, id, k); !bytes.Equal(again, b) {
				_, k2, err := decodeSeries(again)
				if err != nil || k2 != k {
					t.Fatalf("series %x: %+v then %+v", b, k, k2)
				}
			}
		}
	})
}

// Every float64 survives the journal's value encoding bit for bit.
func TestValueEncoding(t *testing.T) {
	for _, v := range []float64{0, math.Copysign(0, -1), 1, -1, 21.53, 1013.25, 3.999, 0.1, 1e-300, -1e300, math.MaxFloat64,
		math.SmallestNonzeroFloat64, 1 << 53, 1<<53 + 2, 123456789.123, math.Inf(1), math.Pi} {
		b := appendRecord(nil, 1, []row{{ts: 1, val: v}})
		_, rows, err := decodeRecord(b, nil)
		if err != nil || math.Float64bits(rows[0].val) != math.Float64bits(v) {
			t.Errorf("%v: got %v (%v), %d bytes", v, rows, err, len(b))
		}
	}
	if b := appendRecord(nil, base, []row{{ts: base, val: 21.53}}); len(b) > 12 {
		t.Errorf("21.53 takes %d bytes", len(b))
	}
}
