package export_test

import (
	"math"
	"os"

	"github.com/perch-gw/perch/gateway/export"
)

func Example() {
	w, err := export.New(os.Stdout, export.Options{Format: "csv", TSFormat: "iso"})
	if err != nil {
		panic(err)
	}
	if err := w.Begin([]string{"temp", "hum, %"}); err != nil {
		panic(err)
	}
	rec := export.Record{Values: make([]float64, 2)} // reused: Write keeps nothing
	for _, p := range []struct {
		ts   int64
		dev  string
		t, h float64
	}{
		{1714564800000, "d1", 21.5, 40},
		{1714564800250, "d2", 19.75, math.NaN()},
	} {
		rec.Time, rec.Device = p.ts, p.dev
		rec.Values[0], rec.Values[1] = p.t, p.h
		if err := w.Write(&rec); err != nil {
			panic(err)
		}
	}
	if err := w.End(); err != nil {
		panic(err)
	}
	// Output:
	// ts,device,temp,"hum, %"
	// 2024-05-01T12:00:00.000Z,d1,21.5,40
	// 2024-05-01T12:00:00.250Z,d2,19.75,
}
