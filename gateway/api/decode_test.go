package api

import (
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
)

// FuzzDecode feeds arbitrary request bodies to the strict JSON decoder the
// API uses for every body: it never panics, and every refusal is a 4xx
// *Error with a message.
func FuzzDecode(f *testing.F) {
	for _, seed := range []string{
		`{"id":"a"}`, `{"id":"a","acl":{"publish":["#"],"subscribe":[]}}`, `{"id":`, ``, `[]`, `null`,
		`{"id":"a","colour":"red"}`, `{"enabled":"yes"}`, `{"id":"a"} {}`, `{"id":"\u0000"}`,
		strings.Repeat(`{"a":`, 100),
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, body string) {
		r := httptest.NewRequest("POST", "/api/v1/devices", strings.NewReader(body))
		var req createDeviceRequest
		err := decode(r, &req)
		if err == nil {
			return
		}
		var e *Error
		if !errors.As(err, &e) {
			t.Fatalf("decode(%q): %v is not an *Error", body, err)
		}
		if e.Status < 400 || e.Status > 499 || e.Message == "" || e.Code == "" {
			t.Fatalf("decode(%q): %+v", body, e)
		}
	})
}

func TestDecodeErrors(t *testing.T) {
	for _, tc := range []struct {
		body, code, field string
	}{
		{`{"id":"a","colour":"red"}`, "unknown_field", "colour"},
		{`{"enabled":"yes"}`, "bad_type", "enabled"},
		{`{"id":"a"} {}`, "bad_json", ""},
		{``, "bad_json", ""},
		{`{"id":`, "bad_json", ""},
		{`{"acl":{"publish":"#"}}`, "bad_type", "acl.publish"},
	} {
		r := httptest.NewRequest("POST", "/", strings.NewReader(tc.body))
		var req createDeviceRequest
		var e *Error
		if err := decode(r, &req); !errors.As(err, &e) || e.Code != tc.code || e.Field != tc.field {
			t.Errorf("decode(%q) = %+v, want code %s field %q", tc.body, err, tc.code, tc.field)
		}
	}
}
