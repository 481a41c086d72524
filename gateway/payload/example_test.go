package payload_test

import (
	"errors"
	"fmt"
	"time"

	"github.com/perch-gw/perch/gateway/payload"
)

func ExampleDecode() {
	received := time.Date(2024, 6, 1, 12, 0, 0, 0, time.UTC)
	msg := []byte(`{"ts":1717243143512,"env":{"t":21.5,"h":40},"relay":true,"fw":"1.2","cells":[3.9,4.1]}`)
	r, err := payload.Decode(msg, received, payload.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(r.Time.Format(time.RFC3339Nano), r.FromTS, r.Skipped)
	for _, f := range r.Fields {
		fmt.Println(f.Name, f.Value)
	}
	// Output:
	// 2024-06-01T11:59:03.512Z true {1 0}
	// env.t 21.5
	// env.h 40
	// relay 1
	// cells.0 3.9
	// cells.1 4.1
}

func ExampleDecoder() {
	d, err := payload.NewDecoder(payload.Options{MaxFields: 64})
	if err != nil {
		panic(err)
	}
	received := time.Date(2024, 6, 1, 12, 0, 0, 0, time.UTC)
	for _, msg := range []string{`21.5`, `{"temp":NaN}`, `{"ts":1717243143,"v":1}`, `{"fw":"1.2"}`} {
		r, err := d.Decode([]byte(msg), received)
		var e *payload.Error
		if errors.As(err, &e) {
			// e.Reason is fit for a metric label; the message for a log.
			fmt.Printf("rejected (%s): %v\n", e.Reason, err)
			continue
		}
		fmt.Println(r.Fields)
	}
	// Output:
	// [{value 21.5}]
	// rejected (invalid number): payload: temp: invalid number: NaN is not a JSON number
	// rejected (invalid timestamp): payload: ts: invalid timestamp: 1717243143 ms is before 2000-01-01 (seconds, not milliseconds?)
	// rejected (no numeric fields): payload: no numeric fields: 1 string skipped
}
