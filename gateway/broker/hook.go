package broker

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"math"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/perch-gw/perch/gateway/acl"
)

var (
	packetsServerShuttingDown   = packets.ErrServerShuttingDown
	packetsAdministrativeAction = packets.ErrAdministrativeAction

	// CONNACK refusals. MQTT 3.1.1 has its own return codes (§3.2.2.3);
	// mochi maps 0x86 to v3's 5, but a wrong password is 4 there.
	refuseBadCredentials = refusal{v3: packets.Code{Code: 0x04}, v5: packets.ErrBadUsernameOrPassword}
	refuseNotAuthorized  = refusal{v3: packets.Code{Code: 0x05}, v5: packets.ErrNotAuthorized}
	refuseBadClientID    = refusal{v3: packets.Code{Code: 0x02}, v5: packets.ErrClientIdentifierNotValid}

	errRefused = errors.New("connection refused")
)

type refusal struct{ v3, v5 packets.Code }

// session is one authenticated connection.
type session struct {
	id        string
	anonymous bool
	cl        *mqtt.Client
	rules     atomic.Pointer[acl.Compiled]
	since     time.Time
	remote    string
	listener  string
	proto     byte

	msgsIn, msgsOut, bytesIn, bytesOut atomic.Uint64
	lastSeen                           atomic.Int64 // unix nanoseconds
}

func (s *session) status() Status {
	return Status{
		ClientID:        s.id,
		Anonymous:       s.anonymous,
		Connected:       true,
		Since:           s.since,
		Remote:          s.remote,
		Listener:        s.listener,
		ProtocolVersion: s.proto,
		MessagesIn:      s.msgsIn.Load(),
		MessagesOut:     s.msgsOut.Load(),
		BytesIn:         s.bytesIn.Load(),
		BytesOut:        s.bytesOut.Load(),
		LastSeen:        time.Unix(0, s.lastSeen.Load()).UTC(),
	}
}

// hook is the broker's only mochi hook: authentication, ACL and status.
// Being the only hook that provides OnConnectAuthenticate and OnACLCheck
// matters: mochi ORs their results across hooks.
type hook struct {
	mqtt.HookBase
	b *Broker

	// conns maps each authenticated *mqtt.Client to its session; sessions
	// maps a client id to its newest live session.
	conns    sync.Map
	sessions sync.Map

	// congestedUntil (unix ns) is set when a subscriber's queue overflowed.
	congestedUntil atomic.Int64
	// inflightDropped is the last seen value of mochi's InflightDropped.
	inflightDropped atomic.Int64

	authFailures atomic.Int64
	// recordFailures counts messages the Recorder failed to store.
	recordFailures atomic.Int64
	throttled      atomic.Int64
	rates          rates
}

func (h *hook) ID() string { return "perch" }

func (h *hook) Provides(b byte) bool {
	return bytes.Contains([]byte{
		mqtt.OnConnect,
		mqtt.OnConnectAuthenticate,
		mqtt.OnACLCheck,
		mqtt.OnSessionEstablished,
		mqtt.OnDisconnect,
		mqtt.OnPacketRead,
		mqtt.OnPacketSent,
		mqtt.OnPublish,
		mqtt.OnPublishDropped,
	}, []byte{b})
}

// OnConnect authenticates. It runs before mochi's own authentication step so
// that it can refuse with the exact CONNACK code each protocol version
// expects; returning an error makes mochi close the connection.
func (h *hook) OnConnect(cl *mqtt.Client, pk packets.Packet) error {
	cfg := h.b.cfg
	id := pk.Connect.ClientIdentifier
	remote := cl.Net.Remote
	log := h.b.log.With("client", id, "remote", remote, "listener", cl.Net.Listener)

	if id == "" {
		log.Info("mqtt login refused: empty client id")
		return h.refuse(cl, refuseBadClientID)
	}

	anonymousOK := false
	switch cl.Net.Listener {
	case ListenerTLS:
		anonymousOK = cfg.MQTT.TLS.AllowAnonymous
	case ListenerTCP:
		anonymousOK = cfg.MQTT.TCP.AllowAnonymous
	case ListenerWebSocket:
		anonymousOK = cfg.MQTT.WebSocket.AllowAnonymous
	}
	if anonymousOK && !pk.Connect.UsernameFlag && !pk.Connect.PasswordFlag {
		// A registered device must always prove itself: an anonymous client
		// must not take over its session.
		if cfg.Auth.Exists(id) {
			log.Info("mqtt login refused: anonymous login with a registered device id")
			h.authFailures.Add(1)
			return h.refuse(cl, refuseBadCredentials)
		}
		h.pending(cl, id, acl.DefaultRules(), true)
		return nil
	}

	// Reserve charges the attempt before the (maybe slow) check, so a burst
	// of parallel guesses cannot all get past the budget; a success refunds.
	throttled := !cfg.Throttle.Reserve(remote)
	if throttled {
		h.throttled.Add(1)
	}
	fail := func(reason string, r refusal) error {
		h.authFailures.Add(1)
		if throttled {
			log.Debug("mqtt login refused", "reason", reason, "throttled", true)
		} else {
			log.Info("mqtt login refused", "reason", reason)
		}
		return h.refuse(cl, r)
	}
	if string(pk.Connect.Username) != cfg.Account {
		return fail("user name is not the account id", refuseBadCredentials)
	}
	ctx, cancel := context.WithTimeout(context.Background(), cfg.MQTT.ConnectTimeout)
	defer cancel()
	rules, err := cfg.Auth.Authenticate(ctx, id, string(pk.Connect.Password), throttled)
	switch {
	case err == nil:
	case errors.Is(err, ErrDisabled):
		// The password was right: not a guess.
		h.authFailures.Add(1)
		if !throttled {
			cfg.Throttle.Refund(remote)
		}
		log.Info("mqtt login refused: device disabled")
		return h.refuse(cl, refuseNotAuthorized)
	case errors.Is(err, ErrUnknown):
		return fail("unknown device", refuseBadCredentials)
	case errors.Is(err, ErrBadCredentials):
		return fail("wrong credentials", refuseBadCredentials)
	default:
		log.Warn("mqtt login failed", "err", err)
		return h.refuse(cl, refusal{v3: packets.Code{Code: 0x03}, v5: packets.ErrServerUnavailable})
	}
	if !throttled {
		cfg.Throttle.Refund(remote)
	}
	h.pending(cl, id, rules, false)
	return nil
}

func (h *hook) pending(cl *mqtt.Client, id string, rules acl.Rules, anonymous bool) {
	s := &session{
		id:        id,
		anonymous: anonymous,
		cl:        cl,
		since:     time.Now().UTC(),
		remote:    cl.Net.Remote,
		listener:  cl.Net.Listener,
		proto:     cl.Properties.ProtocolVersion,
	}
	s.lastSeen.Store(s.since.UnixNano())
	s.rules.Store(acl.Compile(rules, id, h.b.cfg.Account))
	h.conns.Store(cl, s)
}

func (h *hook) refuse(cl *mqtt.Client, r refusal) error {
	code := r.v5
	if cl.Properties.ProtocolVersion < 5 {
		code = r.v3
	}
	_ = h.b.server.SendConnack(cl, code, false, nil)
	return errRefused
}

// OnConnectAuthenticate admits exactly the clients OnConnect accepted.
func (h *hook) OnConnectAuthenticate(cl *mqtt.Client, _ packets.Packet) bool {
	_, ok := h.conns.Load(cl)
	return ok
}

// OnSessionEstablished publishes the session as the client id's live one
// (replacing a taken-over connection).
func (h *hook) OnSessionEstablished(cl *mqtt.Client, _ packets.Packet) {
	if v, ok := h.conns.Load(cl); ok {
		s := v.(*session)
		h.b.online(s)
		h.b.log.Debug("mqtt client connected", "client", s.id, "remote", s.remote, "listener", s.listener, "protocol", s.proto)
	}
}

// OnDisconnect forgets the connection. A newer connection with the same id
// stays listed: only this connection's entry is removed (compare mochi #483).
func (h *hook) OnDisconnect(cl *mqtt.Client, err error, _ bool) {
	v, ok := h.conns.LoadAndDelete(cl)
	if !ok {
		return
	}
	s := v.(*session)
	live := h.sessions.CompareAndDelete(s.id, s)
	h.b.log.Debug("mqtt client disconnected", "client", s.id, "remote", s.remote, "err", err)
	if !s.anonymous && h.b.cfg.OnDisconnect != nil {
		h.b.cfg.OnDisconnect(s.id, time.Now())
	}
	if live {
		h.b.offline(s, err)
	}
}

// OnACLCheck is on the delivery hot path (once per message per subscriber):
// a map load and a compiled-rule match, nothing else.
func (h *hook) OnACLCheck(cl *mqtt.Client, topic string, write bool) bool {
	v, ok := h.conns.Load(cl)
	if !ok {
		return false
	}
	rules := v.(*session).rules.Load()
	if write {
		return rules.CanPublish(topic)
	}
	// mochi asks the same question for a SUBSCRIBE filter and for each
	// delivered topic; a filter without wildcards is judged like a topic.
	// (A '$' first level may be "$share/..." in any case, as mochi accepts.)
	if strings.ContainsAny(topic, "+#") || (topic != "" && topic[0] == '$') {
		return rules.CanSubscribe(topic)
	}
	return rules.CanReceive(topic)
}

func (h *hook) OnPacketRead(cl *mqtt.Client, pk packets.Packet) (packets.Packet, error) {
	if v, ok := h.conns.Load(cl); ok {
		s := v.(*session)
		s.bytesIn.Add(uint64(packetSize(pk.FixedHeader.Remaining)))
		if pk.FixedHeader.Type == packets.Publish {
			s.msgsIn.Add(1)
		}
		s.lastSeen.Store(time.Now().UnixNano())
	}
	return pk, nil
}

// OnPacketSent counts from the packet's header: mochi passes b after
// draining it into the connection, so len(b) is always 0.
func (h *hook) OnPacketSent(cl *mqtt.Client, pk packets.Packet, _ []byte) {
	if v, ok := h.conns.Load(cl); ok {
		s := v.(*session)
		s.bytesOut.Add(uint64(packetSize(pk.FixedHeader.Remaining)))
		if pk.FixedHeader.Type == packets.Publish {
			s.msgsOut.Add(1)
		}
	}
}

// packetSize is the size on the wire of a packet with the given remaining
// length: one type byte, the variable-length length, the rest.
func packetSize(remaining int) int {
	n := 1 + remaining
	for {
		n++
		remaining >>= 7
		if remaining == 0 {
			return n
		}
	}
}

// rates keeps the broker's message rates over the last sampling window.
type rates struct {
	in, out atomic.Uint64 // math.Float64bits
}

const rateWindow = 5 * time.Second

func (r *rates) run(done <-chan struct{}, s *mqtt.Server) {
	t := time.NewTicker(rateWindow)
	defer t.Stop()
	lastIn, lastOut, last := atomic.LoadInt64(&s.Info.MessagesReceived), atomic.LoadInt64(&s.Info.MessagesSent), time.Now()
	for {
		select {
		case <-done:
			return
		case now := <-t.C:
			in, out := atomic.LoadInt64(&s.Info.MessagesReceived), atomic.LoadInt64(&s.Info.MessagesSent)
			secs := now.Sub(last).Seconds()
			r.in.Store(floatBits(float64(in-lastIn) / secs))
			r.out.Store(floatBits(float64(out-lastOut) / secs))
			lastIn, lastOut, last = in, out, now
		}
	}
}

func (r *rates) get() (in, out float64) {
	return floatFrom(r.in.Load()), floatFrom(r.out.Load())
}

// quietHandler demotes mochi's per-connection chatter (refused logins,
// scanners, clients that vanish) to debug, so a brute-force attempt or a
// flaky Wi-Fi cannot flood the log; the hook logs what matters itself.
type quietHandler struct{ slog.Handler }

func (q quietHandler) Handle(ctx context.Context, r slog.Record) error {
	if r.Level < slog.LevelError && r.Level > slog.LevelDebug {
		switch r.Message {
		case "", "error processing packet", "client disconnected", "failed publishing packet",
			// once per message dropped under overload; counted in Stats
			"client store quota reached", "packet ids exhausted":
			r.Level = slog.LevelDebug
		}
	}
	if !q.Handler.Enabled(ctx, r.Level) {
		return nil
	}
	return q.Handler.Handle(ctx, r)
}

// Enabled defers to the wrapped handler: records are only ever demoted, so
// one it would drop at its original level would be dropped after too.
func (q quietHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return q.Handler.Enabled(ctx, l)
}

func (q quietHandler) WithAttrs(a []slog.Attr) slog.Handler {
	return quietHandler{q.Handler.WithAttrs(a)}
}

func (q quietHandler) WithGroup(n string) slog.Handler { return quietHandler{q.Handler.WithGroup(n)} }

func floatBits(f float64) uint64 { return math.Float64bits(f) }
func floatFrom(u uint64) float64 { return math.Float64frombits(u) }

// congestionWindow is how long after a dropped message publishers are paced.
const congestionWindow = 20 * time.Millisecond

// OnPublishDropped notes that a subscriber's queue overflowed.
func (h *hook) OnPublishDropped(*mqtt.Client, packets.Packet) {
	h.congestedUntil.Store(time.Now().Add(congestionWindow).UnixNano())
}

// OnPublish paces publishers while subscribers' queues overflow. mochi reads
// every publisher as fast as it can and drops what a subscriber's queue
// cannot take; a single-threaded broker would instead read less while it is
// busy writing. Yielding here, on the publisher's own read goroutine, lets
// the subscribers' writers run, so overload slows the publishers rather
// than losing their messages. It costs one atomic load otherwise.
func (h *hook) OnPublish(cl *mqtt.Client, pk packets.Packet) (packets.Packet, error) {
	if h.b != nil && h.b.cfg.Recorder != nil && !cl.Net.Inline && h.b.cfg.Recorder.Matches(pk.TopicName) {
		err := h.b.cfg.Recorder.Ingest(cl.ID, pk.TopicName, pk.Payload, time.Now())
		if errors.Is(err, ErrRejected) {
			if cl.Properties.ProtocolVersion == 5 && pk.FixedHeader.Qos > 0 {
				if errors.Is(err, ErrBadPayload) {
					return pk, packets.ErrPayloadFormatInvalid
				}
				return pk, packets.ErrImplementationSpecificError
			}
			err = nil
		}
		if err != nil {
			h.b.log.Error("mqtt: a message could not be stored; not acknowledged", "client", cl.ID, "topic", pk.TopicName, "err", err)
			h.recordFailures.Add(1)
			// MQTT 5 says so in the PUBACK; 3.1.1 has no way to: no
			// PUBACK, and the client sends it again when it reconnects.
			if cl.Properties.ProtocolVersion == 5 && pk.FixedHeader.Qos > 0 {
				return pk, packets.ErrUnspecifiedError
			}
			return pk, packets.ErrRejectPacket
		}
	}
	return h.pace(pk)
}

func (h *hook) pace(pk packets.Packet) (packets.Packet, error) {
	// A subscriber's in-flight window overflowing (QoS 1 and 2) is counted
	// by mochi but has no hook: notice it from the counter.
	if h.b != nil {
		if d := atomic.LoadInt64(&h.b.server.Info.InflightDropped); d != h.inflightDropped.Load() {
			h.inflightDropped.Store(d)
			h.OnPublishDropped(nil, pk)
		}
	}
	until := h.congestedUntil.Load()
	if until == 0 {
		return pk, nil
	}
	if now := time.Now().UnixNano(); now < until {
		runtime.Gosched()
		// A drop within the last millisecond: yielding was not enough.
		if until-now > int64(congestionWindow-time.Millisecond) {
			time.Sleep(50 * time.Microsecond)
		}
	}
	return pk, nil
}
