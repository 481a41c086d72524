package payload

import (
	"errors"
	"fmt"
	"testing"
)

func TestDecodeBatch(t *testing.T) {
	good := `{"gateway":"gw1","bucket":"env","batch":"gw1/env/1:0","from":"1:0","to":"1:40","count":2,"points":3,"records":[
{"ts":1714564800000,"device":"d1","temp":21.5,"hum":40},
{"ts":1714564860000,"device":"d2","temp":21.6}
]}`
	if !IsBatch([]byte(good)) {
		t.Fatal("IsBatch false for a batch")
	}
	b, err := DecodeBatch([]byte(good), Options{})
	if err != nil {
		t.Fatal(err)
	}
	got := fmt.Sprint(b.Gateway, b.Bucket, b.ID, len(b.Records))
	for _, r := range b.Records {
		got += fmt.Sprint(" ", r.Time.UnixMilli(), r.Device, r.Fields)
	}
	want := "gw1envgw1/env/1:02 1714564800000gw1/d1[{hum 40} {temp 21.5}] 1714564860000gw1/d2[{temp 21.6}]"
	if got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	for _, tc := range []struct{ name, body, want string }{
		{"not json", `{"gateway":"g","records":[`, "not JSON"},
		{"no id", `{"gateway":"g","count":0,"records":[]}`, "without gateway or batch id"},
		{"count", `{"gateway":"g","batch":"b","count":3,"records":[]}`, "says 3 records, holds 0"},
		{"ts", `{"gateway":"g","batch":"b","count":1,"records":[{"ts":"x","device":"d","v":1}]}`, "ts is not a number"},
		{"device", `{"gateway":"g","batch":"b","count":1,"records":[{"ts":1,"v":1}]}`, "records[0]: not JSON: no device"},
		{"value", `{"gateway":"g","batch":"b","count":1,"records":[{"ts":1,"device":"d","v":"x"}]}`, "v is not a number"},
		{"range", `{"gateway":"g","batch":"b","count":1,"records":[{"ts":1,"device":"d","v":1e999}]}`, "out of range"},
	} {
		_, err := DecodeBatch([]byte(tc.body), Options{})
		if !errors.Is(err, ErrInvalid) || !contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want %q", tc.name, err, tc.want)
		}
	}
	if IsBatch([]byte(`{"temp":21}`)) {
		t.Error("IsBatch true for a reading")
	}
}

func contains(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}

// FuzzDecodeBatch: any input decodes or fails cleanly, within the limits.
func FuzzDecodeBatch(f *testing.F) {
	f.Add([]byte(`{"gateway":"gw1","bucket":"env","batch":"gw1/env/1:0","count":1,"records":[{"ts":1,"device":"d1","t":21.5}]}`))
	f.Add([]byte(`{"gateway":"g","batch":"b","count":0,"records":[]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		b, err := DecodeBatch(data, Options{MaxFields: 8})
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v does not wrap ErrInvalid", err)
			}
			return
		}
		for _, r := range b.Records {
			if len(r.Fields) == 0 || len(r.Fields) > 8 {
				t.Fatalf("record with %d fields", len(r.Fields))
			}
		}
	})
}
