package main

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// perchIn runs a CLI command with stdin, as perchErr does.
func perchIn(stdin string, args ...string) (stdout, stderr string, err error) {
	cmd := exec.Command(perchBin, args...)
	cmd.Env = cleanEnv()
	cmd.Stdin = strings.NewReader(stdin)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err = cmd.Run()
	return o.String(), e.String(), err
}

// wantFail checks that a command fails with one line, prefixed perch:,
// holding each of want.
func wantFail(t *testing.T, args []string, want ...string) {
	t.Helper()
	out, errOut, err := perchErr(args...)
	if err == nil {
		t.Errorf("perch %s succeeded:\n%s", strings.Join(args, " "), out)
		return
	}
	line := strings.TrimSpace(errOut)
	if strings.Contains(line, "\n") || !strings.HasPrefix(line, "perch: ") {
		t.Errorf("perch %s: want one line prefixed perch:, got %q", strings.Join(args, " "), errOut)
	}
	for _, w := range want {
		if !strings.Contains(line, w) {
			t.Errorf("perch %s: error %q lacks %q", strings.Join(args, " "), line, w)
		}
	}
}

// record is one record of a JSON read.
type record map[string]any

func readJSON(t *testing.T, args ...string) []record {
	t.Helper()
	var recs []record
	out := perch(t, append(args, "--format", "json")...)
	if err := json.Unmarshal([]byte(out), &recs); err != nil {
		t.Fatalf("read %v: %v\n%s", args, err, out)
	}
	return recs
}

// readCSV parses the CSV output of a read.
func readCSV(t *testing.T, doc string) [][]string {
	t.Helper()
	rows, err := csv.NewReader(strings.NewReader(doc)).ReadAll()
	if err != nil {
		t.Fatalf("CSV: %v\n%s", err, doc)
	}
	if len(rows) == 0 {
		t.Fatal("CSV: no header")
	}
	return rows
}

func column(header []string, name string) int {
	for i, h := range header {
		if h == name {
			return i
		}
	}
	return -1
}

func TestBucketEndToEnd(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	serve(t, data)
	dd := "--data-dir=" + data
	b := func(args ...string) []string { return append([]string{dd, "bucket"}, args...) }

	if out := perch(t, b("ls")...); !strings.Contains(out, "No buckets yet") {
		t.Errorf("ls of none:\n%s", out)
	}

	// add, ls, show
	out := perch(t, b("add", "env", "--topic", "sensors/+/env", "--name", "Environment")...)
	for _, want := range []string{`Bucket "env" created`, "sensors/+/env", "Environment", "365d"} {
		if !strings.Contains(out, want) {
			t.Errorf("add lacks %q:\n%s", want, out)
		}
	}
	var manual struct {
		ID, Topic, Retention, Resolution string
		Enabled                          bool
	}
	if err := json.Unmarshal([]byte(perch(t, b("add", "manual", "--retention", "30d", "--json")...)), &manual); err != nil {
		t.Fatal(err)
	}
	if manual.ID != "manual" || manual.Topic != "" || manual.Retention != "30d" || manual.Resolution != "1ms" || !manual.Enabled {
		t.Errorf("add --json: %+v", manual)
	}
	out = perch(t, b("ls")...)
	for _, want := range []string{"ID", "ENABLED", "TOPIC", "SERIES", "POINTS", "LAST", "REJECTED", "env", "sensors/+/env", "manual", "(api only)"} {
		if !strings.Contains(out, want) {
			t.Errorf("ls lacks %q:\n%s", want, out)
		}
	}
	var list []struct{ ID string }
	if err := json.Unmarshal([]byte(perch(t, b("list", "--json")...)), &list); err != nil || len(list) != 2 {
		t.Errorf("ls --json: %v %+v", err, list)
	}
	out = perch(t, b("show", "env")...)
	for _, want := range []string{"id", "env", "topic", "sensors/+/env", "retention", "365d", "resolution", "1ms", "points", "last"} {
		if !strings.Contains(out, want) {
			t.Errorf("show lacks %q:\n%s", want, out)
		}
	}

	// write: an object, an array, stdin; times a minute apart from a whole
	// hour, so that an hourly aggregate takes them all.
	base := time.Now().Add(-2 * time.Hour).Truncate(time.Hour).UnixMilli()
	ts := func(min int) int64 { return base + int64(min)*60_000 }
	out = perch(t, b("write", "env", fmt.Sprintf(`{"ts":%d,"temp":21.5,"hum":40}`, ts(0)), "--device", "d1")...)
	if strings.TrimSpace(out) != "accepted 1" {
		t.Errorf("write object: %q", out)
	}
	out = perch(t, b("write", "env", fmt.Sprintf(`[{"ts":%d,"temp":21.6},{"ts":%d,"temp":21.7,"hum":41}]`, ts(1), ts(2)), "--device", "d1")...)
	if strings.TrimSpace(out) != "accepted 2" {
		t.Errorf("write array: %q", out)
	}
	iso := time.UnixMilli(ts(3)).UTC().Format(time.RFC3339)
	out, errOut, err := perchIn(fmt.Sprintf(`{"ts":%q,"temp":19,"door":{"open":true}}`, iso), b("write", "env", "-", "--device", "d2")...)
	if err != nil || strings.TrimSpace(out) != "accepted 1" {
		t.Errorf("write from stdin: %v %q %s", err, out, errOut)
	}
	// a malformed item: nothing stored, the item named
	wantFail(t, b("write", "manual", `[{"v":1},"not an object"]`), "item 1", "nothing was stored")
	// the store refuses a point older than the retention (30d) and takes
	// the rest; the refusal is reported
	old := time.Now().Add(-60 * 24 * time.Hour).UnixMilli()
	out = perch(t, b("write", "manual", fmt.Sprintf(`[{"v":1},{"ts":%d,"v":2}]`, old))...)
	if !strings.HasPrefix(out, "accepted 1\n") || !strings.Contains(out, "rejected [1]") {
		t.Errorf("write with a rejection:\n%s", out)
	}
	// nothing accepted: non-zero exit
	if _, errOut, err := perchErr(b("write", "manual", fmt.Sprintf(`{"ts":%d,"v":2}`, old))...); err == nil || !strings.HasPrefix(errOut, "perch: ") || !strings.Contains(errOut, "nothing") {
		t.Errorf("write of nothing acceptable: %v %q", err, errOut)
	}
	wantFail(t, b("write", "env", `{"temp":`), "not valid JSON")
	wantFail(t, b("write", "env", `{"temp":21} x`), "not valid JSON")
	if _, errOut, err := perchIn("", b("write", "env", "-")...); err == nil || !strings.Contains(errOut, "no JSON") {
		t.Errorf("write of empty stdin: %v %q", err, errOut)
	}
	wantFail(t, b("write", "env"), "accepts 2 arg")

	// read as a table
	want := [][2]any{{ts(0), 21.5}, {ts(1), 21.6}, {ts(2), 21.7}, {ts(3), 19.0}}
	deadline := time.Now().Add(10 * time.Second)
	for len(readJSON(t, b("read", "env")...)) < len(want) && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond) // in case a write is readable only once flushed
	}
	out = perch(t, b("read", "env")...)
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	if len(lines) != 1+len(want) {
		t.Fatalf("read table: %d lines, want %d:\n%s", len(lines), 1+len(want), out)
	}
	head := strings.Fields(lines[0])
	for _, h := range []string{"TS", "DEVICE", "temp", "hum", "door.open"} {
		if !strings.Contains(lines[0], h) {
			t.Errorf("table header %q lacks %q", lines[0], h)
		}
	}
	if head[0] != "TS" || head[1] != "DEVICE" {
		t.Errorf("table header: %q", lines[0])
	}
	first := strings.Fields(lines[1])
	if first[0] != time.UnixMilli(ts(0)).UTC().Format("2006-01-02T15:04:05.000Z") || first[1] != "d1" || !strings.Contains(lines[1], "21.5") {
		t.Errorf("table row 1: %q", lines[1])
	}
	if !strings.Contains(lines[4], "d2") || !strings.Contains(lines[4], "19") {
		t.Errorf("table row 4: %q", lines[4])
	}
	// a missing value is a blank cell: d1's second record has no hum, so
	// the columns still line up
	if h, r := strings.Index(lines[0], "hum"), lines[2]; len(r) > h && strings.TrimSpace(r[h:min(len(r), h+3)]) != "" {
		t.Errorf("table row 2 has a hum: %q under %q", r, lines[0])
	}

	// read as CSV, JSON, ARFF
	csvOut := perch(t, b("read", "env", "--format", "csv")...)
	rows := readCSV(t, csvOut)
	if rows[0][0] != "ts" || rows[0][1] != "device" || column(rows[0], "temp") < 0 || column(rows[0], "hum") < 0 {
		t.Fatalf("CSV header: %q", rows[0])
	}
	if len(rows) != 1+len(want) {
		t.Fatalf("CSV: %d rows, want %d:\n%s", len(rows), 1+len(want), csvOut)
	}
	temp, hum := column(rows[0], "temp"), column(rows[0], "hum")
	for i, w := range want {
		row := rows[i+1]
		if row[0] != strconv.FormatInt(w[0].(int64), 10) {
			t.Errorf("CSV row %d ts %q, want %d", i+1, row[0], w[0])
		}
		if v, err := strconv.ParseFloat(row[temp], 64); err != nil || v != w[1].(float64) {
			t.Errorf("CSV row %d temp %q, want %v", i+1, row[temp], w[1])
		}
	}
	if rows[1][hum] != "40" || rows[2][hum] != "" || rows[1][1] != "d1" || rows[4][1] != "d2" {
		t.Errorf("CSV rows: %q", rows[1:])
	}
	if isoRows := readCSV(t, perch(t, b("read", "env", "--format", "csv", "--ts-format", "iso")...)); isoRows[1][0] != time.UnixMilli(ts(0)).UTC().Format("2006-01-02T15:04:05.000Z") {
		t.Errorf("CSV --ts-format iso: %q", isoRows[1])
	}

	recs := readJSON(t, b("read", "env")...)
	if len(recs) != len(want) || recs[0]["ts"] != float64(ts(0)) || recs[0]["device"] != "d1" || recs[0]["temp"] != 21.5 || recs[0]["hum"] != 40.0 {
		t.Errorf("JSON: %v", recs)
	}
	if _, ok := recs[1]["hum"]; ok {
		t.Errorf("JSON: a missing value is present: %v", recs[1])
	}
	if recs := readJSON(t, b("read", "env", "--device", "d2")...); len(recs) != 1 || recs[0]["door.open"] != 1.0 && recs[0]["door.open"] != true {
		t.Errorf("JSON --device d2: %v", recs)
	}
	if recs := readJSON(t, b("read", "env", "--sort", "desc", "--limit", "1")...); len(recs) != 1 || recs[0]["ts"] != float64(ts(3)) {
		t.Errorf("JSON --sort desc --limit 1: %v", recs)
	}
	if recs := readJSON(t, b("read", "env", "--from", strconv.FormatInt(ts(1), 10), "--to", strconv.FormatInt(ts(2), 10), "--fields", "temp")...); len(recs) != 2 || recs[0]["ts"] != float64(ts(1)) || len(recs[1]) != 3 {
		t.Errorf("JSON --from --to --fields: %v", recs)
	}
	if out := perch(t, b("read", "env", "--json", "--limit", "1")...); !strings.HasPrefix(strings.TrimSpace(out), "[") {
		t.Errorf("read --json: %q", out)
	}

	arff := perch(t, b("read", "env", "--format", "arff")...)
	for _, want := range []string{"@RELATION", "env", "@ATTRIBUTE ts", "@ATTRIBUTE device", "@ATTRIBUTE temp", "@DATA", "21.5"} {
		if !strings.Contains(arff, want) {
			t.Errorf("ARFF lacks %q:\n%s", want, arff)
		}
	}

	// -o FILE: the same bytes; a failed read leaves no file
	dir := t.TempDir()
	file := filepath.Join(dir, "env.csv")
	if out := perch(t, b("read", "env", "--format", "csv", "-o", file)...); !strings.Contains(out, file) {
		t.Errorf("read -o says: %q", out)
	}
	if got, err := os.ReadFile(file); err != nil || string(got) != csvOut {
		t.Errorf("read -o wrote %q (%v), want %q", got, err, csvOut)
	}
	if st, err := os.Stat(file); err != nil || st.Mode().Perm()&0o644 != 0o644 {
		t.Errorf("read -o file mode: %v %v", st.Mode(), err)
	}
	arffFile := filepath.Join(dir, "env.arff")
	perch(t, b("read", "env", "--format", "arff", "--output", arffFile)...)
	if got, err := os.ReadFile(arffFile); err != nil || string(got) != arff {
		t.Errorf("read --output arff: %q %v", got, err)
	}
	failed := filepath.Join(dir, "nope.csv")
	wantFail(t, b("read", "nosuch", "--format", "csv", "-o", failed), "nosuch")
	if _, err := os.Stat(failed); !os.IsNotExist(err) {
		t.Errorf("a failed read left %s: %v", failed, err)
	}
	if _, err := os.Stat(failed + ".tmp"); !os.IsNotExist(err) {
		t.Errorf("a failed read left %s.tmp: %v", failed, err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 2 {
		t.Errorf("files after reads: %v", ents)
	}

	// aggregates
	agg := readJSON(t, b("read", "env", "--agg", "avg", "--every", "1h", "--device", "d1", "--fields", "temp")...)
	if len(agg) != 1 || agg[0]["ts"] != float64(base) || math.Abs(agg[0]["temp"].(float64)-21.6) > 1e-9 {
		t.Errorf("agg avg every 1h: %v", agg)
	}
	agg = readJSON(t, b("read", "env", "--agg", "count", "--every", "1h")...)
	counts := map[any]any{}
	for _, a := range agg {
		counts[a["device"]] = a["temp"]
	}
	if len(agg) != 2 || counts["d1"] != 3.0 || counts["d2"] != 1.0 {
		t.Errorf("agg count every 1h: %v", agg)
	}
	if out := perch(t, b("read", "env", "--agg", "max", "--every", "1h", "--fields", "temp")...); !strings.Contains(out, "21.7") || strings.Contains(out, "21.5") {
		t.Errorf("agg max table:\n%s", out)
	}

	// show and ls count what was written (the counts may lag the data)
	var shown struct {
		Stats struct {
			Points int64  `json:"points"`
			LastTS *int64 `json:"last_ts"`
		} `json:"stats"`
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if err := json.Unmarshal([]byte(perch(t, b("show", "env", "--json")...)), &shown); err != nil {
			t.Fatal(err)
		}
		if shown.Stats.LastTS != nil && *shown.Stats.LastTS == ts(3) && shown.Stats.Points >= 4 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("show --json after writes: %+v", shown)
		}
	}
	if out := perch(t, b("show", "env")...); !strings.Contains(out, time.UnixMilli(ts(3)).Format(time.RFC3339)) {
		t.Errorf("show lacks the last time %s:\n%s", time.UnixMilli(ts(3)).Format(time.RFC3339), out)
	}
	out = perch(t, b("ls")...)
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) == 7 && f[0] == "env" {
			if f[4] != strconv.FormatInt(shown.Stats.Points, 10) || f[5] != time.UnixMilli(ts(3)).Format(time.RFC3339) {
				t.Errorf("ls row of env: %q", line)
			}
		}
	}

	// disable, enable
	var en struct{ Enabled bool }
	if out := perch(t, b("disable", "env")...); !strings.Contains(out, `Bucket "env" disabled`) {
		t.Errorf("disable: %q", out)
	}
	_ = json.Unmarshal([]byte(perch(t, b("show", "env", "--json")...)), &en)
	if en.Enabled {
		t.Error("disable did not stick")
	}
	if out := perch(t, b("show", "env")...); !strings.Contains(out, "enabled          no") {
		t.Errorf("show of a disabled bucket:\n%s", out)
	}
	perch(t, b("enable", "env")...)
	_ = json.Unmarshal([]byte(perch(t, b("show", "env", "--json")...)), &en)
	if !en.Enabled {
		t.Error("enable did not stick")
	}

	// clear: --yes needed without a terminal; a range, then everything
	wantFail(t, b("clear", "env"), "--yes")
	if n := len(readJSON(t, b("read", "env")...)); n != len(want) {
		t.Errorf("clear without --yes cleared: %d records left", n)
	}
	if out := perch(t, b("clear", "env", "--from", strconv.FormatInt(ts(0), 10), "--to", strconv.FormatInt(ts(1), 10), "--yes")...); !strings.Contains(out, "Cleared data from") {
		t.Errorf("clear a range: %q", out)
	}
	if recs := readJSON(t, b("read", "env")...); len(recs) != 2 || recs[0]["ts"] != float64(ts(2)) {
		t.Errorf("after clearing a range: %v", recs)
	}
	if out := perch(t, b("clear", "env", "--yes")...); !strings.Contains(out, `Cleared all data of bucket "env"`) {
		t.Errorf("clear: %q", out)
	}
	if recs := readJSON(t, b("read", "env")...); len(recs) != 0 {
		t.Errorf("after clear: %v", recs)
	}
	if out := perch(t, b("read", "env")...); !strings.Contains(out, "No data") {
		t.Errorf("table of nothing: %q", out)
	}
	if rows := readCSV(t, perch(t, b("read", "env", "--format", "csv")...)); len(rows) != 1 {
		t.Errorf("CSV of nothing: %q", rows)
	}

	// errors: one clear line each
	wantFail(t, b("show", "nosuch"), "not found")
	wantFail(t, b("read", "nosuch"), "not found")
	wantFail(t, b("write", "nosuch", `{"v":1}`), "not found")
	wantFail(t, b("clear", "nosuch", "--yes"), "not found")
	wantFail(t, b("enable", "nosuch"), "not found")
	wantFail(t, b("read", "env", "--from", "yesterday"), "from", "yesterday")
	wantFail(t, b("read", "env", "--agg", "median"), "agg", "median")
	wantFail(t, b("read", "env", "--format", "xml"), "--format", "xml")
	wantFail(t, b("read", "env", "--json", "--format", "csv"), "--json")
	wantFail(t, b("clear", "env", "--to", "later", "--yes"), "to")
	wantFail(t, b("add", "bad id!"), "id")
	wantFail(t, b("add", "env"), "env")
	wantFail(t, b("add", "x", "--retention", "forever"), "retention")
	wantFail(t, b("add", "x", "--topic", "a/#/b"), "topic")
	wantFail(t, b("add"), "accepts 1 arg")

	// rm
	if out := perch(t, b("rm", "env", "manual")...); !strings.Contains(out, `Deleted bucket "env"`) || !strings.Contains(out, `Deleted bucket "manual"`) {
		t.Errorf("rm: %q", out)
	}
	wantFail(t, b("show", "env"), "not found")
	wantFail(t, b("rm", "env"), "not found")
	if out := perch(t, b("ls")...); !strings.Contains(out, "No buckets yet") {
		t.Errorf("ls after rm:\n%s", out)
	}
}

// A bucket fed over MQTT would need a device and a client; the CLI's part
// is the same for API writes. Here: the CLI reaches a remote gateway with a
// token, and a read-only token may read but not write.
func TestBucketRemote(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	s := serve(t, data)
	dd := "--data-dir=" + data
	perch(t, dd, "bucket", "add", "env")
	var tok, ro struct{ Token string }
	_ = json.Unmarshal([]byte(perch(t, dd, "token", "create", "rw", "--json")), &tok)
	_ = json.Unmarshal([]byte(perch(t, dd, "token", "create", "ro", "--read-only", "--json")), &ro)
	at := func(token string, args ...string) []string {
		return append([]string{dd, "--server", "https://localhost:" + port(s.ready["api"]), "--token", token, "bucket"}, args...)
	}
	perch(t, at(tok.Token, "write", "env", `{"v":1}`)...)
	deadline := time.Now().Add(10 * time.Second)
	for {
		out := perch(t, at(ro.Token, "read", "env", "--format", "csv")...)
		if rows := readCSV(t, out); len(rows) == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("remote read:\n%s", out)
		}
		time.Sleep(50 * time.Millisecond)
	}
	wantFail(t, at(ro.Token, "write", "env", `{"v":2}`), "read-only")
	wantFail(t, at(ro.Token, "clear", "env", "--yes"), "read-only")
}
