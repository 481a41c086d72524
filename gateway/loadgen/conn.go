package loadgen

import (
	"bufio"
	"net"
	"sync"
)

// Buffer sizes of a packetConn. The write buffer is kept while it stays at
// most maxKeptWrite bytes, so a big packet does not pin memory for the life
// of an idle connection.
const (
	readBufferSize = 4 << 10
	maxKeptWrite   = 4 << 10
)

// packetConn gathers each MQTT packet that paho writes into one Write on the
// underlying connection, so that over TLS a packet is one record and
// usually one TCP segment. paho writes a packet as several buffers (fixed
// header, variable header, properties, payload), but always through
// packets.ControlPacket.WriteTo, which holds the connection's sync.Locker
// for the whole packet: packetConn collects the writes made between Lock and
// Unlock and flushes them in Unlock.
//
// A Write outside Lock/Unlock goes straight to the connection. Reads go
// through a small buffer, since paho reads a packet's header byte by byte.
type packetConn struct {
	net.Conn
	r *bufio.Reader

	mu       sync.Mutex
	inPacket bool   // set by Lock, cleared by Unlock; guarded by mu
	buf      []byte // the packet being gathered; guarded by mu
	err      error  // the first failed flush; guarded by mu
}

var (
	_ net.Conn    = (*packetConn)(nil)
	_ sync.Locker = (*packetConn)(nil)
)

func newPacketConn(c net.Conn) *packetConn {
	return &packetConn{Conn: c, r: bufio.NewReaderSize(c, readBufferSize)}
}

// Lock starts a packet: Writes until Unlock are gathered.
func (c *packetConn) Lock() {
	c.mu.Lock()
	c.inPacket = true
}

// Unlock writes the gathered packet in one Write. A failed write is kept and
// returned by every later Write, and closes the connection so that paho's
// reader notices at once.
func (c *packetConn) Unlock() {
	if len(c.buf) > 0 && c.err == nil {
		if _, err := c.Conn.Write(c.buf); err != nil {
			c.err = err
			_ = c.Conn.Close()
		}
	}
	if cap(c.buf) > maxKeptWrite {
		c.buf = nil
	} else {
		c.buf = c.buf[:0]
	}
	c.inPacket = false
	c.mu.Unlock()
}

// Write gathers p into the current packet, or writes it at once outside a
// packet.
func (c *packetConn) Write(p []byte) (int, error) {
	if !c.inPacket {
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.err != nil {
			return 0, c.err
		}
		return c.Conn.Write(p)
	}
	if c.err != nil {
		return 0, c.err
	}
	c.buf = append(c.buf, p...)
	return len(p), nil
}

// Read reads through the connection's read buffer.
func (c *packetConn) Read(p []byte) (int, error) { return c.r.Read(p) }
