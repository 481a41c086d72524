package export

import (
	"io"
	"strconv"
	"testing"
)

// benchRecords are sensor-like records to write over and over: ten
// devices, four fields, one value in eight missing.
func benchRecords() []Record {
	recs := make([]Record, 1000)
	for i := range recs {
		vals := []float64{20 + float64(i%50)/10, 40.5 + float64(i%7), 1013.25 - float64(i%13)*0.25, float64(i % 100)}
		if i%8 == 0 {
			vals[1] = nan
		}
		recs[i] = Record{Device: "esp32-" + strconv.Itoa(i%10), Values: vals}
	}
	return recs
}

// BenchmarkCSV writes a million records of four fields as CSV to
// io.Discard, start to end, as an export does: the product wants 500k
// rows/s end to end, so this layer must be several times faster.
func BenchmarkCSV(b *testing.B) {
	for _, tsf := range []string{"ms", "iso"} {
		b.Run(tsf, func(b *testing.B) { benchmarkExport(b, Options{Format: "csv", TSFormat: tsf}, 1_000_000) })
	}
}

// BenchmarkFormats does the same for every format, with fewer records.
func BenchmarkFormats(b *testing.B) {
	for _, format := range []string{"json", "csv", "arff"} {
		for _, tsf := range []string{"ms", "iso"} {
			b.Run(format+"_"+tsf, func(b *testing.B) { benchmarkExport(b, Options{Format: format, TSFormat: tsf}, 100_000) })
		}
	}
}

func benchmarkExport(b *testing.B, opts Options, rows int) {
	recs := benchRecords()
	fields := []string{"temperature", "humidity", "pressure", "battery"}
	var bytes countWriter
	b.ReportAllocs()
	for b.Loop() {
		w, err := New(&bytes, opts)
		if err != nil {
			b.Fatal(err)
		}
		if err := w.Begin(fields); err != nil {
			b.Fatal(err)
		}
		ts := int64(1714564800000)
		for i := range rows {
			r := &recs[i%len(recs)]
			r.Time = ts
			ts += 250 // four records a second
			if err := w.Write(r); err != nil {
				b.Fatal(err)
			}
		}
		if err := w.End(); err != nil {
			b.Fatal(err)
		}
	}
	sec := b.Elapsed().Seconds()
	b.ReportMetric(float64(b.N*rows)/sec, "rows/s")
	b.ReportMetric(float64(bytes.n)/float64(b.N*rows), "B/row")
}

var _ io.Writer = (*countWriter)(nil)
