package client_test

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/perch-gw/perch/gateway/client"
)

func TestEventWriter(t *testing.T) {
	stream := ": stream of MQTT messages\n\n" +
		"data: {\"topic\":\"a\"}\n\n" +
		": keep-alive\n\n" +
		"event: dropped\r\ndata: {\"dropped\":3}\r\n\r\n" +
		"data: line one\ndata:line two\nid: 7\n\n" +
		"event: end\ndata: {}\n\n" +
		"data: no blank line yet"
	want := []client.Event{
		{Data: `{"topic":"a"}`},
		{Name: "dropped", Data: `{"dropped":3}`},
		{Data: "line one\nline two"},
		{Name: "end", Data: "{}"},
	}
	// However the body arrives in pieces, the events are the same.
	for _, size := range []int{1, 2, 3, 7, 64, len(stream)} {
		var got []client.Event
		w := client.EventWriter(func(ev client.Event) error { got = append(got, ev); return nil })
		for rest := stream; rest != ""; {
			n := min(size, len(rest))
			if m, err := w.Write([]byte(rest[:n])); err != nil || m != n {
				t.Fatalf("size %d: Write = %d, %v", size, m, err)
			}
			rest = rest[n:]
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("size %d: got %q, want %q", size, got, want)
		}
	}
}

func TestEventWriterErrors(t *testing.T) {
	stop := errors.New("stop")
	w := client.EventWriter(func(ev client.Event) error { return stop })
	if _, err := w.Write([]byte("data: x\n\n")); !errors.Is(err, stop) {
		t.Fatalf("fn's error: %v", err)
	}
	w = client.EventWriter(func(client.Event) error { return nil })
	if _, err := w.Write([]byte(strings.Repeat("x", 5<<20))); err == nil {
		t.Fatal("a line of 5 MiB accepted")
	}
}
