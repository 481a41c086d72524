package api

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime/debug"
	"strings"
	"time"

	"github.com/perch-gw/perch/gateway/access"
	"github.com/perch-gw/perch/gateway/acl"
	"github.com/perch-gw/perch/gateway/registry"
	"github.com/perch-gw/perch/gateway/version"
)

const (
	sessionCookie = "perch_session"
	csrfHeader    = "X-CSRF-Token"
	maxBody       = 64 << 10
)

// handler is an API handler that returns its error instead of writing it.
type handler func(w http.ResponseWriter, r *http.Request) error

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	route := func(pattern string, h handler) {
		mux.Handle(pattern, s.authenticated(h))
	}
	mux.Handle("POST /api/v1/login", s.safe(s.login))
	if s.cfg.Console != nil {
		// Static files only: every piece of data goes through the API.
		mux.Handle("GET /{$}", s.cfg.Console)
		mux.Handle("GET /console/", s.cfg.Console)
	}
	route("POST /api/v1/logout", s.logout)
	route("GET /api/v1/status", s.status)
	route("GET /api/v1/ca", s.ca)
	route("GET /api/v1/devices", s.listDevices)
	route("POST /api/v1/devices", s.createDevice)
	route("GET /api/v1/devices/{id}", s.getDevice)
	route("PATCH /api/v1/devices/{id}", s.updateDevice)
	route("DELETE /api/v1/devices/{id}", s.deleteDevice)
	route("POST /api/v1/devices/{id}/credentials", s.rotateCredentials)
	route("GET /api/v1/buckets", s.listBuckets)
	route("POST /api/v1/buckets", s.createBucket)
	route("GET /api/v1/buckets/{id}", s.getBucket)
	route("PATCH /api/v1/buckets/{id}", s.updateBucket)
	route("DELETE /api/v1/buckets/{id}", s.deleteBucket)
	route("GET /api/v1/buckets/{id}/data", s.readData)
	route("POST /api/v1/buckets/{id}/data", s.writeData)
	route("DELETE /api/v1/buckets/{id}/data", s.clearData)
	route("GET /api/v1/buckets/{id}/stream", s.streamData)
	route("GET /api/v1/dashboards", s.listDashboards)
	route("POST /api/v1/dashboards", s.createDashboard)
	route("GET /api/v1/dashboards/{id}", s.getDashboard)
	route("PUT /api/v1/dashboards/{id}", s.replaceDashboard)
	route("DELETE /api/v1/dashboards/{id}", s.deleteDashboard)
	route("POST /api/v1/mqtt/publish", s.publish)
	route("GET /api/v1/mqtt/stream", s.streamMQTT)
	route("GET /api/v1/events", s.streamEvents)
	route("GET /api/v1/upstream", s.upstreamStatus)
	route("GET /api/v1/tokens", s.listTokens)
	route("POST /api/v1/tokens", s.createToken)
	route("DELETE /api/v1/tokens/{id}", s.deleteToken)
	route("PUT /api/v1/admin/password", s.setAdminPassword)
	if s.cfg.Metrics != nil {
		metrics := s.cfg.Metrics
		route("GET /metrics", func(w http.ResponseWriter, r *http.Request) error {
			metrics.ServeHTTP(w, r)
			return nil
		})
	}
	// Anything else under the API is a JSON 404 (after authentication, so
	// that route names are not an oracle for anonymous callers).
	route("/", func(w http.ResponseWriter, r *http.Request) error {
		return errorf(http.StatusNotFound, "not_found", "", "no such route: %s %s", r.Method, r.URL.Path)
	})
	return mux
}

// safe turns returned errors and panics into JSON error responses.
func (s *Server) safe(h handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v) // a response cut short on purpose
				}
				s.log.Error("api: panic", "method", r.Method, "path", r.URL.Path, "panic", v, "stack", string(debug.Stack()))
				writeError(w, errorf(http.StatusInternalServerError, "internal", "", "internal error"))
			}
		}()
		w.Header().Set("X-Content-Type-Options", "nosniff")
		if err := h(w, r); err != nil {
			var e *Error
			if !errors.As(err, &e) {
				s.log.Error("api: request failed", "method", r.Method, "path", r.URL.Path, "err", err)
			}
			writeError(w, err)
		}
	})
}

// authenticated admits the local socket, a bearer token or a console
// session; read-only tokens may only read; sessions must echo their CSRF
// token on changes.
func (s *Server) authenticated(h handler) http.Handler {
	return s.safe(func(w http.ResponseWriter, r *http.Request) error {
		p, err := s.principal(r)
		if err != nil {
			return err
		}
		if p.ReadOnly && r.Method != http.MethodGet && r.Method != http.MethodHead {
			return errorf(http.StatusForbidden, "read_only", "", "token %q is read-only", p.Name)
		}
		return h(w, r)
	})
}

func (s *Server) principal(r *http.Request) (access.Principal, error) {
	if local, _ := r.Context().Value(socketKey).(bool); local {
		return access.Principal{Kind: "socket", Name: "local"}, nil
	}
	if auth := r.Header.Get("Authorization"); auth != "" {
		tok, ok := strings.CutPrefix(auth, "Bearer ")
		if !ok {
			return access.Principal{}, unauthorized("Authorization header must be \"Bearer <token>\"")
		}
		p, err := s.cfg.Access.CheckToken(r.Context(), strings.TrimSpace(tok))
		if err != nil {
			return access.Principal{}, unauthorized("invalid API token")
		}
		return p, nil
	}
	if c, err := r.Cookie(sessionCookie); err == nil {
		p, csrf, err := s.cfg.Access.Session(c.Value)
		if err != nil {
			return access.Principal{}, unauthorized("session expired: log in again")
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead &&
			subtle.ConstantTimeCompare([]byte(r.Header.Get(csrfHeader)), []byte(csrf)) != 1 {
			return access.Principal{}, errorf(http.StatusForbidden, "csrf", csrfHeader, "missing or wrong %s header", csrfHeader)
		}
		return p, nil
	}
	return access.Principal{}, unauthorized("authentication required: an API token (Authorization: Bearer ...) or a console session")
}

func unauthorized(msg string) *Error {
	return errorf(http.StatusUnauthorized, "unauthorized", "", "%s", msg)
}

// decode reads a JSON body strictly: unknown fields and trailing data are
// errors that name the field.
func decode(r *http.Request, v any) error { return decodeLimit(r, v, maxBody) }

// decodeLimit is decode for a body of up to limit bytes.
func decodeLimit(r *http.Request, v any, limit int64) error {
	if ct := r.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(ct, "application/json") {
		return errorf(http.StatusUnsupportedMediaType, "bad_content_type", "", "Content-Type must be application/json, not %q", ct)
	}
	dec := json.NewDecoder(http.MaxBytesReader(nil, r.Body, limit))
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	var (
		syn   *json.SyntaxError
		typ   *json.UnmarshalTypeError
		large *http.MaxBytesError
	)
	switch {
	case err == nil:
		if dec.More() {
			return errorf(http.StatusBadRequest, "bad_json", "", "request body has data after the JSON value")
		}
		return nil
	case errors.Is(err, io.EOF):
		return errorf(http.StatusBadRequest, "bad_json", "", "request body is empty; expected a JSON object")
	case errors.As(err, &syn):
		return errorf(http.StatusBadRequest, "bad_json", "", "malformed JSON at byte %d: %v", syn.Offset, err)
	case errors.As(err, &typ):
		return errorf(http.StatusBadRequest, "bad_type", typ.Field, "field %q must be %s, not %s", typ.Field, typ.Type, typ.Value)
	case errors.As(err, &large):
		return errorf(http.StatusRequestEntityTooLarge, "too_large", "", "request body larger than %d bytes", limit)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		f := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return errorf(http.StatusBadRequest, "unknown_field", f, "unknown field %q", f)
	default:
		return errorf(http.StatusBadRequest, "bad_json", "", "malformed JSON: %v", err)
	}
}

// registryError maps registry errors to API errors.
func registryError(err error) error {
	var fe *registry.FieldError
	switch {
	case errors.As(err, &fe):
		return errorf(http.StatusBadRequest, "invalid", fe.Field, "%s", fe.Error())
	case errors.Is(err, registry.ErrNotFound):
		return errorf(http.StatusNotFound, "not_found", "id", "%v", err)
	case errors.Is(err, registry.ErrExists):
		return errorf(http.StatusConflict, "exists", "id", "%v", err)
	}
	return err
}

// --- session ---

type loginRequest struct {
	Account  string `json:"account"`
	Password string `json:"password"`
}

func (s *Server) login(w http.ResponseWriter, r *http.Request) error {
	var req loginRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	ip := r.RemoteAddr
	if !s.cfg.Throttle.Reserve(ip) {
		w.Header().Set("Retry-After", "5")
		return errorf(http.StatusTooManyRequests, "throttled", "", "too many failed logins from %s; wait and try again", hostOnly(ip))
	}
	tok, csrf, expires, err := s.cfg.Access.Login(r.Context(), req.Account, req.Password)
	if errors.Is(err, access.ErrDenied) {
		s.log.Info("api: console login refused", "remote", r.RemoteAddr)
		return unauthorized("wrong account id or password")
	}
	if err != nil {
		return err
	}
	s.cfg.Throttle.Refund(ip)
	http.SetCookie(w, &http.Cookie{
		Name:     sessionCookie,
		Value:    tok,
		Path:     "/",
		Expires:  expires,
		HttpOnly: true,
		Secure:   true,
		SameSite: http.SameSiteStrictMode,
	})
	writeJSON(w, http.StatusOK, map[string]any{"csrf_token": csrf, "expires": expires.UTC()})
	return nil
}

func hostOnly(addr string) string {
	if h, _, err := net.SplitHostPort(addr); err == nil {
		return h
	}
	return addr
}

func (s *Server) logout(w http.ResponseWriter, r *http.Request) error {
	if c, err := r.Cookie(sessionCookie); err == nil {
		s.cfg.Access.Logout(c.Value)
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, Secure: true, SameSite: http.SameSiteStrictMode})
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// --- status ---

func (s *Server) status(w http.ResponseWriter, r *http.Request) error {
	info := s.cfg.Info()
	st := s.cfg.Broker.Stats()
	devices := s.cfg.Registry.List()
	connected := 0
	for _, d := range devices {
		if _, ok := s.cfg.Broker.Status(d.ID); ok {
			connected++
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"version":        version.String(),
		"account":        info.Account,
		"hostname":       info.Hostname,
		"started":        s.started.UTC(),
		"uptime_seconds": int64(time.Since(s.started).Seconds()),
		"ca_fingerprint": info.Fingerprint,
		"listeners":      info.Listeners,
		"devices":        map[string]int{"total": len(devices), "connected": connected},
		"mqtt":           st,
	})
	return nil
}

func (s *Server) ca(w http.ResponseWriter, r *http.Request) error {
	info := s.cfg.Info()
	if len(info.CAPEM) == 0 {
		return errorf(http.StatusNotFound, "not_found", "", "this gateway has no CA of its own")
	}
	if strings.Contains(r.Header.Get("Accept"), "application/json") {
		writeJSON(w, http.StatusOK, map[string]string{"pem": string(info.CAPEM), "fingerprint": info.Fingerprint})
		return nil
	}
	w.Header().Set("Content-Type", "application/x-pem-file")
	w.Header().Set("Content-Disposition", `attachment; filename="perch-ca.pem"`)
	_, err := w.Write(info.CAPEM)
	return err
}

// --- devices ---

// Device is a device as the API shows it.
type Device struct {
	ID          string       `json:"id"`
	Type        string       `json:"type"`
	Name        string       `json:"name"`
	Description string       `json:"description"`
	Enabled     bool         `json:"enabled"`
	ACL         acl.Rules    `json:"acl"`
	Created     time.Time    `json:"created"`
	Updated     time.Time    `json:"updated"`
	Status      DeviceStatus `json:"status"`
	// Credentials is set only in the answer that creates or rotates them.
	Credentials string `json:"credentials,omitempty"`
}

// DeviceStatus is a device's live connection status.
type DeviceStatus struct {
	Connected       bool       `json:"connected"`
	Since           *time.Time `json:"since,omitempty"`
	Remote          string     `json:"remote_addr,omitempty"`
	Listener        string     `json:"listener,omitempty"`
	ProtocolVersion byte       `json:"protocol_version,omitempty"`
	MessagesIn      uint64     `json:"messages_in"`
	MessagesOut     uint64     `json:"messages_out"`
	BytesIn         uint64     `json:"bytes_in"`
	BytesOut        uint64     `json:"bytes_out"`
	LastSeen        *time.Time `json:"last_seen"`
}

func (s *Server) view(d registry.Device) Device {
	v := Device{
		ID: d.ID, Type: d.Type, Name: d.Name, Description: d.Description, Enabled: d.Enabled,
		ACL: d.ACL, Created: d.Created, Updated: d.Updated,
	}
	if st, ok := s.cfg.Broker.Status(d.ID); ok && !st.Anonymous {
		since, seen := st.Since, st.LastSeen
		v.Status = DeviceStatus{
			Connected: true, Since: &since, Remote: st.Remote, Listener: st.Listener,
			ProtocolVersion: st.ProtocolVersion, MessagesIn: st.MessagesIn, MessagesOut: st.MessagesOut,
			BytesIn: st.BytesIn, BytesOut: st.BytesOut, LastSeen: &seen,
		}
	} else if !d.LastSeen.IsZero() {
		seen := d.LastSeen
		v.Status.LastSeen = &seen
	}
	return v
}

func (s *Server) listDevices(w http.ResponseWriter, r *http.Request) error {
	devices := s.cfg.Registry.List()
	out := make([]Device, 0, len(devices))
	for _, d := range devices {
		out = append(out, s.view(d))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) getDevice(w http.ResponseWriter, r *http.Request) error {
	d, err := s.cfg.Registry.Get(r.PathValue("id"))
	if err != nil {
		return registryError(err)
	}
	writeJSON(w, http.StatusOK, s.view(d))
	return nil
}

type createDeviceRequest struct {
	ID          string     `json:"id"`
	Name        string     `json:"name"`
	Description string     `json:"description"`
	Enabled     *bool      `json:"enabled"`
	Credentials string     `json:"credentials"`
	ACL         *acl.Rules `json:"acl"`
	Type        string     `json:"type"`
}

func (s *Server) createDevice(w http.ResponseWriter, r *http.Request) error {
	var req createDeviceRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	if req.Type != "" && req.Type != registry.TypeMQTT {
		return errorf(http.StatusBadRequest, "invalid", "type", "type %q is not supported; use %q", req.Type, registry.TypeMQTT)
	}
	d, creds, err := s.cfg.Registry.Create(registry.NewDevice{
		ID: req.ID, Name: req.Name, Description: req.Description, Enabled: req.Enabled,
		ACL: req.ACL, Credentials: req.Credentials,
	})
	if err != nil {
		return registryError(err)
	}
	v := s.view(d)
	v.Credentials = creds
	w.Header().Set("Location", "/api/v1/devices/"+d.ID)
	writeJSON(w, http.StatusCreated, v)
	return nil
}

type updateDeviceRequest struct {
	Name        *string    `json:"name"`
	Description *string    `json:"description"`
	Enabled     *bool      `json:"enabled"`
	ACL         *acl.Rules `json:"acl"`
}

func (s *Server) updateDevice(w http.ResponseWriter, r *http.Request) error {
	var req updateDeviceRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	d, err := s.cfg.Registry.Update(r.PathValue("id"), registry.Patch{
		Name: req.Name, Description: req.Description, Enabled: req.Enabled, ACL: req.ACL,
	})
	if err != nil {
		return registryError(err)
	}
	writeJSON(w, http.StatusOK, s.view(d))
	return nil
}

func (s *Server) deleteDevice(w http.ResponseWriter, r *http.Request) error {
	if err := s.cfg.Registry.Delete(r.PathValue("id")); err != nil {
		return registryError(err)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

type credentialsRequest struct {
	Credentials string `json:"credentials"`
}

func (s *Server) rotateCredentials(w http.ResponseWriter, r *http.Request) error {
	var req credentialsRequest
	if r.ContentLength != 0 {
		if err := decode(r, &req); err != nil {
			return err
		}
	}
	id := r.PathValue("id")
	creds, err := s.cfg.Registry.SetCredentials(id, req.Credentials)
	if err != nil {
		return registryError(err)
	}
	writeJSON(w, http.StatusOK, map[string]string{"id": id, "credentials": creds})
	return nil
}

// --- tokens ---

type tokenView struct {
	ID       string    `json:"id"`
	Name     string    `json:"name"`
	ReadOnly bool      `json:"read_only"`
	Created  time.Time `json:"created"`
	Token    string    `json:"token,omitempty"`
}

func (s *Server) listTokens(w http.ResponseWriter, r *http.Request) error {
	toks := s.cfg.Access.Tokens()
	out := make([]tokenView, 0, len(toks))
	for _, t := range toks {
		out = append(out, tokenView{ID: t.ID, Name: t.Name, ReadOnly: t.ReadOnly, Created: t.Created})
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

type createTokenRequest struct {
	Name     string `json:"name"`
	ReadOnly bool   `json:"read_only"`
}

func (s *Server) createToken(w http.ResponseWriter, r *http.Request) error {
	var req createTokenRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	t, plain, err := s.cfg.Access.CreateToken(req.Name, req.ReadOnly)
	if errors.Is(err, access.ErrInvalid) {
		return errorf(http.StatusBadRequest, "invalid", "name", "%v", err)
	}
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, tokenView{ID: t.ID, Name: t.Name, ReadOnly: t.ReadOnly, Created: t.Created, Token: plain})
	return nil
}

func (s *Server) deleteToken(w http.ResponseWriter, r *http.Request) error {
	err := s.cfg.Access.DeleteToken(r.PathValue("id"))
	if errors.Is(err, access.ErrNotFound) {
		return errorf(http.StatusNotFound, "not_found", "id", "%v", err)
	}
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

type passwordRequest struct {
	Password string `json:"password"`
}

func (s *Server) setAdminPassword(w http.ResponseWriter, r *http.Request) error {
	var req passwordRequest
	if r.ContentLength != 0 {
		if err := decode(r, &req); err != nil {
			return err
		}
	}
	pw, err := s.cfg.Access.SetAdminPassword(req.Password)
	if errors.Is(err, access.ErrInvalid) {
		return errorf(http.StatusBadRequest, "invalid", "password", "%v", err)
	}
	if err != nil {
		return fmt.Errorf("set admin password: %w", err)
	}
	writeJSON(w, http.StatusOK, map[string]string{"password": pw})
	return nil
}
