package dashboard

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/perch-gw/perch/gateway/db"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// valid is a dashboard with one widget of each kind of source.
func valid() Dashboard {
	return Dashboard{
		ID:   "greenhouse",
		Name: "Greenhouse",
		Widgets: []Widget{
			{ID: "w1", Type: TypeChart, Title: "Temperature", X: 0, Y: 0, W: 6, H: 4,
				Source:  Source{Kind: KindBucket, Bucket: "env", Fields: []string{"temp", "hum"}},
				Options: json.RawMessage(`{"window":"5m","unit":"°C"}`)},
			{ID: "w2", Type: TypeGauge, X: 6, Y: 0, W: 6, H: 4, Source: Source{Kind: KindTopic, Topic: "sensors/+/soil", Path: "soil.moisture"}},
			{ID: "w3", Type: TypeText, X: 0, Y: 4, W: 12, H: 1, Source: Source{Kind: KindNone}},
		},
	}
}

func TestValidate(t *testing.T) {
	long := func(n int) string { return strings.Repeat("a", n) }
	manyWidgets := func(n int) []Widget {
		ws := make([]Widget, n)
		for i := range ws {
			ws[i] = Widget{ID: fmt.Sprintf("w%d", i), Type: TypeText, X: 0, Y: i % 1000, W: 1, H: 1}
		}
		return ws
	}
	manyFields := func(n int) []string {
		fs := make([]string, n)
		for i := range fs {
			fs[i] = fmt.Sprintf("f%d", i)
		}
		return fs
	}
	tests := []struct {
		name   string
		change func(d *Dashboard)
		field  string // "" = valid
		reason string
	}{
		{"valid", func(d *Dashboard) {}, "", ""},
		{"no widgets", func(d *Dashboard) { d.Widgets = nil }, "", ""},
		{"empty id", func(d *Dashboard) { d.ID = "" }, "id", "1 to 64"},
		{"id with a space", func(d *Dashboard) { d.ID = "green house" }, "id", "1 to 64"},
		{"id of 64", func(d *Dashboard) { d.ID = long(64) }, "", ""},
		{"id of 65", func(d *Dashboard) { d.ID = long(65) }, "id", "1 to 64"},
		{"empty name", func(d *Dashboard) { d.Name = "" }, "", ""},
		{"name of 128", func(d *Dashboard) { d.Name = long(128) }, "", ""},
		{"name of 129", func(d *Dashboard) { d.Name = long(129) }, "name", "128 bytes"},
		{"64 widgets", func(d *Dashboard) { d.Widgets = manyWidgets(64) }, "", ""},
		{"65 widgets", func(d *Dashboard) { d.Widgets = manyWidgets(65) }, "widgets", "at most 64"},
		{"widget id", func(d *Dashboard) { d.Widgets[1].ID = "w/2" }, "widgets[1].id", "1 to 64"},
		{"widget id empty", func(d *Dashboard) { d.Widgets[0].ID = "" }, "widgets[0].id", "1 to 64"},
		{"widget id twice", func(d *Dashboard) { d.Widgets[2].ID = "w1" }, "widgets[2].id", "also the id of widgets[0]"},
		{"type unknown", func(d *Dashboard) { d.Widgets[0].Type = "pie" }, "widgets[0].type", "chart, gauge, donut, value, led, switch, slider, table, text"},
		{"type empty", func(d *Dashboard) { d.Widgets[0].Type = "" }, "widgets[0].type", "not a widget type"},
		{"type in capitals", func(d *Dashboard) { d.Widgets[0].Type = "Chart" }, "widgets[0].type", "not a widget type"},
		{"title of 128", func(d *Dashboard) { d.Widgets[0].Title = long(128) }, "", ""},
		{"title of 129", func(d *Dashboard) { d.Widgets[0].Title = long(129) }, "widgets[0].title", "128 bytes"},
		{"x negative", func(d *Dashboard) { d.Widgets[0].X = -1 }, "widgets[0].x", "from 0 to 11"},
		{"x 12", func(d *Dashboard) { d.Widgets[2].X, d.Widgets[2].W = 12, 1 }, "widgets[2].x", "from 0 to 11"},
		{"x 11 w 1", func(d *Dashboard) { d.Widgets[2].X, d.Widgets[2].W = 11, 1 }, "", ""},
		{"w 0", func(d *Dashboard) { d.Widgets[0].W = 0 }, "widgets[0].w", "from 1 to 12"},
		{"w 13", func(d *Dashboard) { d.Widgets[2].W = 13 }, "widgets[2].w", "from 1 to 12"},
		{"x+w 13", func(d *Dashboard) { d.Widgets[1].W = 7 }, "widgets[1].w", "past the grid"},
		{"x 0 w 12", func(d *Dashboard) { d.Widgets[0].W = 12 }, "", ""},
		{"y negative", func(d *Dashboard) { d.Widgets[0].Y = -1 }, "widgets[0].y", "from 0 to 1000"},
		{"y 1000", func(d *Dashboard) { d.Widgets[0].Y = 1000 }, "", ""},
		{"y 1001", func(d *Dashboard) { d.Widgets[0].Y = 1001 }, "widgets[0].y", "from 0 to 1000"},
		{"h 0", func(d *Dashboard) { d.Widgets[0].H = 0 }, "widgets[0].h", "from 1 to 24"},
		{"h 24", func(d *Dashboard) { d.Widgets[0].H = 24 }, "", ""},
		{"h 25", func(d *Dashboard) { d.Widgets[0].H = 25 }, "widgets[0].h", "from 1 to 24"},
		// sources
		{"kind unknown", func(d *Dashboard) { d.Widgets[0].Source.Kind = "file" }, "widgets[0].source.kind", `"bucket", "topic" or "none"`},
		{"kind missing with a bucket", func(d *Dashboard) { d.Widgets[0].Source.Kind = "" }, "widgets[0].source.kind", `"bucket", "topic" or "none"`},
		{"no source for a chart", func(d *Dashboard) { d.Widgets[0].Source = Source{} }, "widgets[0].source.kind", "a chart widget needs data"},
		{"none for a gauge", func(d *Dashboard) { d.Widgets[1].Source = Source{Kind: KindNone} }, "widgets[1].source.kind", "a gauge widget needs data"},
		{"no source for a text", func(d *Dashboard) { d.Widgets[2].Source = Source{} }, "", ""},
		{"text with a topic", func(d *Dashboard) { d.Widgets[2].Source = Source{Kind: KindTopic, Topic: "notes"} }, "", ""},
		{"none with a bucket", func(d *Dashboard) { d.Widgets[2].Source.Bucket = "env" }, "widgets[2].source.bucket", `not used by a source of kind "none"`},
		{"bucket missing", func(d *Dashboard) { d.Widgets[0].Source.Bucket = "" }, "widgets[0].source.bucket", "is required"},
		{"bucket id bad", func(d *Dashboard) { d.Widgets[0].Source.Bucket = "my env" }, "widgets[0].source.bucket", "not a bucket id"},
		{"no fields is all", func(d *Dashboard) { d.Widgets[0].Source.Fields = []string{} }, "", ""},
		{"16 fields", func(d *Dashboard) { d.Widgets[0].Source.Fields = manyFields(16) }, "", ""},
		{"17 fields", func(d *Dashboard) { d.Widgets[0].Source.Fields = manyFields(17) }, "widgets[0].source.fields", "at most 16"},
		{"field of 128", func(d *Dashboard) { d.Widgets[0].Source.Fields[1] = long(128) }, "", ""},
		{"field of 129", func(d *Dashboard) { d.Widgets[0].Source.Fields[1] = long(129) }, "widgets[0].source.fields[1]", "128 bytes"},
		{"field empty", func(d *Dashboard) { d.Widgets[0].Source.Fields[0] = "" }, "widgets[0].source.fields[0]", "empty"},
		{"field with a newline", func(d *Dashboard) { d.Widgets[0].Source.Fields[0] = "a\nb" }, "widgets[0].source.fields[0]", "control character"},
		{"field twice", func(d *Dashboard) { d.Widgets[0].Source.Fields[1] = "temp" }, "widgets[0].source.fields[1]", "listed twice"},
		{"nested field", func(d *Dashboard) { d.Widgets[0].Source.Fields[0] = "env.t" }, "", ""},
		{"device", func(d *Dashboard) { d.Widgets[0].Source.Device = "greenhouse-1" }, "", ""},
		{"device with a tab", func(d *Dashboard) { d.Widgets[0].Source.Device = "a\tb" }, "widgets[0].source.device", "control character"},
		{"device of 257", func(d *Dashboard) { d.Widgets[0].Source.Device = long(257) }, "widgets[0].source.device", "256 bytes"},
		{"bucket with a topic", func(d *Dashboard) { d.Widgets[0].Source.Topic = "a/b" }, "widgets[0].source.topic", `not used by a source of kind "bucket"`},
		{"bucket with a path", func(d *Dashboard) { d.Widgets[0].Source.Path = "a" }, "widgets[0].source.path", `not used by a source of kind "bucket"`},
		{"topic missing", func(d *Dashboard) { d.Widgets[1].Source.Topic = "" }, "widgets[1].source.topic", "is required"},
		{"topic filter bad", func(d *Dashboard) { d.Widgets[1].Source.Topic = "a/#/b" }, "widgets[1].source.topic", "'#' must be the last level"},
		{"topic plus inside a level", func(d *Dashboard) { d.Widgets[1].Source.Topic = "a/b+" }, "widgets[1].source.topic", "'+' must occupy a whole level"},
		{"topic #", func(d *Dashboard) { d.Widgets[1].Source.Topic = "#" }, "", ""},
		{"topic $SYS", func(d *Dashboard) { d.Widgets[1].Source.Topic = "$SYS/#" }, "widgets[1].source.topic", "beginning with '$'"},
		{"topic shared", func(d *Dashboard) { d.Widgets[1].Source.Topic = "$share/g/a" }, "widgets[1].source.topic", "beginning with '$'"},
		{"topic of 1024", func(d *Dashboard) { d.Widgets[1].Source.Topic = long(1024) }, "", ""},
		{"topic of 1025", func(d *Dashboard) { d.Widgets[1].Source.Topic = long(1025) }, "widgets[1].source.topic", "1024 bytes"},
		{"no path", func(d *Dashboard) { d.Widgets[1].Source.Path = "" }, "", ""},
		{"path of 128", func(d *Dashboard) { d.Widgets[1].Source.Path = long(128) }, "", ""},
		{"path of 129", func(d *Dashboard) { d.Widgets[1].Source.Path = long(129) }, "widgets[1].source.path", "128 bytes"},
		{"path with an empty part", func(d *Dashboard) { d.Widgets[1].Source.Path = "env..t" }, "widgets[1].source.path", "empty part"},
		{"path ending in a dot", func(d *Dashboard) { d.Widgets[1].Source.Path = "env." }, "widgets[1].source.path", "empty part"},
		{"path with an index", func(d *Dashboard) { d.Widgets[1].Source.Path = "batt.0" }, "", ""},
		{"topic with fields", func(d *Dashboard) { d.Widgets[1].Source.Fields = []string{"a"} }, "widgets[1].source.fields", `not used by a source of kind "topic"`},
		{"topic with a device", func(d *Dashboard) { d.Widgets[1].Source.Device = "d" }, "widgets[1].source.device", `not used by a source of kind "topic"`},
		// options
		{"options absent", func(d *Dashboard) { d.Widgets[0].Options = nil }, "", ""},
		{"options null", func(d *Dashboard) { d.Widgets[0].Options = json.RawMessage(" null ") }, "", ""},
		{"options empty object", func(d *Dashboard) { d.Widgets[0].Options = json.RawMessage(`{}`) }, "", ""},
		{"options an array", func(d *Dashboard) { d.Widgets[0].Options = json.RawMessage(`[1]`) }, "widgets[0].options", "JSON object"},
		{"options a string", func(d *Dashboard) { d.Widgets[0].Options = json.RawMessage(`"5m"`) }, "widgets[0].options", "JSON object"},
		{"options not JSON", func(d *Dashboard) { d.Widgets[0].Options = json.RawMessage(`{"a":}`) }, "widgets[0].options", "not valid JSON"},
		{"options of 4096", func(d *Dashboard) { d.Widgets[0].Options = json.RawMessage(`{"a":"` + long(4096-8) + `"}`) }, "", ""},
		{"options of 4097", func(d *Dashboard) { d.Widgets[0].Options = json.RawMessage(`{"a":"` + long(4097-8) + `"}`) }, "widgets[0].options", "at most 4096"},
		{"options of 4096 once compacted", func(d *Dashboard) {
			d.Widgets[0].Options = json.RawMessage("{\n  \"a\": \"" + long(4096-8) + "\"\n}")
		}, "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := valid()
			tc.change(&d)
			err := d.Validate()
			if tc.field == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			var fe *FieldError
			if !errors.As(err, &fe) || !errors.Is(err, ErrInvalid) {
				t.Fatalf("err %v, want a *FieldError for %s", err, tc.field)
			}
			if fe.Field != tc.field || !strings.Contains(fe.Reason, tc.reason) {
				t.Fatalf("err %q (field %q), want field %q and a reason with %q", err, fe.Field, tc.field, tc.reason)
			}
			if !strings.HasPrefix(err.Error(), tc.field+": ") {
				t.Fatalf("message %q does not start with the field", err)
			}
		})
	}
}

func TestValidateNormalizes(t *testing.T) {
	d := valid()
	d.Widgets = append(d.Widgets, Widget{ID: "t2", Type: TypeText, W: 1, H: 1})
	d.Widgets[0].Source.Fields = []string{}
	d.Widgets[0].Options = json.RawMessage("{ \"a\" : [1, 2],\n \"b\": \"<c>\" }")
	d.Widgets[1].Options = json.RawMessage("null")
	if err := d.Validate(); err != nil {
		t.Fatal(err)
	}
	if got := string(d.Widgets[0].Options); got != `{"a":[1,2],"b":"<c>"}` {
		t.Errorf("options %s, want them compacted, key order and text kept", got)
	}
	if d.Widgets[0].Source.Fields != nil || d.Widgets[1].Options != nil || d.Widgets[3].Source.Kind != KindNone {
		t.Errorf("not normalised: %+v", d.Widgets)
	}
	empty := Dashboard{ID: "e"}
	if err := empty.Validate(); err != nil || empty.Widgets == nil {
		t.Fatalf("empty dashboard: %v %#v", err, empty.Widgets)
	}
	if b, _ := json.Marshal(empty); !strings.Contains(string(b), `"widgets":[]`) {
		t.Errorf("no widgets marshal as %s", b)
	}
}

// Parse names the place of every decoding problem, which encoding/json does
// not do by itself.
func TestParseErrors(t *testing.T) {
	w := func(extra string) string {
		return `{"id":"d","widgets":[{"id":"w0","type":"text","w":1,"h":1},{"id":"w1","type":"chart","w":1,"h":1,"source":{"kind":"bucket","bucket":"b"}` + extra + `}]}`
	}
	tests := []struct {
		name, in string
		field    string
		kind     error
	}{
		{"empty", ``, "", ErrSyntax},
		{"spaces", " \n", "", ErrSyntax},
		{"truncated", `{"id":"d"`, "", ErrSyntax},
		{"trailing data", `{"id":"d"} {}`, "", ErrSyntax},
		{"not an object", `[1]`, "", ErrType},
		{"null", `null`, "", ErrType},
		{"unknown member", `{"id":"d","colour":"red"}`, "colour", ErrUnknownField},
		{"id a number", `{"id":5}`, "id", ErrType},
		{"widgets an object", `{"id":"d","widgets":{}}`, "widgets", ErrType},
		{"widget null", `{"id":"d","widgets":[null]}`, "widgets[0]", ErrType},
		{"widget a string", `{"id":"d","widgets":["w"]}`, "widgets[0]", ErrType},
		{"unknown widget member", w(`,"colour":"red"`), "widgets[1].colour", ErrUnknownField},
		{"x a string", w(`,"x":"1"`), "widgets[1].x", ErrType},
		{"x a fraction", w(`,"x":1.5`), "widgets[1].x", ErrType},
		{"x huge", w(`,"x":1e30`), "widgets[1].x", ErrType},
		{"source a string", w(`,"source":"env"`), "widgets[1].source", ErrType},
		{"unknown source member", `{"id":"d","widgets":[{"id":"w","type":"gauge","w":1,"h":1,"source":{"kind":"topic","topik":"a"}}]}`, "widgets[0].source.topik", ErrUnknownField},
		{"fields a string", `{"id":"d","widgets":[{"id":"w","type":"chart","w":1,"h":1,"source":{"kind":"bucket","bucket":"b","fields":"t"}}]}`, "widgets[0].source.fields", ErrType},
		{"invalid after decoding", w(`,"x":11,"w":2`), "widgets[1].w", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.in))
			if err == nil {
				t.Fatal("accepted")
			}
			if tc.kind == ErrSyntax {
				if !errors.Is(err, ErrSyntax) {
					t.Fatalf("err %v, want ErrSyntax", err)
				}
				return
			}
			var fe *FieldError
			if !errors.As(err, &fe) || fe.Field != tc.field || (tc.kind != nil && !errors.Is(err, tc.kind)) || !errors.Is(err, ErrInvalid) {
				t.Fatalf("err %v (%#v), want field %q, %v", err, fe, tc.field, tc.kind)
			}
		})
	}
}

// The read-only times are accepted (what GET answers can be sent back) and
// ignored; Parse of the example from the API documentation gives the
// golden dashboard.
func TestParseGolden(t *testing.T) {
	in, err := os.ReadFile(filepath.Join("testdata", "greenhouse.json"))
	if err != nil {
		t.Fatal(err)
	}
	d, err := Parse(in)
	if err != nil {
		t.Fatal(err)
	}
	if !d.Created.IsZero() || !d.Updated.IsZero() {
		t.Errorf("times taken from the input: %v %v", d.Created, d.Updated)
	}
	got, _ := json.MarshalIndent(d, "", "  ")
	got = append(got, '\n')
	path := filepath.Join("testdata", "greenhouse.golden.json")
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if string(got) != string(want) {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
	again, err := Parse(got)
	if err != nil {
		t.Fatalf("the golden dashboard does not parse: %v", err)
	}
	if b, _ := json.MarshalIndent(again, "", "  "); string(b)+"\n" != string(got) {
		t.Fatalf("not stable:\n%s", b)
	}
}

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func openStore(t *testing.T, path string, c *clock) (*Store, *db.DB) {
	t.Helper()
	d, err := db.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(Config{DB: d, Now: c.now})
	if err != nil {
		t.Fatal(err)
	}
	return s, d
}

func TestStore(t *testing.T) {
	path := filepath.Join(t.TempDir(), "perch.db")
	c := &clock{time.Date(2026, 11, 25, 16, 0, 0, 500, time.UTC)}
	s, d := openStore(t, path, c)
	if list, err := s.List(); err != nil || len(list) != 0 || list == nil {
		t.Fatalf("empty list: %v %#v", err, list)
	}
	g := valid()
	g.Created = time.Unix(1, 0) // ignored
	created, err := s.Create(g)
	if err != nil {
		t.Fatal(err)
	}
	if !created.Created.Equal(c.t.Truncate(time.Second)) || !created.Updated.Equal(created.Created) {
		t.Fatalf("times %v %v", created.Created, created.Updated)
	}
	if _, err := s.Create(g); !errors.Is(err, ErrExists) {
		t.Fatalf("second create: %v", err)
	}
	bad := valid()
	bad.ID = "other"
	bad.Widgets[0].W = 13
	if _, err := s.Create(bad); !errors.Is(err, ErrInvalid) {
		t.Fatalf("invalid create: %v", err)
	}
	a := Dashboard{ID: "a-first", Name: "A"}
	if _, err := s.Create(a); err != nil {
		t.Fatal(err)
	}
	list, err := s.List()
	if err != nil || len(list) != 2 || list[0].ID != "a-first" || list[1].ID != "greenhouse" || len(list[1].Widgets) != 3 {
		t.Fatalf("list: %v %+v", err, list)
	}

	c.t = c.t.Add(time.Hour)
	r := Dashboard{Name: "Greenhouse 2", Widgets: valid().Widgets[:1]}
	replaced, err := s.Replace("greenhouse", r)
	if err != nil {
		t.Fatal(err)
	}
	if replaced.ID != "greenhouse" || replaced.Name != "Greenhouse 2" || len(replaced.Widgets) != 1 ||
		!replaced.Created.Equal(created.Created) || !replaced.Updated.Equal(c.t.Truncate(time.Second)) {
		t.Fatalf("replaced: %+v", replaced)
	}
	r.ID = "greenhouse"
	if _, err := s.Replace("greenhouse", r); err != nil {
		t.Fatalf("replace with the same id: %v", err)
	}
	r.ID = "other"
	var fe *FieldError
	if _, err := s.Replace("greenhouse", r); !errors.As(err, &fe) || fe.Field != "id" {
		t.Fatalf("replace with another id: %v", err)
	}
	for _, id := range []string{"ghost", "bad id"} {
		if _, err := s.Replace(id, Dashboard{}); !errors.Is(err, ErrNotFound) {
			t.Fatalf("replace %q: %v", id, err)
		}
		if _, err := s.Get(id); !errors.Is(err, ErrNotFound) {
			t.Fatalf("get %q: %v", id, err)
		}
		if err := s.Delete(id); !errors.Is(err, ErrNotFound) {
			t.Fatalf("delete %q: %v", id, err)
		}
	}
	if err := s.Delete("a-first"); err != nil {
		t.Fatal(err)
	}

	// reopened, the store has what it acknowledged
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	s, d = openStore(t, path, c)
	defer d.Close()
	got, err := s.Get("greenhouse")
	if err != nil {
		t.Fatal(err)
	}
	want, _ := json.Marshal(replaced)
	if b, _ := json.Marshal(got); string(b) != string(want) {
		t.Fatalf("after reopening:\n%s\nwant\n%s", b, want)
	}
	if list, _ := s.List(); len(list) != 1 {
		t.Fatalf("deleted dashboard back: %+v", list)
	}
}
