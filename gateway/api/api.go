// Package api is the gateway's admin HTTP API (JSON under /api/v1, and
// /metrics), served over HTTPS and over a unix socket in the data dir for
// the local CLI. Every route requires authentication: a bearer API token, a
// console session cookie (with a CSRF header on changes), or a connection on
// the socket, which only the gateway's own user can open.
package api

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/perch-gw/perch/gateway/access"
	"github.com/perch-gw/perch/gateway/broker"
	"github.com/perch-gw/perch/gateway/registry"
	"github.com/perch-gw/perch/gateway/throttle"
)

// Registry is what the API needs of the device registry.
type Registry interface {
	List() []registry.Device
	Get(id string) (registry.Device, error)
	Create(registry.NewDevice) (registry.Device, string, error)
	Update(id string, p registry.Patch) (registry.Device, error)
	Delete(id string) error
	SetCredentials(id, creds string) (string, error)
}

// Broker is what the API needs of the broker.
type Broker interface {
	Status(clientID string) (broker.Status, bool)
	Statuses() []broker.Status
	Stats() broker.Stats
	Publish(topic string, payload []byte, qos byte, retain bool) error
	Watch(filter string, buffer int) (*broker.Watch, error)
	WatchPresence(fn func(broker.Presence)) (*broker.PresenceWatch, error)
}

var (
	_ Registry = (*registry.Registry)(nil)
	_ Broker   = (*broker.Broker)(nil)
)

// Info is static information the status route reports.
type Info struct {
	Account     string
	Hostname    string
	Fingerprint string
	CAPEM       []byte
	Listeners   map[string]string // name → address
}

// Config configures the API server.
type Config struct {
	// Address for HTTPS; "" disables the TCP listener.
	Address string
	TLS     *tls.Config
	// Socket is the unix socket path for the local CLI; "" disables it.
	Socket   string
	Registry Registry
	Broker   Broker
	// Console serves the web console's static files at / and /console/,
	// without authentication (the console logs in through the API); nil
	// serves none.
	Console http.Handler
	// Buckets serves /api/v1/buckets; nil answers 404 there.
	Buckets Buckets
	// Dashboards serves /api/v1/dashboards; nil answers 404 there.
	Dashboards Dashboards
	// Upstream is the link to the upstream broker; nil when there is none.
	Upstream Upstream
	Access   *access.Access
	Metrics  http.Handler
	Info     func() Info
	Logger   *slog.Logger
	// SessionTTL is the console cookie's lifetime.
	SessionTTL time.Duration
	// Throttle limits failed console logins per source address.
	Throttle *throttle.Limiter
}

// Server serves the API.
type Server struct {
	cfg     Config
	log     *slog.Logger
	started time.Time

	tcp, unix net.Listener
	https     *http.Server
	local     *http.Server

	closeOnce sync.Once
	// closing is closed when Close begins, ending the event streams
	// (which http.Server.Shutdown would otherwise wait for).
	closing chan struct{}
	wg      sync.WaitGroup
}

type ctxKey int

const (
	socketKey ctxKey = iota
	principalKey
)

// New binds the listeners.
func New(cfg Config) (*Server, error) {
	if cfg.Registry == nil || cfg.Broker == nil || cfg.Access == nil {
		return nil, errors.New("api: registry, broker and access are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Throttle == nil {
		cfg.Throttle = throttle.New(throttle.Config{})
	}
	if cfg.Info == nil {
		cfg.Info = func() Info { return Info{} }
	}
	if cfg.SessionTTL <= 0 {
		cfg.SessionTTL = 12 * time.Hour
	}
	s := &Server{cfg: cfg, log: cfg.Logger, started: time.Now(), closing: make(chan struct{})}
	h := s.routes()
	errLog := slog.NewLogLogger(cfg.Logger.Handler(), slog.LevelDebug)
	if cfg.Address != "" {
		if cfg.TLS == nil {
			return nil, errors.New("api: no TLS configuration")
		}
		ln, err := net.Listen("tcp", cfg.Address)
		if err != nil {
			return nil, fmt.Errorf("api: listen on %s: %w", cfg.Address, err)
		}
		s.tcp = tls.NewListener(ln, cfg.TLS)
		s.https = &http.Server{
			Handler:           h,
			ReadHeaderTimeout: 10 * time.Second,
			ReadTimeout:       60 * time.Second,
			IdleTimeout:       120 * time.Second,
			MaxHeaderBytes:    64 << 10,
			ErrorLog:          errLog,
		}
	}
	if cfg.Socket != "" {
		// The data dir is locked by the database, so a socket file left here
		// belongs to a gateway that is gone.
		_ = os.Remove(cfg.Socket)
		ln, err := net.Listen("unix", cfg.Socket)
		if err != nil {
			s.closeListeners()
			return nil, fmt.Errorf("api: listen on %s: %w", cfg.Socket, err)
		}
		if err := os.Chmod(cfg.Socket, 0o600); err != nil {
			ln.Close()
			s.closeListeners()
			return nil, fmt.Errorf("api: chmod %s: %w", cfg.Socket, err)
		}
		s.unix = ln
		s.local = &http.Server{
			Handler:           h,
			ReadHeaderTimeout: 10 * time.Second,
			ErrorLog:          errLog,
			ConnContext: func(ctx context.Context, _ net.Conn) context.Context {
				return context.WithValue(ctx, socketKey, true)
			},
		}
	}
	return s, nil
}

// Addr returns the HTTPS listener's address, or nil.
func (s *Server) Addr() net.Addr {
	if s.tcp == nil {
		return nil
	}
	return s.tcp.Addr()
}

// Run serves until ctx is done. It returns nil on shutdown.
func (s *Server) Run(ctx context.Context) error {
	errc := make(chan error, 2)
	serve := func(srv *http.Server, ln net.Listener) {
		defer s.wg.Done()
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			errc <- err
		}
	}
	if s.https != nil {
		s.wg.Add(1)
		go serve(s.https, s.tcp)
	}
	if s.local != nil {
		s.wg.Add(1)
		go serve(s.local, s.unix)
	}
	var err error
	select {
	case <-ctx.Done():
	case err = <-errc:
		err = fmt.Errorf("api: serve: %w", err)
	}
	s.Close()
	return err
}

// Close stops the servers, giving requests in flight a moment to finish.
// It is safe to call more than once.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		close(s.closing)
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		for _, srv := range []*http.Server{s.https, s.local} {
			if srv != nil {
				if err := srv.Shutdown(ctx); err != nil {
					srv.Close()
				}
			}
		}
		s.closeListeners()
		s.wg.Wait()
		if s.cfg.Socket != "" {
			_ = os.Remove(s.cfg.Socket)
		}
	})
	return nil
}

func (s *Server) closeListeners() {
	if s.tcp != nil {
		s.tcp.Close()
	}
	if s.unix != nil {
		s.unix.Close()
	}
}

// Error is the JSON body of every error response.
type Error struct {
	Status  int    `json:"status"`
	Code    string `json:"code"`
	Message string `json:"message"`
	Field   string `json:"field,omitempty"`
}

func (e *Error) Error() string { return e.Message }

func errorf(status int, code, field, format string, args ...any) *Error {
	return &Error{Status: status, Code: code, Field: field, Message: fmt.Sprintf(format, args...)}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

func writeError(w http.ResponseWriter, err error) {
	var e *Error
	if !errors.As(err, &e) {
		e = errorf(http.StatusInternalServerError, "internal", "", "internal error")
	}
	writeJSON(w, e.Status, map[string]*Error{"error": e})
}
