package api

import (
	"net/http"

	"github.com/perch-gw/perch/gateway/upstream"
)

// Upstream is the upstream link as the API reports it.
type Upstream interface {
	Status() upstream.Status
}

// upstreamStatus reports the link to the upstream broker:
// {"configured": false} when there is none.
func (s *Server) upstreamStatus(w http.ResponseWriter, r *http.Request) error {
	if s.cfg.Upstream == nil {
		writeJSON(w, http.StatusOK, map[string]bool{"configured": false})
		return nil
	}
	writeJSON(w, http.StatusOK, s.cfg.Upstream.Status())
	return nil
}
