package broker

import (
	"crypto/tls"
	"net"
	"sync"
	"time"
)

// guardListener defends against mochi's missing pre-CONNECT deadline: every
// accepted connection gets a deadline that covers the TLS handshake and the
// CONNECT packet (mochi replaces it with the keepalive deadline once the
// CONNECT is read). It also tracks live connections so that shutdown can
// close them all and wait, instead of relying on mochi's Close, which can
// deadlock while clients come and go (mochi #488, #541).
type guardListener struct {
	net.Listener
	timeout time.Duration

	mu     sync.Mutex
	conns  map[*guardConn]struct{}
	closed bool
	wg     sync.WaitGroup
}

func newGuardListener(l net.Listener, timeout time.Duration) *guardListener {
	return &guardListener{Listener: l, timeout: timeout, conns: make(map[*guardConn]struct{})}
}

func (l *guardListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	_ = c.SetDeadline(time.Now().Add(l.timeout))
	gc := &guardConn{Conn: c, l: l}
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		c.Close()
		return nil, net.ErrClosed
	}
	l.conns[gc] = struct{}{}
	l.wg.Add(1)
	l.mu.Unlock()
	return gc, nil
}

// Close stops accepting; it is safe to call more than once.
func (l *guardListener) Close() error {
	l.mu.Lock()
	l.closed = true
	l.mu.Unlock()
	return l.Listener.Close()
}

// closeConns closes every live connection.
func (l *guardListener) closeConns() {
	l.mu.Lock()
	conns := make([]*guardConn, 0, len(l.conns))
	for c := range l.conns {
		conns = append(conns, c)
	}
	l.mu.Unlock()
	for _, c := range conns {
		c.Close()
	}
}

// wait waits until every accepted connection is closed, or the deadline.
func (l *guardListener) wait(deadline time.Time) bool {
	done := make(chan struct{})
	go func() { l.wg.Wait(); close(done) }()
	select {
	case <-done:
		return true
	case <-time.After(time.Until(deadline)):
		return false
	}
}

type guardConn struct {
	net.Conn
	l    *guardListener
	once sync.Once
}

func (c *guardConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() {
		c.l.mu.Lock()
		delete(c.l.conns, c)
		c.l.mu.Unlock()
		c.l.wg.Done()
	})
	return err
}

// chanListener is a net.Listener fed by an HTTP handler that upgrades
// WebSocket requests, so that MQTT over WebSocket goes through the same
// guard and the same mochi code path as TCP.
type chanListener struct {
	addr   net.Addr
	ch     chan net.Conn
	done   chan struct{}
	closer sync.Once
}

func newChanListener(addr net.Addr) *chanListener {
	return &chanListener{addr: addr, ch: make(chan net.Conn), done: make(chan struct{})}
}

func (l *chanListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.ch:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

// offer hands a connection to Accept; false when the listener is closed.
func (l *chanListener) offer(c net.Conn) bool {
	select {
	case l.ch <- c:
		return true
	case <-l.done:
		return false
	}
}

func (l *chanListener) Close() error {
	l.closer.Do(func() { close(l.done) })
	return nil
}

func (l *chanListener) Addr() net.Addr { return l.addr }

// handshakeListener completes each TLS handshake on a short-lived goroutine
// of its own before handing the connection to mochi. The handshake needs a
// deep stack; done on mochi's per-client read goroutine, that stack would
// stay grown for the life of every idle connection. It also means mochi
// allocates a client (and its queue) only for connections that got through
// the handshake.
type handshakeListener struct {
	inner net.Listener
	tls   *tls.Config
	conns chan net.Conn

	done    chan struct{}
	closer  sync.Once
	mu      sync.Mutex
	err     error // the inner listener's Accept error, once it stopped
	stopped chan struct{}
	wg      sync.WaitGroup
}

func newHandshakeListener(inner net.Listener, cfg *tls.Config) *handshakeListener {
	l := &handshakeListener{inner: inner, tls: cfg, conns: make(chan net.Conn), done: make(chan struct{}), stopped: make(chan struct{})}
	l.wg.Add(1)
	go l.acceptLoop()
	return l
}

func (l *handshakeListener) acceptLoop() {
	defer l.wg.Done()
	for {
		c, err := l.inner.Accept()
		if err != nil {
			l.mu.Lock()
			l.err = err
			l.mu.Unlock()
			close(l.stopped)
			return
		}
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			tc := tls.Server(c, l.tls)
			// The guard's deadline bounds the handshake.
			if err := tc.Handshake(); err != nil {
				c.Close()
				return
			}
			select {
			case l.conns <- tc:
			case <-l.done:
				tc.Close()
			}
		}()
	}
}

func (l *handshakeListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	case <-l.stopped:
		l.mu.Lock()
		defer l.mu.Unlock()
		return nil, l.err
	}
}

// Close stops accepting; it is safe to call more than once.
func (l *handshakeListener) Close() error {
	l.closer.Do(func() { close(l.done) })
	return l.inner.Close()
}

func (l *handshakeListener) Addr() net.Addr { return l.inner.Addr() }

// wait waits for the accept loop and every handshake in progress (after
// Close, and after the guard closed their connections).
func (l *handshakeListener) wait() { l.wg.Wait() }
