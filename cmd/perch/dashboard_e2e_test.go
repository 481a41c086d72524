package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"
)

// jsonOf decodes a JSON document for comparison, failing the test.
func jsonOf(t *testing.T, doc []byte) map[string]any {
	t.Helper()
	var v map[string]any
	if err := json.Unmarshal(doc, &v); err != nil {
		t.Fatalf("%v:\n%s", err, doc)
	}
	return v
}

// A dashboard exported, imported and exported again is the same; an
// existing id needs --replace.
func TestDashboardEndToEnd(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	serve(t, data)
	dd := "--data-dir=" + data
	d := func(args ...string) []string { return append([]string{dd, "dashboard"}, args...) }
	example := filepath.Join("..", "..", "gateway", "dashboard", "testdata", "greenhouse.json")

	if out := perch(t, d("ls")...); !strings.Contains(out, "No dashboards yet") {
		t.Errorf("ls of none:\n%s", out)
	}
	if out := perch(t, d("import", example)...); out != "Dashboard \"greenhouse\" created.\n" {
		t.Errorf("import: %q", out)
	}
	out := perch(t, d("ls")...)
	for _, want := range []string{"ID", "NAME", "WIDGETS", "UPDATED", "greenhouse", "Greenhouse", "4"} {
		if !strings.Contains(out, want) {
			t.Errorf("ls lacks %q:\n%s", want, out)
		}
	}
	shown := jsonOf(t, []byte(perch(t, d("show", "greenhouse")...)))
	if shown["created"] == nil || shown["created"] == "2026-11-25T16:00:00Z" {
		t.Errorf("show: created %v, want the time of the import", shown["created"])
	}

	// export → import elsewhere (here: after deleting it) → export: the same
	dir := t.TempDir()
	first := filepath.Join(dir, "first.json")
	if out := perch(t, d("export", "greenhouse", "-o", first)...); !strings.Contains(out, "Wrote dashboard") {
		t.Errorf("export -o: %q", out)
	}
	exported, err := os.ReadFile(first)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(exported), "created") || strings.Contains(string(exported), "updated") || !strings.HasPrefix(string(exported), "{\n  \"id\": \"greenhouse\",\n  \"name\"") {
		t.Errorf("export:\n%s", exported)
	}
	want := jsonOf(t, []byte(exported))
	golden, err := os.ReadFile(filepath.Join("..", "..", "gateway", "dashboard", "testdata", "greenhouse.golden.json"))
	if err != nil {
		t.Fatal(err)
	}
	g := jsonOf(t, golden)
	delete(g, "created")
	delete(g, "updated")
	if !reflect.DeepEqual(want, g) {
		t.Errorf("export differs from the parsed example:\n%s\nwant\n%s", exported, golden)
	}
	wantFail(t, d("import", first), `dashboard "greenhouse" already exists`, "--replace")
	perch(t, d("rm", "greenhouse")...)
	perch(t, d("import", first)...)
	if again := perch(t, d("export", "greenhouse")...); again != string(exported) {
		t.Errorf("round trip:\n%s\nwant\n%s", again, exported)
	}

	// --replace, --id from stdin
	changed := strings.Replace(string(exported), `"name": "Greenhouse"`, `"name": "Glasshouse"`, 1)
	if err := os.WriteFile(first, []byte(changed), 0o644); err != nil {
		t.Fatal(err)
	}
	if out := perch(t, d("import", first, "--replace")...); out != "Dashboard \"greenhouse\" replaced.\n" {
		t.Errorf("import --replace: %q", out)
	}
	if got := jsonOf(t, []byte(perch(t, d("show", "greenhouse")...))); got["name"] != "Glasshouse" || got["created"] == nil {
		t.Errorf("after --replace: %v", got)
	}
	if out, errOut, err := perchIn(string(exported), d("import", "-", "--id", "copy")...); err != nil || !strings.Contains(out, `"copy" created`) {
		t.Errorf("import - --id copy: %v %s%s", err, out, errOut)
	}
	var list []struct{ ID, Name string }
	if err := json.Unmarshal([]byte(perch(t, d("ls", "--json")...)), &list); err != nil || len(list) != 2 || list[0].ID != "copy" || list[1].Name != "Glasshouse" {
		t.Errorf("ls --json: %v %+v", err, list)
	}

	// errors name the field
	bad := filepath.Join(dir, "bad.json")
	if err := os.WriteFile(bad, []byte(`{"id":"bad","widgets":[{"id":"w","type":"chart","x":8,"y":0,"w":6,"h":4,"source":{"kind":"bucket","bucket":"env"}}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	wantFail(t, d("import", bad), "widgets[0].w", "past the grid")
	if err := os.WriteFile(bad, []byte(`{"name":"no id"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	wantFail(t, d("import", bad), `has no "id"`)
	wantFail(t, d("show", "ghost"), "not found")

	perch(t, d("rm", "copy", "greenhouse")...)
	if out := perch(t, d("ls")...); !strings.Contains(out, "No dashboards yet") {
		t.Errorf("ls after rm:\n%s", out)
	}
}

// perch mqtt watch prints what perch mqtt publish sends, until Ctrl-C.
func TestMQTTEndToEnd(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	s := serve(t, data)
	dd := "--data-dir=" + data

	streams := func() int64 {
		var st struct {
			MQTT struct {
				Streams int64 `json:"streams"`
			} `json:"mqtt"`
		}
		if err := json.Unmarshal([]byte(perch(t, dd, "status", "--json")), &st); err != nil {
			t.Fatal(err)
		}
		return st.MQTT.Streams
	}
	watchOut, watchErr := &syncBuffer{}, &syncBuffer{}
	watch := exec.Command(perchBin, dd, "mqtt", "watch", "cmd/#")
	watch.Env = cleanEnv()
	watch.Stdout, watch.Stderr = watchOut, watchErr
	if err := watch.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- watch.Wait() }()
	t.Cleanup(func() {
		_ = watch.Process.Kill()
		<-exited
	})
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s; watch printed %q %q", what, watchOut, watchErr)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	waitFor("the watch to start", func() bool { return streams() == 1 })

	if out := perch(t, dd, "mqtt", "publish", "cmd/lamp", "on", "--qos", "1"); out != "Published 2 bytes to cmd/lamp (QoS 1).\n" {
		t.Errorf("publish: %q", out)
	}
	if out, errOut, err := perchIn("\x00\xff", dd, "mqtt", "publish", "cmd/raw", "-", "--retain"); err != nil || !strings.Contains(out, "retained") {
		t.Errorf("publish from stdin: %v %s%s", err, out, errOut)
	}
	perch(t, dd, "mqtt", "publish", "other/x", "not watched")
	perch(t, dd, "mqtt", "publish", "cmd/last", "a b")
	waitFor("the messages", func() bool { return strings.Contains(watchOut.String(), "cmd/last a b\n") })
	if got := watchOut.String(); got != "cmd/lamp on\ncmd/raw (base64) AP8=\ncmd/last a b\n" {
		t.Errorf("watch printed %q", got)
	}
	wantFail(t, []string{dd, "mqtt", "publish", "cmd/#", "x"}, "wildcard")
	wantFail(t, []string{dd, "mqtt", "publish", "cmd/x", "x", "--qos", "3"}, "qos")
	wantFail(t, []string{dd, "mqtt", "watch", "$SYS/#"}, "'$'")

	// Ctrl-C ends it quietly, and its subscription with it.
	_ = watch.Process.Signal(syscall.SIGINT)
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("watch after Ctrl-C: %v %s", err, watchErr)
		}
		exited <- err
	case <-time.After(5 * time.Second):
		t.Fatal("watch did not stop within 5 s of SIGINT")
	}
	waitFor("the stream to go", func() bool { return streams() == 0 })

	// remote: a read-only token watches (here: reads dashboards) but does not publish
	var ro struct{ Token string }
	_ = json.Unmarshal([]byte(perch(t, dd, "token", "create", "ro", "--read-only", "--json")), &ro)
	remote := []string{dd, "--server", "https://localhost:" + port(s.ready["api"]), "--token", ro.Token}
	perch(t, append(remote, "dashboard", "ls")...)
	wantFail(t, append(remote, "mqtt", "publish", "cmd/lamp", "off"), "read-only")
}
