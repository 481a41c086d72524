package loadgen

import (
	"bytes"
	"io"
	"net"
	"strings"
	"sync"
	"testing"

	"github.com/eclipse/paho.golang/packets"
	"github.com/eclipse/paho.golang/paho"
)

// recordingConn is a net.Conn that records each Write.
type recordingConn struct {
	net.Conn // nil: only Write and Close are used
	mu       sync.Mutex
	writes   [][]byte
}

func (c *recordingConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.writes = append(c.writes, bytes.Clone(p))
	return len(p), nil
}

func (c *recordingConn) Close() error { return nil }

// TestPacketConnOneWritePerPacket checks that every packet paho writes
// reaches the connection in a single Write: paho itself writes a PUBLISH
// in three or more (header, variable header and properties, payload).
func TestPacketConnOneWritePerPacket(t *testing.T) {
	cases := map[string]func() io.WriterTo{
		"connect": func() io.WriterTo {
			return (&paho.Connect{ClientID: "bench-000001", Username: "admin", UsernameFlag: true,
				Password: []byte("secret"), PasswordFlag: true, KeepAlive: 60, CleanStart: true}).Packet()
		},
		"publish qos 0": func() io.WriterTo {
			return (&paho.Publish{Topic: "a/b", Payload: make([]byte, 64)}).Packet()
		},
		"publish qos 1": func() io.WriterTo {
			p := (&paho.Publish{Topic: "a/b", QoS: 1, Payload: make([]byte, 300)}).Packet()
			p.PacketID = 7
			return p
		},
		"puback": func() io.WriterTo {
			return &packets.Puback{PacketID: 7, Properties: &packets.Properties{}}
		},
		"pingreq": func() io.WriterTo { return packets.NewControlPacket(packets.PINGREQ) },
	}
	for name, mk := range cases {
		t.Run(name, func(t *testing.T) {
			var want bytes.Buffer
			if _, err := mk().WriteTo(&want); err != nil {
				t.Fatal(err)
			}
			// Unwrapped, paho writes a PUBLISH in pieces: the reason for packetConn.
			direct := &recordingConn{}
			if _, err := mk().WriteTo(direct); err != nil {
				t.Fatal(err)
			}
			if strings.HasPrefix(name, "publish") && len(direct.writes) < 2 {
				t.Errorf("paho wrote a PUBLISH in %d write; packetConn may no longer be needed", len(direct.writes))
			}
			rc := &recordingConn{}
			pc := newPacketConn(rc)
			if _, err := mk().WriteTo(pc); err != nil {
				t.Fatal(err)
			}
			if len(rc.writes) != 1 {
				t.Fatalf("%d writes, want 1", len(rc.writes))
			}
			if !bytes.Equal(rc.writes[0], want.Bytes()) {
				t.Fatalf("wrote %x, want %x", rc.writes[0], want.Bytes())
			}
		})
	}
}

// TestPacketConnConcurrentWriters checks that packets written from many
// goroutines arrive whole and uninterleaved.
func TestPacketConnConcurrentWriters(t *testing.T) {
	rc := &recordingConn{}
	pc := newPacketConn(rc)
	const writers, each = 8, 200
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				p := (&paho.Publish{Topic: "t", QoS: 1, Payload: bytes.Repeat([]byte{byte(w)}, 10+i)}).Packet()
				p.PacketID = uint16(w*each + i + 1)
				if _, err := p.WriteTo(pc); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if len(rc.writes) != writers*each {
		t.Fatalf("%d writes, want %d", len(rc.writes), writers*each)
	}
	stream := bytes.NewReader(bytes.Join(rc.writes, nil))
	seen := map[uint16]bool{}
	for range writers * each {
		cp, err := packets.ReadPacket(stream)
		if err != nil {
			t.Fatal(err)
		}
		p := cp.Content.(*packets.Publish)
		w := p.Payload[0]
		if !bytes.Equal(p.Payload, bytes.Repeat([]byte{w}, len(p.Payload))) {
			t.Fatalf("packet %d has a mixed payload", p.PacketID)
		}
		seen[p.PacketID] = true
	}
	if len(seen) != writers*each || stream.Len() != 0 {
		t.Fatalf("%d distinct packets, %d bytes left", len(seen), stream.Len())
	}
}
