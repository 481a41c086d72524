package payload

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// tenFields is a typical sensor message: ten numeric fields, two of them
// nested, a boolean, a string and a Thinger-style ts.
const tenFields = `{"ts":1717243200123,"temperature":21.53,"humidity":48.2,"pressure":1013.25,` +
	`"battery":{"voltage":3.71,"percent":87},"rssi":-67,"uptime":123456,"light":312.5,"motion":false,"fw":"1.4.2"}`

func BenchmarkDecode(b *testing.B) {
	received := time.Date(2024, 6, 1, 12, 0, 0, 0, time.UTC)
	cases := []struct{ name, payload string }{
		{"10fields", tenFields},
		{"flat10", `{"a":1,"b":2,"c":3,"d":4,"e":5,"f":6,"g":7,"h":8,"i":9,"j":10}`},
		{"bare", `21.5`},
	}
	for _, tc := range cases {
		data := []byte(tc.payload)
		b.Run("Decoder/"+tc.name, func(b *testing.B) {
			d, err := NewDecoder(Options{})
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := d.Decode(data, received); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
		})
		b.Run("Decode/"+tc.name, func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Decode(data, received, Options{}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
		})
	}
}

// BenchmarkDecodeHostile decodes payloads of the largest size allowed,
// shaped to make a decoder work hard: each should cost about what reading
// 64 KiB costs, nothing quadratic.
func BenchmarkDecodeHostile(b *testing.B) {
	received := time.Date(2024, 6, 1, 12, 0, 0, 0, time.UTC)
	fill := func(head, item, sep, tail string) []byte {
		var s []byte
		s = append(s, head...)
		for i := 0; ; i++ {
			next := item
			if strings.Contains(item, "%") {
				next = fmt.Sprintf(item, i)
			}
			if len(s)+len(sep)+len(next)+len(tail) > DefaultMaxBytes {
				break
			}
			if i > 0 {
				s = append(s, sep...)
			}
			s = append(s, next...)
		}
		return append(s, tail...)
	}
	cases := []struct {
		name string
		data []byte
	}{
		{"string keys", fill(`{"v":1,`, `"k%d":""`, ",", "}")},
		{"long keys", fill(`{"v":1,`, `"%0120d":null`, ",", "}")},
		{"empty arrays", fill(`{"v":1,"a":[`, `[]`, ",", "]}")},
		{"escaped strings", fill(`{"v":1,"s":[`, `"\u00e9\n%d"`, ",", "]}")},
		{"256 long fields", fill(`{`, `"`+strings.Repeat("x", 100)+`%d":1.5`, ",", "}")[:0]},
	}
	var many []byte
	many = append(many, '{')
	for i := range 256 {
		if i > 0 {
			many = append(many, ',')
		}
		many = append(many, fmt.Sprintf(`"%0120d":%d.5`, i, i)...)
	}
	cases[4].data = append(many, '}')
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			d, err := NewDecoder(Options{})
			if err != nil {
				b.Fatal(err)
			}
			if _, err := d.Decode(tc.data, received); err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(tc.data)))
			b.ReportAllocs()
			for b.Loop() {
				d.Decode(tc.data, received)
			}
		})
	}
}
