package dashboard

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
)

// The shapes Parse decodes, one level at a time so that an error names its
// place exactly ("widgets[3].source.topik"), which encoding/json alone does
// not (it leaves out array indexes and the path of an unknown member).
type (
	rawDashboard struct {
		ID      string            `json:"id"`
		Name    string            `json:"name"`
		Widgets []json.RawMessage `json:"widgets"`
		// Read-only: accepted, so that what GET answers can be sent back
		// as it is, and ignored.
		Created json.RawMessage `json:"created"`
		Updated json.RawMessage `json:"updated"`
	}
	rawWidget struct {
		ID      string          `json:"id"`
		Type    string          `json:"type"`
		Title   string          `json:"title"`
		X       int             `json:"x"`
		Y       int             `json:"y"`
		W       int             `json:"w"`
		H       int             `json:"h"`
		Source  json.RawMessage `json:"source"`
		Options json.RawMessage `json:"options"`
	}
)

// Parse decodes a dashboard (see Decode) and validates it.
func Parse(data []byte) (Dashboard, error) {
	d, err := Decode(data)
	if err != nil {
		return Dashboard{}, err
	}
	if err := d.Validate(); err != nil {
		return Dashboard{}, err
	}
	return d, nil
}

// Decode decodes a dashboard strictly (a member it does not know is an
// error, not ignored) without validating it. Errors name the field at
// fault as a *FieldError wrapping ErrUnknownField or ErrType; input that
// is not one JSON value gives an error wrapping ErrSyntax. Created and
// Updated, if present, are ignored: the store sets them.
func Decode(data []byte) (Dashboard, error) {
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 {
		return Dashboard{}, fmt.Errorf("%w: empty; expected a JSON object", ErrSyntax)
	}
	if !json.Valid(trimmed) {
		// Say where, as the decoder does.
		var v any
		err := json.Unmarshal(trimmed, &v)
		var syn *json.SyntaxError
		if errors.As(err, &syn) {
			return Dashboard{}, fmt.Errorf("%w at byte %d: %v", ErrSyntax, syn.Offset, syn)
		}
		return Dashboard{}, fmt.Errorf("%w: %v", ErrSyntax, err)
	}
	var rd rawDashboard
	if err := strict(trimmed, &rd, ""); err != nil {
		return Dashboard{}, err
	}
	d := Dashboard{ID: rd.ID, Name: rd.Name}
	if rd.Widgets != nil {
		d.Widgets = make([]Widget, len(rd.Widgets))
	}
	for i, raw := range rd.Widgets {
		p := fmt.Sprintf("widgets[%d]", i)
		var rw rawWidget
		if err := strict(raw, &rw, p); err != nil {
			return Dashboard{}, err
		}
		w := Widget{ID: rw.ID, Type: rw.Type, Title: rw.Title, X: rw.X, Y: rw.Y, W: rw.W, H: rw.H, Options: rw.Options}
		if err := strict(rw.Source, &w.Source, p+".source"); err != nil {
			return Dashboard{}, err
		}
		d.Widgets[i] = w
	}
	return d, nil
}

// strict decodes one valid JSON value into v, which must be a pointer to a
// struct: null (or nothing) is allowed only below the top level and leaves
// v alone.
func strict(raw []byte, v any, path string) error {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		if path == "" || strings.HasSuffix(path, "]") {
			return &FieldError{Field: path, Reason: "must be a JSON object, not null", kind: ErrType}
		}
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	var typ *json.UnmarshalTypeError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &typ):
		return &FieldError{Field: join(path, typ.Field), Reason: fmt.Sprintf("must be %s, not %s", jsonKind(typ.Type), typ.Value), kind: ErrType}
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return &FieldError{Field: join(path, name), Reason: "is not a member of " + what(path), kind: ErrUnknownField}
	}
	return fmt.Errorf("%w: %s: %v", ErrSyntax, path, err)
}

func join(path, field string) string {
	switch {
	case path == "":
		return field
	case field == "":
		return path
	}
	return path + "." + field
}

func what(path string) string {
	switch {
	case path == "":
		return "a dashboard"
	case strings.HasSuffix(path, ".source"):
		return "a widget's source"
	}
	return "a widget"
}

// jsonKind names a Go type as the JSON value it is decoded from.
func jsonKind(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a whole number"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Bool:
		return "true or false"
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.String {
			return "an array of strings"
		}
		return "an array"
	case reflect.Struct, reflect.Map:
		return "a JSON object"
	}
	return t.String()
}
