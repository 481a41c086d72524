package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/packets"
	"github.com/eclipse/paho.golang/paho"
)

// TestBucketSurvivesKill9 kills `perch serve` with SIGKILL during QoS 1
// ingest, after more than ten partition rollovers (1 s partitions, device
// timestamps 100 ms apart: the engine's own WAL loses data there), twice,
// and finds every PUBACKed point in the bucket exactly once.
func TestBucketSurvivesKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test")
	}
	data := filepath.Join(t.TempDir(), "data")
	dd := "--data-dir=" + data
	args := []string{"--storage-partition-duration", "1s"}
	s := serve(t, data, args...)
	var dev struct{ ID, Credentials string }
	if err := json.Unmarshal([]byte(perch(t, dd, "device", "add", "sensor", "--json")), &dev); err != nil {
		t.Fatal(err)
	}
	perch(t, dd, "bucket", "add", "crash", "--topic", "crash/#")

	const t0 = int64(1767225600000)
	acked := map[int]bool{}
	refused := 0
	var mu sync.Mutex
	next := 0
	for round, kills := range []int{400, 250} {
		ca := x509.NewCertPool()
		pem, err := os.ReadFile(s.ready["ca_file"])
		if err != nil {
			t.Fatal(err)
		}
		ca.AppendCertsFromPEM(pem)
		conn, err := tls.Dial("tcp", s.ready["mqtt_tls"], &tls.Config{RootCAs: ca, ServerName: "localhost"})
		if err != nil {
			t.Fatal(err)
		}
		c := paho.NewClient(paho.ClientConfig{Conn: packets.NewThreadSafeConn(conn)})
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		if _, err := c.Connect(ctx, &paho.Connect{ClientID: dev.ID, Username: s.ready["account"], UsernameFlag: true,
			Password: []byte(dev.Credentials), PasswordFlag: true, KeepAlive: 30, CleanStart: true}); err != nil {
			t.Fatal(err)
		}
		// four publishers, each waiting for its PUBACK
		var wg sync.WaitGroup
		start := next
		count := 0
		killed := make(chan struct{})
		var once sync.Once
		for w := range 4 {
			wg.Go(func() {
				for i := start + w; ; i += 4 {
					msg := fmt.Sprintf(`{"ts":%d,"v":%d,"w":%d}`, t0+int64(i)*100, i, -i)
					res, err := c.Publish(ctx, &paho.Publish{Topic: "crash/" + strconv.Itoa(w), QoS: 1, Payload: []byte(msg)})
					if res != nil && res.ReasonCode >= 0x80 {
						// refused, and said so in the PUBACK: not stored,
						// not counted as acknowledged
						mu.Lock()
						refused++
						mu.Unlock()
						continue
					}
					if err != nil {
						return // the server is gone
					}
					mu.Lock()
					acked[i] = true
					count++
					n := count
					mu.Unlock()
					// at about the pace the writer compresses partitions,
					// so that many are on disk when the kill comes
					time.Sleep(10 * time.Millisecond)
					if n == kills {
						once.Do(func() {
							_ = s.cmd.Process.Signal(syscall.SIGKILL)
							close(killed)
						})
					}
				}
			})
		}
		<-killed
		<-s.exited
		wg.Wait()
		cancel()
		mu.Lock()
		for i := range acked {
			next = max(next, i+1)
		}
		mu.Unlock()
		next += 100 // past messages sent but never acknowledged
		t.Logf("round %d: %d acknowledged so far", round, len(acked))
		s = serve(t, data, args...)
	}

	// every acknowledged message exactly once: count points per timestamp
	var b struct {
		Stats struct{ Points, Rejected, Pending int64 }
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		if err := json.Unmarshal([]byte(perch(t, dd, "bucket", "show", "crash", "--json")), &b); err != nil {
			t.Fatal(err)
		}
		if b.Stats.Pending == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	out := perch(t, dd, "bucket", "read", "crash", "--fields", "v", "--agg", "count", "--every", "1ms", "--format", "csv")
	rows, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	count := map[int64]int{}
	for _, r := range rows[1:] {
		ts, _ := strconv.ParseInt(r[0], 10, 64)
		n, _ := strconv.Atoi(r[2])
		count[ts] += n
	}
	for i := range acked {
		if n := count[t0+int64(i)*100]; n != 1 {
			t.Errorf("acknowledged message %d stored %d times", i, n)
		}
	}
	for ts, n := range count {
		if n != 1 {
			t.Errorf("ts %d stored %d times", ts, n)
		}
	}

	parts, _ := filepath.Glob(filepath.Join(data, "buckets", "crash", "ts", "p-*"))
	if len(parts) < 20 {
		ents, _ := os.ReadDir(filepath.Join(data, "buckets", "crash"))
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		man, _ := os.ReadFile(filepath.Join(data, "buckets", "crash", "manifest.json"))
		var m struct {
			Partitions []struct {
				Name   string
				Points int
			}
		}
		json.Unmarshal(man, &m)
		t.Errorf("only %d partitions on disk: not enough rollovers (%v; %+v)", len(parts), names, m)
	}
	t.Logf("%d acknowledged, %d refused in the PUBACK (too old), %d timestamps stored, %d partitions", len(acked), refused, len(count), len(parts))
}
